// UDP header, RFC 768.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |            Length             |           Checksum            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate for the accessors, measured from `off`, and covers
// the 8 header bytes only.
//
// The checksum methods read the whole datagram, `length()` bytes from `off`,
// and the pseudo-header addresses at the absolute offsets they are given
// (normally `Ipv4View.srcOff()`/`dstOff()` or the IPv6 ones, in the same
// buffer). Call them only after `isValid(len)`, which adds RFC 768's
// 8 ≤ Length ≤ len, or they sum past the datagram.

import { HeaderView } from './view.js';
import { l4Checksum, pseudoSumV4, pseudoSumV6, udpChecksumField, verifies } from './checksum.js';
import { IPPROTO_UDP } from './ipv4.js';

/** RFC 768. */
export const UDP_HEADER_LEN = 8;
/** Where the Length and Checksum fields sit, for code that fixes them in place without a view (the TAP offloads). */
export const UDP_OFF_LENGTH = 4;
export const UDP_OFF_CHECKSUM = 6;

export interface UdpFields {
  srcPort: number;
  dstPort: number;
  /** Header plus data, in bytes (RFC 768). */
  length: number;
  checksum: number;
}

export class UdpView extends HeaderView {

  /** True when `len` bytes from `off` hold a whole header. */
  checkLen(len: number): boolean {
    return len >= UDP_HEADER_LEN && this.off + UDP_HEADER_LEN <= this.buf.length;
  }

  /** checkLen and RFC 768's Length: at least the header, and inside `len` and the buffer. */
  isValid(len: number): boolean {
    if (!this.checkLen(len)) return false;
    const l = this.length();
    return l >= UDP_HEADER_LEN && l <= len && this.off + l <= this.buf.length;
  }

  srcPort(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  setSrcPort(v: number): void { this.buf[this.off] = v >>> 8; this.buf[this.off + 1] = v; }

  dstPort(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  setDstPort(v: number): void { this.buf[this.off + 2] = v >>> 8; this.buf[this.off + 3] = v; }

  length(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  setLength(v: number): void { this.buf[this.off + 4] = v >>> 8; this.buf[this.off + 5] = v; }

  checksum(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  setChecksum(v: number): void { this.buf[this.off + 6] = v >>> 8; this.buf[this.off + 7] = v; }

  /** Absolute offset of the data in `buf`. */
  payloadOffset(): number { return this.off + UDP_HEADER_LEN; }
  /** Length minus the header; meaningful after `isValid(len)`. */
  payloadLength(): number { return this.length() - UDP_HEADER_LEN; }

  /**
   * The checksum field value over the IPv4 pseudo-header (RFC 768), with a
   * computed zero sent as 0xffff, since zero means "no checksum".
   */
  computeChecksumV4(pseudoSrcOff: number, pseudoDstOff: number): number {
    const len = this.length();
    const pseudo = pseudoSumV4(this.buf, pseudoSrcOff, pseudoDstOff, IPPROTO_UDP, len);
    return udpChecksumField(l4Checksum(this.buf, this.off, len, this.off + 6, pseudo));
  }
  fillChecksumV4(pseudoSrcOff: number, pseudoDstOff: number): void {
    this.setChecksum(this.computeChecksumV4(pseudoSrcOff, pseudoDstOff));
  }

  /** The same over the IPv6 pseudo-header (RFC 8200 §8.1), where zero is never sent either. */
  computeChecksumV6(pseudoSrcOff: number, pseudoDstOff: number): number {
    const len = this.length();
    const pseudo = pseudoSumV6(this.buf, pseudoSrcOff, pseudoDstOff, IPPROTO_UDP, len);
    return udpChecksumField(l4Checksum(this.buf, this.off, len, this.off + 6, pseudo));
  }
  fillChecksumV6(pseudoSrcOff: number, pseudoDstOff: number): void {
    this.setChecksum(this.computeChecksumV6(pseudoSrcOff, pseudoDstOff));
  }

  /** RFC 768: a zero field means the sender computed none, which IPv4 allows. */
  checksumOkV4(pseudoSrcOff: number, pseudoDstOff: number): boolean {
    if (this.checksum() === 0) return true;
    const len = this.length();
    return verifies(this.buf, this.off, len, pseudoSumV4(this.buf, pseudoSrcOff, pseudoDstOff, IPPROTO_UDP, len));
  }

  /**
   * RFC 8200 §8.1: over IPv6 a zero field is invalid. Tunnels that accept
   * RFC 6935 zero-checksum datagrams test `checksum() === 0` themselves first.
   */
  checksumOkV6(pseudoSrcOff: number, pseudoDstOff: number): boolean {
    if (this.checksum() === 0) return false;
    const len = this.length();
    return verifies(this.buf, this.off, len, pseudoSumV6(this.buf, pseudoSrcOff, pseudoDstOff, IPPROTO_UDP, len));
  }

  read(): UdpFields {
    return { srcPort: this.srcPort(), dstPort: this.dstPort(), length: this.length(), checksum: this.checksum() };
  }

  /** Writes the 8 header bytes, `checksum` as given; `fillChecksumV4/V6` after the data is in place. */
  write(f: UdpFields): void {
    this.setSrcPort(f.srcPort);
    this.setDstPort(f.dstPort);
    this.setLength(f.length);
    this.setChecksum(f.checksum);
  }
}
