// IPv6 fixed header, RFC 8200 §3.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version| Traffic Class |           Flow Label                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Payload Length        |  Next Header  |   Hop Limit   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                                                               |
//   +                                                               +
//   |                                                               |
//   +                         Source Address                        +
//   |                                                               |
//   +                                                               +
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                                                               |
//   +                                                               +
//   |                                                               |
//   +                      Destination Address                      +
//   |                                                               |
//   +                                                               +
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`. After it returns true every
// accessor stays inside the buffer. Addresses stay in the buffer: the view
// hands out their offsets (for pseudo-header sums and copies) and their four
// 32-bit words (for hashing); only `read()`/`write()` and the string helpers
// at the bottom allocate.
//
// Like IPv4's, the length gate ignores Payload Length; `isValid(len)` adds
// the version and `40 + payloadLength() <= len` for code that reads the
// payload. Extension headers are not walked here: `nextHeader()` is just the
// field. Jumbograms (RFC 2675, Payload Length 0) are not supported.

import { HeaderView } from './view.js';
import { isIPv6 } from 'node:net';
import { ipv4ToNumber, numberToIpv4, parseIpv4 } from './ipv4.js';

/** The fixed header (RFC 8200 §3). */
export const IPV6_HEADER_LEN = 40;
/** Octets in an IPv6 address. */
export const IPV6_ADDR_LEN = 16;
/**
 * RFC 4291 §2.5.5.2: the third 32-bit word of an IPv4-mapped IPv6 address
 * (words 0 and 1 are zero, word 3 is the IPv4 address). Underlay addresses
 * travel through weft as four such words, IPv4 ones IPv4-mapped.
 */
export const V4_MAPPED_W2 = 0xffff;

export interface Ipv6Fields {
  version: number;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** RFC 5952 text form, e.g. 'fd00::1'. */
  src: string;
  dst: string;
}

export class Ipv6View extends HeaderView {

  /** True when `len` bytes from `off` hold the whole fixed header. */
  checkLen(len: number): boolean {
    return len >= IPV6_HEADER_LEN && this.off + IPV6_HEADER_LEN <= this.buf.length;
  }

  /** checkLen, version 6, and the payload inside `len` (RFC 8200 §3). */
  isValid(len: number): boolean {
    return this.checkLen(len) && this.version() === 6 && IPV6_HEADER_LEN + this.payloadLength() <= len;
  }

  version(): number { return this.buf[this.off] >>> 4; }
  setVersion(v: number): void { this.buf[this.off] = ((v & 0xf) << 4) | (this.buf[this.off] & 0x0f); }

  /** 8 bits straddling the first two octets: DSCP and ECN (RFC 8200 §7). */
  trafficClass(): number {
    return ((this.buf[this.off] & 0x0f) << 4) | (this.buf[this.off + 1] >>> 4);
  }
  setTrafficClass(v: number): void {
    const b = this.buf, o = this.off;
    b[o] = (b[o] & 0xf0) | ((v >>> 4) & 0x0f);
    b[o + 1] = ((v & 0x0f) << 4) | (b[o + 1] & 0x0f);
  }

  /** 20 bits (RFC 8200 §6, RFC 6437). */
  flowLabel(): number {
    const b = this.buf, o = this.off;
    return ((b[o + 1] & 0x0f) << 16) | (b[o + 2] << 8) | b[o + 3];
  }
  setFlowLabel(v: number): void {
    const b = this.buf, o = this.off;
    b[o + 1] = (b[o + 1] & 0xf0) | ((v >>> 16) & 0x0f);
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
  }

  /** Bytes after the fixed header, extension headers included. */
  payloadLength(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  setPayloadLength(v: number): void { this.buf[this.off + 4] = v >>> 8; this.buf[this.off + 5] = v; }

  nextHeader(): number { return this.buf[this.off + 6]; }
  setNextHeader(v: number): void { this.buf[this.off + 6] = v; }

  hopLimit(): number { return this.buf[this.off + 7]; }
  setHopLimit(v: number): void { this.buf[this.off + 7] = v; }

  /** Absolute offsets of the addresses, for pseudo-header sums (checksum.ts) and copies. */
  srcOff(): number { return this.off + 8; }
  dstOff(): number { return this.off + 24; }

  /** Word `i` (0..3, taken mod 4 so it cannot leave the header) of the source, unsigned. */
  srcWord(i: number): number { return word(this.buf, this.off + 8 + ((i & 3) << 2)); }
  dstWord(i: number): number { return word(this.buf, this.off + 24 + ((i & 3) << 2)); }

  /** Copies 16 bytes from `from[fromOff]`. */
  setSrc(from: Buffer, fromOff: number): void { copy16(this.buf, this.off + 8, from, fromOff); }
  setDst(from: Buffer, fromOff: number): void { copy16(this.buf, this.off + 24, from, fromOff); }

  /** Absolute offset of the payload in `buf` (the first extension header, if any). */
  payloadOffset(): number { return this.off + IPV6_HEADER_LEN; }

  read(): Ipv6Fields {
    return {
      version: this.version(),
      trafficClass: this.trafficClass(),
      flowLabel: this.flowLabel(),
      payloadLength: this.payloadLength(),
      nextHeader: this.nextHeader(),
      hopLimit: this.hopLimit(),
      src: bytesToIpv6(this.buf, this.off + 8),
      dst: bytesToIpv6(this.buf, this.off + 24),
    };
  }

  /** Writes all 40 bytes. Throws on a bad address string, before writing anything. */
  write(f: Ipv6Fields): void {
    const src = ipv6ToBytes(f.src), dst = ipv6ToBytes(f.dst);
    const b = this.buf, o = this.off;
    b[o] = (f.version & 0xf) << 4;
    this.setTrafficClass(f.trafficClass);
    this.setFlowLabel(f.flowLabel);
    this.setPayloadLength(f.payloadLength);
    this.setNextHeader(f.nextHeader);
    this.setHopLimit(f.hopLimit);
    this.setSrc(src, 0);
    this.setDst(dst, 0);
  }
}

/**
 * Any RFC 4291 §2.2 text form ('fd00::1', 'FD00:0:0::1', '::ffff:192.0.2.1')
 * to 16 new bytes. For config; throws on bad input, and on a zone id
 * ('fe80::1%eth0'), which names an interface, not an address.
 */
export function ipv6ToBytes(s: string): Buffer {
  const bad = (why: string) =>
    new Error(`invalid IPv6 address ${JSON.stringify(s)}: ${why}`);
  if (typeof s !== 'string' || !isIPv6(s)) throw bad('expected a form like fd00::1');
  if (s.includes('%')) throw bad('zone ids are not allowed here');

  const gap = s.indexOf('::');
  const head = groups(gap < 0 ? s : s.slice(0, gap));
  const tail = gap < 0 ? [] : groups(s.slice(gap + 2));
  const zeros = 8 - head.length - tail.length;
  // isIPv6 has vetted the shape; this only keeps a surprise from writing garbage.
  if (gap < 0 ? zeros !== 0 : zeros < 1) throw bad('wrong number of groups');

  const out = Buffer.alloc(IPV6_ADDR_LEN);
  const all = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >>> 8;
    out[2 * i + 1] = all[i];
  }
  return out;
}

/**
 * The 16 bytes at `off` in RFC 5952 text form: lower case, no leading zeros
 * (§4.1, §4.3), the longest run of two or more zero groups as '::', the first
 * such run on a tie (§4.2), and IPv4-mapped addresses as '::ffff:192.0.2.1'
 * (§5).
 */
export function bytesToIpv6(buf: Buffer, off: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((buf[off + 2 * i] << 8) | buf[off + 2 * i + 1]);

  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  return formatGroups(w);
}

/**
 * Text, IPv4 or IPv6, to the four address words (an IPv4 address
 * IPv4-mapped, so '1.2.3.4' and '::ffff:1.2.3.4' give the same words, as a
 * dual-stack socket sees them). Null for anything else, and for an IPv6 zone
 * id, which names an interface, not an address. For config.
 */
export function ipToWords(s: string): [number, number, number, number] | null {
  const v4 = parseIpv4(s);
  if (v4 !== null) return [0, 0, V4_MAPPED_W2, v4];
  if (typeof s !== 'string' || !isIPv6(s) || s.includes('%')) return null;
  const b = ipv6ToBytes(s);
  return [word(b, 0), word(b, 4), word(b, 8), word(b, 12)];
}

/**
 * Four address words at `w[a]` as text: an IPv4-mapped address as a plain
 * dotted quad ('198.18.0.2'), any other in RFC 5952 form. For display.
 */
export function wordsToIp(w: ArrayLike<number>, a = 0): string {
  if (w[a] === 0 && w[a + 1] === 0 && w[a + 2] === V4_MAPPED_W2) return numberToIpv4(w[a + 3] >>> 0);
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[a + i] >>> 16, w[a + i] & 0xffff);
  return formatGroups(g);
}

/** An address and port as one string: '198.18.0.1:8472', or with the IPv6 address in brackets, '[fd00::1]:8472' (RFC 3986 §3.2.2). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The unspecified address of a family as text, for binding to any local address: '0.0.0.0' or '::'. */
export function anyAddress(family: 4 | 6): string {
  return family === 6 ? '::' : '0.0.0.0';
}

/** Eight 16-bit groups in RFC 5952 §4 form (§4.2.2: a single zero group is written as 0, not '::'). */
function formatGroups(w: number[]): string {
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }

  const hex = (a: number[]) => a.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Colon-separated hex groups, the last possibly a dotted quad (two groups). */
function groups(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (g.includes('.')) {
      const n = ipv4ToNumber(g);
      out.push(n >>> 16, n & 0xffff);
    } else {
      out.push(parseInt(g, 16));
    }
  }
  return out;
}

function word(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function copy16(b: Buffer, o: number, from: Buffer, fromOff: number): void {
  for (let i = 0; i < IPV6_ADDR_LEN; i++) b[o + i] = from[fromOff + i];
}
