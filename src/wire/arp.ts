// ARP for IPv4 over Ethernet, RFC 826 ("Packet format").
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Hardware Type (HTYPE)     |     Protocol Type (PTYPE)     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     HLEN      |     PLEN      |       Operation (OPER)        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                 Sender Hardware Address (SHA)                 |
//   +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                               | Sender Protocol Address (SPA) |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          SPA (cont.)          |                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//   |                 Target Hardware Address (THA)                 |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                 Target Protocol Address (TPA)                 |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// RFC 826 sizes the address fields by HLEN and PLEN. This view fixes them at
// 6 and 4, the only pair weft handles, so every offset is a constant; check
// `isEthernetIpv4()` before trusting the addresses.
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`. After it returns true every
// accessor stays inside the buffer. Hardware addresses are read as numbers
// (see mac.ts), protocol addresses as unsigned 32-bit numbers; only
// `read()`/`write()` deal in strings.

import { HeaderView } from './view.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';
import { ipv4At, ipv4ToNumber, numberToIpv4, writeIpv4 } from './ipv4.js';
import { copyMac, formatMac, macAt, macHiAt, macLoAt, parseMac, writeMac, writeMacHiLo } from './mac.js';

/** An Ethernet/IPv4 ARP packet: 8 fixed bytes, then 6 + 4 + 6 + 4. */
export const ARP_LEN = 28;
/** ar$hrd for Ethernet (RFC 826; IANA ARP parameters). */
export const ARP_HTYPE_ETHERNET = 1;
/** ar$op values (RFC 826). */
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export interface ArpFields {
  htype: number;
  ptype: number;
  hlen: number;
  plen: number;
  oper: number;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

export class ArpView extends HeaderView {

  /** True when `len` bytes from `off` hold a whole Ethernet/IPv4 ARP packet. */
  checkLen(len: number): boolean {
    return len >= ARP_LEN && this.off + ARP_LEN <= this.buf.length;
  }

  /**
   * RFC 826 reception: "Do I have the hardware type in ar$hrd? … Do I speak
   * the protocol in ar$pro?", plus the lengths this view's offsets assume.
   */
  isEthernetIpv4(): boolean {
    return this.htype() === ARP_HTYPE_ETHERNET && this.ptype() === ETHERTYPE_IPV4 &&
      this.hlen() === 6 && this.plen() === 4;
  }

  htype(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  setHtype(v: number): void { this.buf[this.off] = v >>> 8; this.buf[this.off + 1] = v; }

  ptype(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  setPtype(v: number): void { this.buf[this.off + 2] = v >>> 8; this.buf[this.off + 3] = v; }

  hlen(): number { return this.buf[this.off + 4]; }
  setHlen(v: number): void { this.buf[this.off + 4] = v; }

  plen(): number { return this.buf[this.off + 5]; }
  setPlen(v: number): void { this.buf[this.off + 5] = v; }

  oper(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  setOper(v: number): void { this.buf[this.off + 6] = v >>> 8; this.buf[this.off + 7] = v; }

  shaHi(): number { return macHiAt(this.buf, this.off + 8); }
  shaLo(): number { return macLoAt(this.buf, this.off + 8); }
  setSha(hi: number, lo: number): void { writeMacHiLo(this.buf, this.off + 8, hi, lo); }
  setShaFrom(from: Buffer, fromOff: number): void { copyMac(this.buf, this.off + 8, from, fromOff); }

  spa(): number { return ipv4At(this.buf, this.off + 14); }
  setSpa(v: number): void { writeIpv4(this.buf, this.off + 14, v); }

  thaHi(): number { return macHiAt(this.buf, this.off + 18); }
  thaLo(): number { return macLoAt(this.buf, this.off + 18); }
  setTha(hi: number, lo: number): void { writeMacHiLo(this.buf, this.off + 18, hi, lo); }
  setThaFrom(from: Buffer, fromOff: number): void { copyMac(this.buf, this.off + 18, from, fromOff); }

  tpa(): number { return ipv4At(this.buf, this.off + 24); }
  setTpa(v: number): void { writeIpv4(this.buf, this.off + 24, v); }

  read(): ArpFields {
    return {
      htype: this.htype(),
      ptype: this.ptype(),
      hlen: this.hlen(),
      plen: this.plen(),
      oper: this.oper(),
      sha: formatMac(macAt(this.buf, this.off + 8)),
      spa: numberToIpv4(this.spa()),
      tha: formatMac(macAt(this.buf, this.off + 18)),
      tpa: numberToIpv4(this.tpa()),
    };
  }

  /**
   * Writes all 28 bytes at the fixed offsets, whatever `hlen`/`plen` say.
   * Throws on a bad address string, before writing anything.
   */
  write(f: ArpFields): void {
    const sha = parseMac(f.sha), spa = ipv4ToNumber(f.spa);
    const tha = parseMac(f.tha), tpa = ipv4ToNumber(f.tpa);
    this.setHtype(f.htype);
    this.setPtype(f.ptype);
    this.setHlen(f.hlen);
    this.setPlen(f.plen);
    this.setOper(f.oper);
    writeMac(this.buf, this.off + 8, sha);
    this.setSpa(spa);
    writeMac(this.buf, this.off + 18, tha);
    this.setTpa(tpa);
  }
}
