// Where L3 and L4 start in an Ethernet frame: the one header walk the TAP
// offloads (segmentation, coalescing, the virtio-net header's checksum
// marking) and the flow hash share, so each does not walk Ethernet → IP →
// L4 its own way. The same walk over a bare IP packet (layersOfIp: a TUN's,
// for the udp backend's offloads) starts at L3 and gives the same word.
//
// Contract: `layersOf(b, off, len)` never allocates and never throws. It
// reads at most one 802.1Q / 802.1ad tag (a QinQ frame's inner tag leaves
// the frame "not IP"), then an IPv4 header (IHL words) or an IPv6 fixed
// header (no extension headers walked), and returns what it found packed in
// one small integer (an unboxed number: nothing to allocate, nothing to
// store): the LY_* bits, the protocol (lyProto) and the L3 and L4 offsets
// from `off` (lyL3, lyL4). A packed word rather than an out-array because
// the flow hash runs per packet and the stores and loads of an array cost
// it a fifth of its time.
//
// What it guarantees: with LY_IPV4 or LY_IPV6 set, L3's fixed header (20 or
// 40 bytes) lies inside `len`. It does not check the IP version, lengths or
// checksums, nor that L4 lies inside the frame: callers check what they go
// on to read (a TCP header, a UDP length), and refuse what they must
// (tagged frames, IPv4 options, fragments).

import * as eth from './ethernet.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';

// Module-local copies of the constants the walk uses per packet: V8 loads
// an imported binding, with a check, at every use, and folds a local const.
const { ETH_HEADER_LEN, ETH_VLAN_TAG_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_QINQ } = eth;
const { IPV4_HEADER_LEN } = ipv4;
const { IPV6_HEADER_LEN } = ipv6;

/** One 802.1Q / 802.1ad tag: its control information (PCP, DEI, VID) at ETH_HEADER_LEN, L3 after it. */
export const LY_TAGGED = 0x01;
/** IPv4, its 20 fixed bytes inside the frame. */
export const LY_IPV4 = 0x02;
/** IPv6, its 40 fixed bytes inside the frame. */
export const LY_IPV6 = 0x04;
/** L4 has an offset (lyL4): IPv6, or IPv4 with an IHL of at least 5 words. */
export const LY_L4 = 0x08;
/** IPv4 MF or a fragment offset (RFC 791 §3.1): a fragment, first or later. */
export const LY_FRAGMENT = 0x10;
/** A non-zero fragment offset: a later fragment, with no L4 header in it. */
export const LY_LATER_FRAGMENT = 0x20;
// Above the flags: the protocol, L4's offset (at most 18 + 60), L3's (14 or 18); the word stays a small integer (< 2^30).
const PROTO_SHIFT = 8, L4_SHIFT = 16, L3_SHIFT = 23;

/** The IPv4 protocol or IPv6 next header; meaningful with LY_IPV4 or LY_IPV6. */
export function lyProto(w: number): number { return (w >>> PROTO_SHIFT) & 0xff; }
/** L3's offset from the frame's start. */
export function lyL3(w: number): number { return (w >>> L3_SHIFT) & 0x1f; }
/** L4's offset from the frame's start; meaningful with LY_L4. */
export function lyL4(w: number): number { return (w >>> L4_SHIFT) & 0x7f; }

/** Walks the frame at b[off], `len` bytes; see the file's contract. */
export function layersOf(b: Buffer, off: number, len: number): number {
  if (len < ETH_HEADER_LEN) return 0;
  let l3 = ETH_HEADER_LEN, w = 0;
  let type = (b[off + 12] << 8) | b[off + 13];
  if ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && l3 + ETH_VLAN_TAG_LEN <= len) {
    w = LY_TAGGED;
    l3 += ETH_VLAN_TAG_LEN;
    type = (b[off + l3 - 2] << 8) | b[off + l3 - 1];
  }
  return ipLayers(b, off, len, l3, type, w);
}

/**
 * As layersOf for a bare IP packet at b[off] — a TUN's (IFF_TUN, no
 * Ethernet header): the version nibble says which IP, L3 is at offset 0,
 * and there is no tag.
 */
export function layersOfIp(b: Buffer, off: number, len: number): number {
  if (len < 1) return 0;
  const version = b[off] >>> 4;
  return ipLayers(b, off, len, 0, version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0, 0);
}

/**
 * layersOf behind a link header of `l2` bytes: ETH_HEADER_LEN for a TAP's
 * frames, 0 for a TUN's packets (layersOfIp). The offloads take the
 * header's length as an argument so that one walk serves both devices.
 */
export function layersAt(b: Buffer, off: number, len: number, l2: number): number {
  return l2 === 0 ? layersOfIp(b, off, len) : layersOf(b, off, len);
}

/** The IP part of the walk: the header of EtherType `type` at `l3` from `off`, or-ed into `w`. */
function ipLayers(b: Buffer, off: number, len: number, l3: number, type: number, w: number): number {
  const p = off + l3;
  if (type === ETHERTYPE_IPV4) {
    if (l3 + IPV4_HEADER_LEN > len) return w;
    w |= LY_IPV4 | (b[p + 9] << PROTO_SHIFT) | (l3 << L3_SHIFT);
    // MF and the fragment offset: 0 for a whole datagram.
    const frag = ((b[p + 6] & 0x3f) << 8) | b[p + 7];
    if (frag !== 0) w |= (frag & 0x1fff) !== 0 ? LY_FRAGMENT | LY_LATER_FRAGMENT : LY_FRAGMENT;
    const ihl = (b[p] & 0x0f) << 2;
    if (ihl >= IPV4_HEADER_LEN) w |= LY_L4 | ((l3 + ihl) << L4_SHIFT);
    return w;
  }
  if (type === ETHERTYPE_IPV6 && l3 + IPV6_HEADER_LEN <= len) {
    return w | LY_IPV6 | LY_L4 | (b[p + 6] << PROTO_SHIFT) | ((l3 + IPV6_HEADER_LEN) << L4_SHIFT) | (l3 << L3_SHIFT);
  }
  return w;
}
