// The virtio-net header in front of every frame on a TAP opened with
// IFF_VNET_HDR (struct virtio_net_hdr, virtio spec §5.1.6; 10 bytes,
// little-endian on the hosts weft runs on). This file is the header's one
// home: its reader and writer below are the only code that knows where a
// field sits; the TAP's read side (tap-read.ts), its write side
// (tap-write.ts) and the tests go through them.
//
// Why weft uses it: a Linux peer behind an offloading device (veth, most
// NICs) sends inner TCP/UDP frames whose checksum was never completed — the
// field holds only the pseudo-header sum, left "partial" for hardware that
// never ran. Written to a TAP as they are, those frames fail the receiver's
// checksum check and TCP stalls (ping still works: ICMP is never offloaded).
// Marking such a frame VIRTIO_NET_HDR_F_NEEDS_CSUM, with where the checksum
// starts and sits, has the kernel complete it, exactly as it would for its
// own partial packets.
//
// Detecting "partial" is cheap: the field equals the folded pseudo-header
// sum. A complete checksum that happens to equal that value is harmless to
// mark: completing a sum whose field already holds P yields the same field.
//
//   0      1         2          4          6            8             10
//   +------+---------+----------+----------+------------+-------------+
//   |flags |gso_type | hdr_len  | gso_size | csum_start | csum_offset |
//   +------+---------+----------+----------+------------+-------------+

import { pseudoSumV4, pseudoSumV6, fold } from '../wire/checksum.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { TCP_OFF_CHECKSUM } from '../wire/tcp.js';
import { UDP_OFF_CHECKSUM } from '../wire/udp.js';
import { ETH_HEADER_LEN } from '../wire/ethernet.js';
import { layersAt, lyL3, lyL4, lyProto, LY_L4, LY_FRAGMENT, LY_IPV4 } from '../wire/layers.js';
import type { FrameBatch } from './batch.js';

export const VNET_HDR_LEN = 10;
/** flags: the checksum from csum_start to the end is left for the reader, stored at csum_start + csum_offset. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
// gso_type values; ECN is a bit or-ed into the others (the super-frame had CWR set).
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

// Field offsets: known only to the reader and writer below.
const FLAGS = 0, GSO_TYPE = 1, HDR_LEN = 2, GSO_SIZE = 4, CSUM_START = 6, CSUM_OFFSET = 8;

// The reader: the header at `h` (its first byte), fields as the spec names them.
export function vnetFlags(b: Buffer, h: number): number { return b[h + FLAGS]; }
export function vnetNeedsCsum(b: Buffer, h: number): boolean { return (b[h + FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0; }
/** gso_type without the ECN bit. */
export function vnetGsoType(b: Buffer, h: number): number { return b[h + GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN; }
export function vnetGsoEcn(b: Buffer, h: number): boolean { return (b[h + GSO_TYPE] & VIRTIO_NET_HDR_GSO_ECN) !== 0; }
export function vnetHdrLen(b: Buffer, h: number): number { return b[h + HDR_LEN] | (b[h + HDR_LEN + 1] << 8); }
export function vnetGsoSize(b: Buffer, h: number): number { return b[h + GSO_SIZE] | (b[h + GSO_SIZE + 1] << 8); }
export function vnetCsumStart(b: Buffer, h: number): number { return b[h + CSUM_START] | (b[h + CSUM_START + 1] << 8); }
export function vnetCsumOffset(b: Buffer, h: number): number { return b[h + CSUM_OFFSET] | (b[h + CSUM_OFFSET + 1] << 8); }

/**
 * The writer: all ten bytes of the header at `h`. `gsoType` may carry
 * VIRTIO_NET_HDR_GSO_ECN; unused fields are 0.
 */
export function writeVnet(b: Buffer, h: number, flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number): void {
  b[h + FLAGS] = flags;
  b[h + GSO_TYPE] = gsoType;
  b[h + HDR_LEN] = hdrLen; b[h + HDR_LEN + 1] = hdrLen >>> 8;
  b[h + GSO_SIZE] = gsoSize; b[h + GSO_SIZE + 1] = gsoSize >>> 8;
  b[h + CSUM_START] = csumStart; b[h + CSUM_START + 1] = csumStart >>> 8;
  b[h + CSUM_OFFSET] = csumOffset; b[h + CSUM_OFFSET + 1] = csumOffset >>> 8;
}

/** A plain frame's header: no GSO, nothing to complete. */
export function writeVnetPlain(b: Buffer, h: number): void { writeVnet(b, h, 0, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0); }

/**
 * Writes the 10-byte virtio-net header into the 10 bytes in front of the
 * frame at `off` (`l2` bytes of link header first: Ethernet, or 0 for a
 * TUN's bare IP). Returns true when the frame was marked NEEDS_CSUM.
 */
export function writeVnetHeader(b: Buffer, off: number, len: number, l2 = ETH_HEADER_LEN): boolean {
  const h = off - VNET_HDR_LEN;
  writeVnetPlain(b, h);
  const end = off + len;
  const w = layersAt(b, off, len, l2);
  // Fragments carry no complete L4 header to fix.
  if ((w & LY_L4) === 0 || (w & LY_FRAGMENT) !== 0) return false;
  const l3 = off + lyL3(w), l4 = off + lyL4(w), proto = lyProto(w);
  let l4len: number, pseudo: number;
  if ((w & LY_IPV4) !== 0) {
    l4len = ((b[l3 + 2] << 8) | b[l3 + 3]) - (l4 - l3);
    if (l4len < 0 || l4 + l4len > end) return false;
    pseudo = pseudoSumV4(b, l3 + 12, l3 + 16, proto, l4len);
  } else {
    l4len = (b[l3 + 4] << 8) | b[l3 + 5];
    if (l4 + l4len > end) return false;
    pseudo = pseudoSumV6(b, l3 + 8, l3 + 24, proto, l4len);
  }
  const csumOff = proto === IPPROTO_TCP ? TCP_OFF_CHECKSUM : proto === IPPROTO_UDP ? UDP_OFF_CHECKSUM : -1;
  if (csumOff < 0 || l4 + csumOff + 2 > l4 + l4len) return false;
  const field = (b[l4 + csumOff] << 8) | b[l4 + csumOff + 1];
  // UDP over IPv4 may carry no checksum at all (0): nothing to complete.
  if (field === 0 && proto === IPPROTO_UDP) return false;
  if (field !== fold(pseudo)) return false;
  writeVnet(b, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, l4 - off, csumOff);
  return true;
}

/** Writes the vnet headers for a whole batch of frames; returns how many were marked. */
export function writeVnetHeaders(frames: FrameBatch): number {
  let n = 0;
  for (let i = 0; i < frames.count; i++) {
    if (writeVnetHeader(frames.buf, frames.off[i], frames.len[i])) n++;
  }
  return n;
}
