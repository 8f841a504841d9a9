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
import { ETH_HEADER_LEN } from './ethernet.js';
import { IPV4_HEADER_LEN } from './ipv4.js';
import { IPV6_HEADER_LEN } from './ipv6.js';
import { UDP_HEADER_LEN } from './udp.js';

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

// Sizes. An inner frame travels as outer IP + UDP + VXLAN + the frame, so a
// TAP MTU (the inner IP packet) fits the underlay MTU when the inner Ethernet
// header and those outer headers are taken off.

/** The largest IP datagram: IPv4 Total Length and IPv6 Payload Length are 16 bits (no RFC 2675 jumbograms). */
export const IP_LEN_MAX = 65535;
/** The largest UDP payload one datagram carries on either underlay family: IP_LEN_MAX less IPv6 40 and UDP 8. */
export const UDP_PAYLOAD_MAX = IP_LEN_MAX - IPV6_HEADER_LEN - UDP_HEADER_LEN;
/** Outer headers on an IPv4 underlay: IPv4 20 + UDP 8 + VXLAN 8 = 36. */
export const VXLAN_OUTER_V4 = IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;
/** Outer headers on an IPv6 underlay: IPv6 40 + UDP 8 + VXLAN 8 = 56. */
export const VXLAN_OUTER_V6 = IPV6_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;
/** Underlay MTU less TAP MTU on IPv4: Ethernet 14 + the outer headers 36 = 50. */
export const VXLAN_OVERHEAD_V4 = ETH_HEADER_LEN + VXLAN_OUTER_V4;
/** Underlay MTU less TAP MTU on IPv6: Ethernet 14 + the outer headers 56 = 70. */
export const VXLAN_OVERHEAD_V6 = ETH_HEADER_LEN + VXLAN_OUTER_V6;
/** The largest inner frame one datagram can carry whatever the underlay family. */
export const VXLAN_FRAME_MAX = IP_LEN_MAX - VXLAN_OUTER_V6;
/** The underlay MTU assumed when the route to the peers does not say (Ethernet's). */
export const UNDERLAY_MTU_DEFAULT = 1500;

/** The TAP MTU that fills, and does not overflow, an underlay MTU (null: unknown, take Ethernet's 1500). */
export function overlayMtu(underlayMtu: number | null, family: 4 | 6): number {
  return (underlayMtu ?? UNDERLAY_MTU_DEFAULT) - (family === 6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
}

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
