// ICMP header: ICMPv4 (RFC 792) and ICMPv6 (RFC 4443 §2.1), which share it.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |     Code      |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     Rest of the header                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     As much of the invoking packet as fits ...
//
// The second word depends on the message. The two weft sends, so that path
// MTU discovery works through the tunnel:
//   - ICMPv4 Destination Unreachable, code 4 "fragmentation needed and DF
//     set" (RFC 792), with the next-hop MTU in the low 16 bits (RFC 1191 §4;
//     the high 16 bits are unused, zero);
//   - ICMPv6 Packet Too Big, type 2 code 0 (RFC 4443 §3.2), with the MTU as
//     all 32 bits.
// And, as the router the udp backend is, two whose second word is unused
// (zero): Destination Unreachable code 0 "net unreachable" and Time
// Exceeded code 0 "time to live exceeded in transit" (RFC 792).
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`, and covers the 8 header
// bytes. The message has no length field of its own: the checksum methods
// take the message length (header and data, from the IP header) and read
// that many bytes from `off`, so call them only with a length the caller has
// checked against its buffer. ICMPv4's checksum covers the message alone
// (RFC 792); ICMPv6's adds the IPv6 pseudo-header (RFC 4443 §2.3, RFC 8200
// §8.1), whose address offsets the caller passes (normally
// `Ipv6View.srcOff()`/`dstOff()` in the same buffer).

import { HeaderView } from './view.js';
import { l4Checksum, pseudoSumV6, verifies } from './checksum.js';
import { IPPROTO_ICMPV6 } from './ipv4.js';

/** Type, code, checksum and the 32-bit rest (RFC 792, RFC 4443 §2.1). */
export const ICMP_HEADER_LEN = 8;

/** RFC 792: Destination Unreachable. */
export const ICMP_DEST_UNREACH = 3;
/** RFC 792, codes for Destination Unreachable: net unreachable; fragmentation needed and DF set. */
export const ICMP_NET_UNREACH = 0;
export const ICMP_FRAG_NEEDED = 4;
/** RFC 792: Time Exceeded; code 0, time to live exceeded in transit. */
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_TTL_EXCEEDED = 0;
/** RFC 792: Echo Reply and Echo Request. */
export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
/**
 * RFC 1122 §3.2.2: ICMPv4 error messages (Destination Unreachable, Source
 * Quench, Redirect, Time Exceeded, Parameter Problem); no error is ever sent
 * about one of these.
 */
export function isIcmpV4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** RFC 4443 §3.2: Packet Too Big. */
export const ICMPV6_PACKET_TOO_BIG = 2;
/** RFC 4443 §2.1: types 0–127 are errors, 128–255 informational. */
export function isIcmpV6Error(type: number): boolean {
  return type < 128;
}

/**
 * RFC 1812 §4.3.2.3: an ICMPv4 error carries as much of the invoking datagram
 * as fits without the error's IP datagram passing 576 bytes.
 */
export const ICMPV4_ERROR_MAX = 576;
/** RFC 4443 §2.4 (c): an ICMPv6 error packet must not pass the IPv6 minimum MTU, 1280 (RFC 8200 §5). */
export const ICMPV6_ERROR_MAX = 1280;

export interface IcmpFields {
  type: number;
  code: number;
  checksum: number;
  /** The header's second word, unsigned (the MTU, for the two messages above). */
  rest: number;
}

export class IcmpView extends HeaderView {

  /** True when `len` bytes from `off` hold the 8 header bytes. */
  checkLen(len: number): boolean {
    return len >= ICMP_HEADER_LEN && this.off + ICMP_HEADER_LEN <= this.buf.length;
  }

  type(): number { return this.buf[this.off]; }
  setType(v: number): void { this.buf[this.off] = v; }

  code(): number { return this.buf[this.off + 1]; }
  setCode(v: number): void { this.buf[this.off + 1] = v; }

  checksum(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  setChecksum(v: number): void { this.buf[this.off + 2] = v >>> 8; this.buf[this.off + 3] = v; }

  /** The second word, unsigned. */
  rest(): number {
    const b = this.buf, o = this.off + 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  setRest(v: number): void {
    const b = this.buf, o = this.off + 4;
    b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
  }

  /** RFC 1191 §4: Destination Unreachable code 4, the next-hop MTU (low 16 bits). */
  nextHopMtu(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  /** Writes the next-hop MTU and zeroes the unused high 16 bits. */
  setNextHopMtu(v: number): void { this.setRest(v & 0xffff); }

  /** RFC 4443 §3.2: Packet Too Big, the MTU (all 32 bits). */
  mtu(): number { return this.rest(); }
  setMtu(v: number): void { this.setRest(v); }

  /** Absolute offset of the data (the invoking packet, for errors). */
  payloadOffset(): number { return this.off + ICMP_HEADER_LEN; }

  /** RFC 792: the checksum over `len` bytes of message from `off`, field ignored. */
  computeChecksumV4(len: number): number {
    return l4Checksum(this.buf, this.off, len, this.off + 2, 0);
  }
  fillChecksumV4(len: number): void { this.setChecksum(this.computeChecksumV4(len)); }
  checksumOkV4(len: number): boolean { return verifies(this.buf, this.off, len, 0); }

  /** RFC 4443 §2.3: the same with the IPv6 pseudo-header (next header 58). */
  computeChecksumV6(len: number, pseudoSrcOff: number, pseudoDstOff: number): number {
    return l4Checksum(this.buf, this.off, len, this.off + 2, pseudoSumV6(this.buf, pseudoSrcOff, pseudoDstOff, IPPROTO_ICMPV6, len));
  }
  fillChecksumV6(len: number, pseudoSrcOff: number, pseudoDstOff: number): void {
    this.setChecksum(this.computeChecksumV6(len, pseudoSrcOff, pseudoDstOff));
  }
  checksumOkV6(len: number, pseudoSrcOff: number, pseudoDstOff: number): boolean {
    return verifies(this.buf, this.off, len, pseudoSumV6(this.buf, pseudoSrcOff, pseudoDstOff, IPPROTO_ICMPV6, len));
  }

  read(): IcmpFields {
    return { type: this.type(), code: this.code(), checksum: this.checksum(), rest: this.rest() };
  }

  /** Writes the 8 header bytes, `checksum` as given; `fillChecksumV4/V6` once the data is in place. */
  write(f: IcmpFields): void {
    this.setType(f.type);
    this.setCode(f.code);
    this.setChecksum(f.checksum);
    this.setRest(f.rest);
  }
}
