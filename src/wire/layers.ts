// Where L3 and L4 start in an Ethernet frame: the one header walk the TAP
// offloads (segmentation, coalescing, the virtio-net header's checksum
// marking) and the flow hash share, so each does not walk Ethernet → IP →
// L4 its own way.
//
// Contract: `layersOf(b, off, len, out)` never allocates and never throws.
// It reads at most one 802.1Q / 802.1ad tag (a QinQ frame's inner tag shows
// as an unknown EtherType, ETHERTYPE_VLAN), then an IPv4 header (IHL words)
// or an IPv6 fixed header (no extension headers walked), and writes what it
// found into the caller's preallocated `out` (newLayers()), indexed by the
// L_* constants. It returns the L4 offset, or -1 when there is none.
//
// What it guarantees: L3's fixed header (20 or 40 bytes) lies inside `len`
// whenever out[L_L3] >= 0. It does not check the IP version, lengths or
// checksums, nor that L4 lies inside the frame: callers check what they go
// on to read (a TCP header, a UDP length), and refuse what they must
// (tagged frames, IPv4 options, fragments: out[L_TAG], out[L_FRAG]).

import { ETH_HEADER_LEN, ETH_VLAN_TAG_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_QINQ } from './ethernet.js';
import { IPV4_HEADER_LEN } from './ipv4.js';
import { IPV6_HEADER_LEN } from './ipv6.js';

/** The EtherType of the payload: after the tag when there is one. */
export const L_ETHERTYPE = 0;
/** Offset of the tag's control information (PCP, DEI, VID), or -1 when untagged. */
export const L_TAG = 1;
/** Offset of the IP header, or -1 (not IP, or its fixed header does not fit). */
export const L_L3 = 2;
/** Offset of the L4 header (IPv4: after IHL bytes; IPv6: after the fixed header), or -1. */
export const L_L4 = 3;
/** IPv4 protocol or IPv6 next header, or -1. */
export const L_PROTO = 4;
/** IPv4's MF flag and fragment offset bits (RFC 791 §3.1) as they sit in the header: 0 for a whole datagram, and always 0 for IPv6. */
export const L_FRAG = 5;
const L_SIZE = 6;
/** The fragment offset bits of out[L_FRAG]: non-zero for any fragment but the first. */
export const L_FRAG_OFFSET_MASK = 0x1fff;

export function newLayers(): Int32Array { return new Int32Array(L_SIZE); }

/** Scratch for callers that use the result before anything else walks a frame (single-threaded). */
export const layers = newLayers();

/** Walks the frame at b[off], `len` bytes; see the file's contract. */
export function layersOf(b: Buffer, off: number, len: number, out: Int32Array): number {
  out[L_TAG] = -1; out[L_L3] = -1; out[L_L4] = -1; out[L_PROTO] = -1; out[L_FRAG] = 0;
  if (len < ETH_HEADER_LEN) { out[L_ETHERTYPE] = -1; return -1; }
  const end = off + len;
  let l3 = off + ETH_HEADER_LEN;
  let type = (b[l3 - 2] << 8) | b[l3 - 1];
  if ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && l3 + ETH_VLAN_TAG_LEN <= end) {
    out[L_TAG] = l3;
    l3 += ETH_VLAN_TAG_LEN;
    type = (b[l3 - 2] << 8) | b[l3 - 1];
  }
  out[L_ETHERTYPE] = type;
  let l4: number;
  if (type === ETHERTYPE_IPV4) {
    if (l3 + IPV4_HEADER_LEN > end) return -1;
    out[L_PROTO] = b[l3 + 9];
    out[L_FRAG] = ((b[l3 + 6] & 0x3f) << 8) | b[l3 + 7];
    out[L_L3] = l3;
    const ihl = (b[l3] & 0x0f) << 2;
    if (ihl < IPV4_HEADER_LEN) return -1;
    l4 = l3 + ihl;
  } else if (type === ETHERTYPE_IPV6) {
    if (l3 + IPV6_HEADER_LEN > end) return -1;
    out[L_PROTO] = b[l3 + 6];
    out[L_L3] = l3;
    l4 = l3 + IPV6_HEADER_LEN;
  } else {
    return -1;
  }
  out[L_L4] = l4;
  return l4;
}
