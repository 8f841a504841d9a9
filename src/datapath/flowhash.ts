// UDP source port for an encapsulated frame.
//
// RFC 7348 §5: "it is recommended that the UDP source port number be
// calculated using a hash of fields from the inner packet", so that underlay
// routers spreading load by 5-tuple (ECMP, RSS) keep one inner flow on one
// path while different flows spread out. Linux picks from its local port
// range, 32768–60999 by default; weft uses a range given (--src-port-range,
// by default the namespace's local port range, as Linux does) so firewalls
// tuned for the kernel VTEP need no change.
//
// The hash covers the inner MACs, and for IPv4/IPv6 the addresses, the
// protocol and, for TCP/UDP/SCTP, the ports. It is stable for a flow (same
// input, same port, in every run) and allocates nothing.

import * as eth from '../wire/ethernet.js';
import * as ipv4 from '../wire/ipv4.js';
import * as ipv6 from '../wire/ipv6.js';
import * as layers from '../wire/layers.js';
import { SRC_PORT_MIN, SRC_PORT_MAX } from '../io/batch.js';

// Module-local copies of what the hash uses per packet: V8 loads an
// imported binding, with a check, at every use, and folds a local const.
const { ETH_HEADER_LEN } = eth;
const { IPPROTO_TCP, IPPROTO_UDP } = ipv4;
const { IPV6_HEADER_LEN } = ipv6;
const { layersOf, lyL3, lyL4, lyProto, LY_TAGGED, LY_IPV4, LY_IPV6, LY_L4, LY_LATER_FRAGMENT } = layers;
export { SRC_PORT_MIN, SRC_PORT_MAX };

/** RFC 4960 and RFC 3828: protocols whose first four bytes are ports, as TCP's and UDP's. */
const IPPROTO_SCTP = 132;
const IPPROTO_UDPLITE = 136;

function mix(h: number, v: number): number {
  // One round of murmur3's 32-bit mixing: cheap and spreads every input bit.
  v = Math.imul(v, 0xcc9e2d51);
  v = (v << 15) | (v >>> 17);
  v = Math.imul(v, 0x1b873593);
  h ^= v;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function u32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Source port in [min, max] for the Ethernet frame at `off` (`len` bytes). */
export function flowSourcePort(b: Buffer, off: number, len: number, min = SRC_PORT_MIN, max = SRC_PORT_MAX): number {
  let h = 0x9747b28c;
  const span = max - min + 1;
  if (len < ETH_HEADER_LEN) return min;
  // MACs: bytes 0..11.
  h = mix(h, u32(b, off));
  h = mix(h, u32(b, off + 4));
  h = mix(h, u32(b, off + 8));
  const w = layersOf(b, off, len);
  // One 802.1Q / 802.1ad tag: the VLAN id is part of the flow.
  if ((w & LY_TAGGED) !== 0) h = mix(h, (b[off + ETH_HEADER_LEN] << 8) | b[off + ETH_HEADER_LEN + 1]);
  if ((w & (LY_IPV4 | LY_IPV6)) === 0) return min + (finalMix(h) % span);
  const l3 = off + lyL3(w), proto = lyProto(w);
  if ((w & LY_IPV4) !== 0) {
    h = mix(h, u32(b, l3 + 12));
    h = mix(h, u32(b, l3 + 16));
  } else {
    for (let i = 8; i < IPV6_HEADER_LEN; i += 4) h = mix(h, u32(b, l3 + i));
  }
  h = mix(h, proto);
  // TCP, UDP, SCTP, UDP-Lite: ports are the first four bytes, in the first fragment only.
  const l4 = off + lyL4(w);
  if ((w & (LY_L4 | LY_LATER_FRAGMENT)) === LY_L4 && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP || proto === IPPROTO_UDPLITE) && l4 + 4 <= off + len) {
    h = mix(h, u32(b, l4));
  }
  return min + (finalMix(h) % span);
}
