// VXLAN header, RFC 7348 §5.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |R|R|R|R|I|R|R|R|            Reserved                           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                VXLAN Network Identifier (VNI) |   Reserved    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`. After it returns true every
// accessor stays inside the buffer.

import { HeaderView } from './view.js';

/** Length of the VXLAN header in bytes (RFC 7348 §5). */
export const VXLAN_HEADER_LEN = 8;
/** The I flag: "MUST be set to 1 for a valid VXLAN Network ID (VNI)" (RFC 7348 §5). */
export const VXLAN_FLAG_I = 0x08;
/** UDP port Linux and flannel use by default (pre-IANA). */
export const VXLAN_PORT_LINUX = 8472;
/** IANA-assigned UDP port, RFC 7348 §5. */
export const VXLAN_PORT_IANA = 4789;
/** The largest VNI: a 24-bit field. */
export const VNI_MAX = 0xffffff;

export interface VxlanFields {
  flags: number;
  vni: number;
  /** The 24 reserved bits after the flags byte (RFC 7348 §5: set to zero on send). */
  reserved1: number;
  /** The 8 reserved bits after the VNI. */
  reserved2: number;
}

export class VxlanView extends HeaderView {

  /** True when `len` bytes from `off` hold a whole header. */
  checkLen(len: number): boolean {
    return len >= VXLAN_HEADER_LEN && this.off + VXLAN_HEADER_LEN <= this.buf.length;
  }

  flags(): number { return this.buf[this.off]; }
  setFlags(v: number): void { this.buf[this.off] = v; }

  /** RFC 7348 §5: the I flag must be set for the VNI to be valid. */
  hasI(): boolean { return (this.buf[this.off] & VXLAN_FLAG_I) !== 0; }

  /** Bits other than I in the flags byte; RFC 7348 §5 reserves them (zero on send). */
  reservedFlags(): number { return this.buf[this.off] & ~VXLAN_FLAG_I & 0xff; }

  reserved1(): number {
    const b = this.buf, o = this.off;
    return (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  }
  setReserved1(v: number): void {
    const b = this.buf, o = this.off;
    b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
  }

  vni(): number {
    const b = this.buf, o = this.off;
    return (b[o + 4] << 16) | (b[o + 5] << 8) | b[o + 6];
  }
  setVni(v: number): void {
    const b = this.buf, o = this.off;
    b[o + 4] = v >>> 16; b[o + 5] = v >>> 8; b[o + 6] = v;
  }

  reserved2(): number { return this.buf[this.off + 7]; }
  setReserved2(v: number): void { this.buf[this.off + 7] = v; }

  /** RFC 7348 §5 receive rule as Linux applies it: any reserved bit set is an error. */
  anyReservedSet(): boolean {
    return this.reservedFlags() !== 0 || this.reserved1() !== 0 || this.reserved2() !== 0;
  }

  /** Writes a fresh header: I flag, VNI, every reserved bit zero (RFC 7348 §5). */
  emitHeader(vni: number): void {
    const b = this.buf, o = this.off;
    b[o] = VXLAN_FLAG_I; b[o + 1] = 0; b[o + 2] = 0; b[o + 3] = 0;
    b[o + 4] = vni >>> 16; b[o + 5] = vni >>> 8; b[o + 6] = vni; b[o + 7] = 0;
  }

  read(): VxlanFields {
    return { flags: this.flags(), vni: this.vni(), reserved1: this.reserved1(), reserved2: this.reserved2() };
  }

  write(f: VxlanFields): void {
    this.setFlags(f.flags);
    this.setReserved1(f.reserved1);
    this.setVni(f.vni);
    this.setReserved2(f.reserved2);
  }
}

