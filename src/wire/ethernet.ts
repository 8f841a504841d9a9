// Ethernet II header (RFC 894; IEEE 802.3 clause 3.2) with one optional
// IEEE 802.1Q tag.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination MAC address                    |
//   +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                               |                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//   |                      Source MAC address                       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |       EtherType or TPID       | PCP |D|          VID          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     EtherType (if tagged)     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The second half of the fourth row and the fifth row (the 802.1Q tag
// control information and the inner EtherType) exist only when the TPID at
// offset 12 is 0x8100 or 0x88a8; otherwise the payload starts at offset 14.
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`, and it includes the tag when
// the TPID announces one. After it returns true every accessor stays inside
// the buffer. MACs are read as numbers (see mac.ts); only `read()`/`write()`
// deal in strings.
//
// Only one tag is parsed. A QinQ frame (802.1ad outer tag, 802.1Q inner tag)
// shows its second tag as `innerEtherType() === ETHERTYPE_VLAN`; weft bridges
// such frames without looking further.

import { HeaderView } from './view.js';
import { copyMac, formatMac, macAt, macHiAt, macLoAt, parseMac, writeMac, writeMacHiLo } from './mac.js';

/** Destination, source, EtherType (RFC 894). */
export const ETH_HEADER_LEN = 14;
/** An 802.1Q tag: TPID and TCI. */
export const ETH_VLAN_TAG_LEN = 4;
/** RFC 894. */
export const ETHERTYPE_IPV4 = 0x0800;
/** RFC 826. */
export const ETHERTYPE_ARP = 0x0806;
/** RFC 2464 §3. */
export const ETHERTYPE_IPV6 = 0x86dd;
/** IEEE 802.1Q customer VLAN tag TPID. */
export const ETHERTYPE_VLAN = 0x8100;
/** IEEE 802.1ad service VLAN tag TPID (QinQ outer tag). */
export const ETHERTYPE_QINQ = 0x88a8;
/** The largest 12-bit VLAN id; 0xfff itself is reserved by 802.1Q. */
export const VLAN_VID_MAX = 0xfff;

export interface EthernetVlanTag {
  /** ETHERTYPE_VLAN or ETHERTYPE_QINQ; anything else is not read back as a tag. */
  tpid: number;
  /** Priority code point, 3 bits. */
  pcp: number;
  /** Drop eligible indicator (formerly CFI). */
  dei: boolean;
  /** VLAN id, 12 bits. */
  vid: number;
}

export interface EthernetFields {
  dst: string;
  src: string;
  /** The EtherType of the payload: after the tag when there is one. */
  etherType: number;
  vlan?: EthernetVlanTag;
}

/** Header length `write(f)` will use: 14, or 18 with a tag. */
export function ethernetHeaderLen(f: EthernetFields): number {
  return f.vlan ? ETH_HEADER_LEN + ETH_VLAN_TAG_LEN : ETH_HEADER_LEN;
}

export class EthernetView extends HeaderView {

  /** True when `len` bytes from `off` hold a whole header, tag included when the TPID says tagged. */
  checkLen(len: number): boolean {
    if (len < ETH_HEADER_LEN || this.off + ETH_HEADER_LEN > this.buf.length) return false;
    if (!this.isTagged()) return true;
    const tagged = ETH_HEADER_LEN + ETH_VLAN_TAG_LEN;
    return len >= tagged && this.off + tagged <= this.buf.length;
  }

  /** 14, or 18 for a tagged frame. */
  headerLen(): number {
    return this.isTagged() ? ETH_HEADER_LEN + ETH_VLAN_TAG_LEN : ETH_HEADER_LEN;
  }

  /** Absolute offset of the payload in `buf`. */
  payloadOffset(): number { return this.off + this.headerLen(); }

  dstHi(): number { return macHiAt(this.buf, this.off); }
  dstLo(): number { return macLoAt(this.buf, this.off); }
  setDst(hi: number, lo: number): void { writeMacHiLo(this.buf, this.off, hi, lo); }
  /** Copies six octets from `from[fromOff]`, e.g. another frame's source. */
  setDstFrom(from: Buffer, fromOff: number): void { copyMac(this.buf, this.off, from, fromOff); }

  srcHi(): number { return macHiAt(this.buf, this.off + 6); }
  srcLo(): number { return macLoAt(this.buf, this.off + 6); }
  setSrc(hi: number, lo: number): void { writeMacHiLo(this.buf, this.off + 6, hi, lo); }
  setSrcFrom(from: Buffer, fromOff: number): void { copyMac(this.buf, this.off + 6, from, fromOff); }

  /** IEEE 802 I/G bit, the least significant bit of the first octet; broadcast counts as multicast, so it floods too. */
  dstIsMulticast(): boolean { return (this.buf[this.off] & 1) !== 0; }
  dstIsBroadcast(): boolean { return this.dstHi() === 0xffff && this.dstLo() === 0xffffffff; }
  /** A group address is never a valid source; such a frame must not be learned. */
  srcIsMulticast(): boolean { return (this.buf[this.off + 6] & 1) !== 0; }
  /** 00:00:00:00:00:00 is not a station either; do not learn it. */
  srcIsZero(): boolean { return this.srcHi() === 0 && this.srcLo() === 0; }

  /** The 16 bits at offset 12: the EtherType, or the TPID of a tagged frame. */
  etherType(): number { return (this.buf[this.off + 12] << 8) | this.buf[this.off + 13]; }
  setEtherType(v: number): void { this.buf[this.off + 12] = v >>> 8; this.buf[this.off + 13] = v; }

  isTagged(): boolean {
    const t = this.etherType();
    return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ;
  }

  // The tag accessors below read 0 and write nothing on an untagged frame:
  // there are no TCI bytes then, only payload. VID 0 is also what 802.1Q
  // calls "no VLAN" (a priority-only tag), so an untagged frame reads the same.

  /** The 16-bit tag control information (PCP, DEI, VID). */
  tci(): number {
    return this.isTagged() ? (this.buf[this.off + 14] << 8) | this.buf[this.off + 15] : 0;
  }
  setTci(v: number): void {
    if (!this.isTagged()) return;
    this.buf[this.off + 14] = v >>> 8; this.buf[this.off + 15] = v;
  }

  vlanId(): number { return this.tci() & 0x0fff; }
  setVlanId(v: number): void { this.setTci((this.tci() & 0xf000) | (v & 0x0fff)); }

  pcp(): number { return this.tci() >>> 13; }
  setPcp(v: number): void { this.setTci((this.tci() & 0x1fff) | ((v & 7) << 13)); }

  dei(): boolean { return (this.tci() & 0x1000) !== 0; }
  setDei(v: boolean): void { this.setTci(v ? this.tci() | 0x1000 : this.tci() & ~0x1000); }

  /** The payload's EtherType: after the tag when there is one, else the same as `etherType()`. */
  innerEtherType(): number {
    const o = this.isTagged() ? this.off + 16 : this.off + 12;
    return (this.buf[o] << 8) | this.buf[o + 1];
  }
  setInnerEtherType(v: number): void {
    const o = this.isTagged() ? this.off + 16 : this.off + 12;
    this.buf[o] = v >>> 8; this.buf[o + 1] = v;
  }

  read(): EthernetFields {
    const f: EthernetFields = {
      dst: formatMac(macAt(this.buf, this.off)),
      src: formatMac(macAt(this.buf, this.off + 6)),
      etherType: this.innerEtherType(),
    };
    if (this.isTagged()) {
      f.vlan = { tpid: this.etherType(), pcp: this.pcp(), dei: this.dei(), vid: this.vlanId() };
    }
    return f;
  }

  /**
   * Writes `ethernetHeaderLen(f)` bytes; the caller has made room for them.
   * Throws on a bad MAC string, before writing anything.
   */
  write(f: EthernetFields): void {
    const dst = parseMac(f.dst), src = parseMac(f.src);
    const b = this.buf, o = this.off;
    writeMac(b, o, dst);
    writeMac(b, o + 6, src);
    if (f.vlan) {
      const v = f.vlan;
      const tci = ((v.pcp & 7) << 13) | (v.dei ? 0x1000 : 0) | (v.vid & 0x0fff);
      b[o + 12] = v.tpid >>> 8; b[o + 13] = v.tpid;
      b[o + 14] = tci >>> 8; b[o + 15] = tci;
      b[o + 16] = f.etherType >>> 8; b[o + 17] = f.etherType;
    } else {
      b[o + 12] = f.etherType >>> 8; b[o + 13] = f.etherType;
    }
  }
}
