// UDP source port for an encapsulated frame.
//
// RFC 7348 §5: "it is recommended that the UDP source port number be
// calculated using a hash of fields from the inner packet", so that underlay
// routers spreading load by 5-tuple (ECMP, RSS) keep one inner flow on one
// path while different flows spread out. Linux picks from its local port
// range, 32768–60999 by default; weft uses the same range so firewalls tuned
// for the kernel VTEP need no change.
//
// The hash covers the inner MACs, and for IPv4/IPv6 the addresses, the
// protocol and, for TCP/UDP/SCTP, the ports. It is stable for a flow (same
// input, same port, in every run) and allocates nothing.

export const SRC_PORT_MIN = 32768;
export const SRC_PORT_MAX = 60999;
const SPAN = SRC_PORT_MAX - SRC_PORT_MIN + 1;

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

/** Source port for the Ethernet frame at `off` (`len` bytes). */
export function flowSourcePort(b: Buffer, off: number, len: number): number {
  let h = 0x9747b28c;
  if (len < 14) return SRC_PORT_MIN;
  // MACs: bytes 0..11.
  h = mix(h, u32(b, off));
  h = mix(h, u32(b, off + 4));
  h = mix(h, u32(b, off + 8));
  let p = off + 12;
  let type = (b[p] << 8) | b[p + 1];
  // One 802.1Q / 802.1ad tag: the VLAN id is part of the flow.
  if ((type === 0x8100 || type === 0x88a8) && len >= 18) {
    h = mix(h, (b[p + 2] << 8) | b[p + 3]);
    p += 4;
    type = (b[p] << 8) | b[p + 1];
  }
  p += 2;
  const end = off + len;
  let proto = -1;
  let l4 = -1;
  if (type === 0x0800 && p + 20 <= end) {
    const ihl = (b[p] & 0x0f) * 4;
    proto = b[p + 9];
    h = mix(h, u32(b, p + 12));
    h = mix(h, u32(b, p + 16));
    // Only the first fragment carries ports.
    const fragOff = ((b[p + 6] & 0x1f) << 8) | b[p + 7];
    if (fragOff === 0 && ihl >= 20) l4 = p + ihl;
  } else if (type === 0x86dd && p + 40 <= end) {
    proto = b[p + 6];
    for (let i = 8; i < 40; i += 4) h = mix(h, u32(b, p + i));
    l4 = p + 40;
  }
  if (proto >= 0) {
    h = mix(h, proto);
    // TCP, UDP, SCTP, UDP-Lite: ports are the first four bytes.
    if ((proto === 6 || proto === 17 || proto === 132 || proto === 136) && l4 >= 0 && l4 + 4 <= end) {
      h = mix(h, u32(b, l4));
    }
  }
  return SRC_PORT_MIN + (finalMix(h) % SPAN);
}
