// IPv4 header, RFC 791 §3.1.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Identification        |Flags|      Fragment Offset    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Time to Live |    Protocol   |         Header Checksum       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       Source Address                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination Address                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Options                    |    Padding    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// RFC 791's Type of Service octet is read as DSCP (RFC 2474 §3) and ECN
// (RFC 3168 §5).
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`. It checks the 20 fixed bytes
// *and* the IHL (at least 20, and all of it inside `len` and the buffer), so
// after it returns true every accessor, the options and the header checksum
// stay inside the buffer.
//
// `checkLen` says nothing about Total Length, because accessors never need
// it and an Ethernet frame may carry padding after the datagram. Code that
// goes on to read the payload calls `isValid(len)` (checkLen, version 4, and
// IHL ≤ Total Length ≤ len, the RFC 1812 §5.2.2 checks) and then reads only
// up to `off + totalLength()`. The header checksum is a separate question,
// `checksumOk()`, so callers that trust the kernel can skip it.

import { HeaderView } from './view.js';
import { fold, ipv4HeaderChecksum, sum16 } from './checksum.js';
import { isIPv4 } from 'node:net';

/** Header length without options (RFC 791 §3.1: IHL minimum is 5 words). */
export const IPV4_HEADER_LEN = 20;
/** Largest header: IHL is 4 bits of 32-bit words. */
export const IPV4_HEADER_MAX_LEN = 60;
/** Flags field bits (RFC 791 §3.1): bit 0 reserved, then DF, then MF. */
export const IPV4_FLAG_RESERVED = 0b100;
export const IPV4_FLAG_DF = 0b010;
export const IPV4_FLAG_MF = 0b001;
/** RFC 792. */
export const IPPROTO_ICMP = 1;
/** RFC 9293. */
export const IPPROTO_TCP = 6;
/** RFC 768. */
export const IPPROTO_UDP = 17;
/** RFC 4443. */
export const IPPROTO_ICMPV6 = 58;

export interface Ipv4Fields {
  version: number;
  /** Header length in bytes (the IHL field times 4). Options are not part of the fields. */
  ihl: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  id: number;
  /** The 3 flag bits: IPV4_FLAG_DF | IPV4_FLAG_MF | IPV4_FLAG_RESERVED. */
  flags: number;
  /** In bytes (the field times 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
}

export class Ipv4View extends HeaderView {

  /** True when `len` bytes from `off` hold the fixed header and all IHL bytes (RFC 791 §3.1). */
  checkLen(len: number): boolean {
    if (len < IPV4_HEADER_LEN || this.off + IPV4_HEADER_LEN > this.buf.length) return false;
    const ihl = this.ihl();
    return ihl >= IPV4_HEADER_LEN && ihl <= len && this.off + ihl <= this.buf.length;
  }

  /** checkLen, version 4, and IHL ≤ Total Length ≤ len (RFC 1812 §5.2.2); not the checksum. */
  isValid(len: number): boolean {
    if (!this.checkLen(len) || this.version() !== 4) return false;
    const total = this.totalLength();
    return total >= this.ihl() && total <= len;
  }

  version(): number { return this.buf[this.off] >>> 4; }
  setVersion(v: number): void { this.buf[this.off] = ((v & 0xf) << 4) | (this.buf[this.off] & 0x0f); }

  /** Header length in bytes. */
  ihl(): number { return (this.buf[this.off] & 0x0f) << 2; }
  /** Takes bytes; stores `bytes / 4`. */
  setIhl(bytes: number): void { this.buf[this.off] = (this.buf[this.off] & 0xf0) | ((bytes >>> 2) & 0x0f); }

  dscp(): number { return this.buf[this.off + 1] >>> 2; }
  setDscp(v: number): void { this.buf[this.off + 1] = ((v & 0x3f) << 2) | (this.buf[this.off + 1] & 3); }

  ecn(): number { return this.buf[this.off + 1] & 3; }
  setEcn(v: number): void { this.buf[this.off + 1] = (this.buf[this.off + 1] & 0xfc) | (v & 3); }

  totalLength(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  setTotalLength(v: number): void { this.buf[this.off + 2] = v >>> 8; this.buf[this.off + 3] = v; }

  id(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  setId(v: number): void { this.buf[this.off + 4] = v >>> 8; this.buf[this.off + 5] = v; }

  flags(): number { return this.buf[this.off + 6] >>> 5; }
  setFlags(v: number): void { this.buf[this.off + 6] = ((v & 7) << 5) | (this.buf[this.off + 6] & 0x1f); }

  dontFragment(): boolean { return (this.flags() & IPV4_FLAG_DF) !== 0; }
  moreFragments(): boolean { return (this.flags() & IPV4_FLAG_MF) !== 0; }

  /** In bytes; the field counts 8-byte units (RFC 791 §3.1). */
  fragmentOffset(): number {
    return (((this.buf[this.off + 6] & 0x1f) << 8) | this.buf[this.off + 7]) << 3;
  }
  /** Takes bytes (a multiple of 8); stores `bytes / 8`. */
  setFragmentOffset(bytes: number): void {
    const units = bytes >>> 3;
    this.buf[this.off + 6] = (this.buf[this.off + 6] & 0xe0) | ((units >>> 8) & 0x1f);
    this.buf[this.off + 7] = units;
  }

  /** Any fragment, first or later: only the first carries the L4 header, none carries all of it. */
  isFragment(): boolean { return this.moreFragments() || this.fragmentOffset() !== 0; }

  ttl(): number { return this.buf[this.off + 8]; }
  setTtl(v: number): void { this.buf[this.off + 8] = v; }

  /**
   * TTL − 1, as a router forwards (RFC 1812 §5.3.1), with the header
   * checksum patched rather than recomputed: RFC 1624 eqn. 3, HC' = ~(~HC +
   * ~m + m'), m the 16-bit word holding TTL and protocol. A checksum that
   * was right stays right and one that was wrong stays wrong, so the
   * receiver still drops a damaged header. Returns the new TTL; at 0 the
   * header is left as it was (the packet is not forwarded).
   */
  decrementTtl(): number {
    const b = this.buf, o = this.off;
    const ttl = b[o + 8];
    if (ttl <= 1) return 0;
    const m = (ttl << 8) | b[o + 9];
    b[o + 8] = ttl - 1;
    let sum = (~this.checksum() & 0xffff) + (~m & 0xffff) + (m - 0x100);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    this.setChecksum(~sum & 0xffff);
    return ttl - 1;
  }

  protocol(): number { return this.buf[this.off + 9]; }
  setProtocol(v: number): void { this.buf[this.off + 9] = v; }

  checksum(): number { return (this.buf[this.off + 10] << 8) | this.buf[this.off + 11]; }
  setChecksum(v: number): void { this.buf[this.off + 10] = v >>> 8; this.buf[this.off + 11] = v; }

  /** Absolute offsets of the addresses, for pseudo-header sums (checksum.ts). */
  srcOff(): number { return this.off + 12; }
  dstOff(): number { return this.off + 16; }

  src(): number { return ipv4At(this.buf, this.off + 12); }
  setSrc(v: number): void { writeIpv4(this.buf, this.off + 12, v); }

  dst(): number { return ipv4At(this.buf, this.off + 16); }
  setDst(v: number): void { writeIpv4(this.buf, this.off + 16, v); }

  /** Absolute offset of the payload in `buf` (after any options). */
  payloadOffset(): number { return this.off + this.ihl(); }

  /** Total Length minus IHL; meaningful after `isValid(len)`. */
  payloadLength(): number { return this.totalLength() - this.ihl(); }

  /** RFC 791 §3.1 header checksum over IHL bytes, ignoring the stored field. */
  computeChecksum(): number { return ipv4HeaderChecksum(this.buf, this.off, this.ihl()); }
  fillChecksum(): void { this.setChecksum(this.computeChecksum()); }

  /** RFC 1071 §1 check: the sum over the header, field included, is all ones. */
  checksumOk(): boolean { return fold(sum16(this.buf, this.off, this.ihl())) === 0xffff; }

  read(): Ipv4Fields {
    return {
      version: this.version(),
      ihl: this.ihl(),
      dscp: this.dscp(),
      ecn: this.ecn(),
      totalLength: this.totalLength(),
      id: this.id(),
      flags: this.flags(),
      fragmentOffset: this.fragmentOffset(),
      ttl: this.ttl(),
      protocol: this.protocol(),
      checksum: this.checksum(),
      src: numberToIpv4(this.src()),
      dst: numberToIpv4(this.dst()),
    };
  }

  /**
   * Writes the 20 fixed bytes, `checksum` as given, so a parsed header comes
   * back byte for byte; call `fillChecksum()` after to compute it. Option
   * bytes (when `ihl` > 20) are left as they are. Throws on a bad address
   * string, before writing anything.
   */
  write(f: Ipv4Fields): void {
    const src = ipv4ToNumber(f.src), dst = ipv4ToNumber(f.dst);
    const b = this.buf, o = this.off;
    b[o] = ((f.version & 0xf) << 4) | ((f.ihl >>> 2) & 0x0f);
    b[o + 1] = ((f.dscp & 0x3f) << 2) | (f.ecn & 3);
    this.setTotalLength(f.totalLength);
    this.setId(f.id);
    this.setFlags(f.flags);
    this.setFragmentOffset(f.fragmentOffset);
    this.setTtl(f.ttl);
    this.setProtocol(f.protocol);
    this.setChecksum(f.checksum);
    this.setSrc(src);
    this.setDst(dst);
  }
}

/** '198.18.0.1' to an unsigned 32-bit number. For config; throws on anything but a plain dotted quad. */
export function ipv4ToNumber(s: string): number {
  const v = parseIpv4(s);
  if (v === null) {
    throw new Error(`invalid IPv4 address ${JSON.stringify(s)}: expected a dotted quad like 198.18.0.1`);
  }
  return v;
}

/** '198.18.0.1' to an unsigned 32-bit number, or null for anything but a plain dotted quad. */
export function parseIpv4(s: string): number | null {
  // node:net's isIPv4 rejects leading zeros, which some parsers read as octal.
  if (typeof s !== 'string' || !isIPv4(s)) return null;
  const p = s.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** An unsigned 32-bit number to '198.18.0.1'. */
export function numberToIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`not a 32-bit IPv4 address: ${n}`);
  }
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** The IPv4 address at `o` as an unsigned 32-bit number. */
export function ipv4At(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes an unsigned 32-bit IPv4 address at `o`. */
export function writeIpv4(b: Buffer, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
}
