// The virtio-net header in front of every frame on a TAP opened with
// IFF_VNET_HDR (struct virtio_net_hdr, virtio spec §5.1.6; 10 bytes,
// little-endian on the hosts weft runs on).
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
import type { FrameBatch } from './batch.js';

export const VNET_HDR_LEN = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

/**
 * Writes the 10-byte virtio-net header into the 10 bytes in front of the
 * frame at `off`. Returns true when the frame was marked NEEDS_CSUM.
 */
export function writeVnetHeader(b: Buffer, off: number, len: number): boolean {
  const h = off - VNET_HDR_LEN;
  b.fill(0, h, off);
  const end = off + len;
  let l3 = off + 14;
  if (l3 > end) return false;
  let type = (b[off + 12] << 8) | b[off + 13];
  if (type === 0x8100 || type === 0x88a8) {
    if (l3 + 4 > end) return false;
    type = (b[off + 16] << 8) | b[off + 17];
    l3 += 4;
  }
  let l4: number, l4len: number, proto: number, pseudo: number;
  if (type === 0x0800) {
    if (l3 + 20 > end) return false;
    const ihl = (b[l3] & 0x0f) * 4;
    // Fragments carry no complete L4 header to fix.
    if ((b[l3 + 6] & 0x3f) !== 0 || b[l3 + 7] !== 0 || ihl < 20) return false;
    proto = b[l3 + 9];
    l4 = l3 + ihl;
    l4len = ((b[l3 + 2] << 8) | b[l3 + 3]) - ihl;
    if (l4len < 0 || l4 + l4len > end) return false;
    pseudo = pseudoSumV4(b, l3 + 12, l3 + 16, proto, l4len);
  } else if (type === 0x86dd) {
    if (l3 + 40 > end) return false;
    proto = b[l3 + 6];
    l4 = l3 + 40;
    l4len = (b[l3 + 4] << 8) | b[l3 + 5];
    if (l4 + l4len > end) return false;
    pseudo = pseudoSumV6(b, l3 + 8, l3 + 24, proto, l4len);
  } else {
    return false;
  }
  const csumOff = proto === 6 ? 16 : proto === 17 ? 6 : -1;
  if (csumOff < 0 || l4 + csumOff + 2 > l4 + l4len) return false;
  const field = (b[l4 + csumOff] << 8) | b[l4 + csumOff + 1];
  // UDP over IPv4 may carry no checksum at all (0): nothing to complete.
  if (field === 0 && proto === 17) return false;
  if (field !== fold(pseudo)) return false;
  b[h] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  b.writeUInt16LE(l4 - off, h + 6);
  b.writeUInt16LE(csumOff, h + 8);
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
