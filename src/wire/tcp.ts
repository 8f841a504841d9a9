// TCP header, RFC 9293 §3.1.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Sequence Number                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Acknowledgment Number                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Data |       |C|E|U|A|P|R|S|F|                               |
//   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//   |       |       |R|E|G|K|H|T|N|N|                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Checksum            |         Urgent Pointer        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                           [Options]                           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Contract: `bind(buf, off)` never allocates and never throws; `checkLen(len)`
// is the one length gate, measured from `off`. Like IPv4's IHL, it checks
// the 20 fixed bytes *and* the Data Offset (at least 20, all of it inside
// `len` and the buffer), so after it returns true every accessor and the
// options stay inside the buffer.
//
// The TAP offloads (io/tap-read.ts, io/tap-write.ts) cut and glue segments
// by fixing fields in place on their hot path; they use the TCP_OFF_*
// offsets and TCP_* flag bits below, and tcpSeqAt / tcpDataOffsetAt,
// rather than a view per segment.

import { HeaderView } from './view.js';

/** Header without options (Data Offset minimum, 5 words). */
export const TCP_HEADER_LEN = 20;
/** Largest header: Data Offset is 4 bits of 32-bit words. */
export const TCP_HEADER_MAX_LEN = 60;

// Field offsets from the start of the header.
export const TCP_OFF_SEQ = 4;
export const TCP_OFF_ACK = 8;
/** Data Offset (high 4 bits) and reserved bits. */
export const TCP_OFF_DATA_OFFSET = 12;
export const TCP_OFF_FLAGS = 13;
export const TCP_OFF_WINDOW = 14;
export const TCP_OFF_CHECKSUM = 16;
export const TCP_OFF_URGENT = 18;

// Control bits (the byte at TCP_OFF_FLAGS); ECE and CWR are RFC 3168's.
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes (the field times 4). Options are not part of the fields. */
  dataOffset: number;
  /** The eight control bits: TCP_FIN | TCP_SYN | … | TCP_CWR. */
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
}

/**
 * The sequence number of the header at `l4` as a signed 32-bit value (`>>> 0`
 * for the unsigned number): an unsigned value above 2^31 leaving a call is
 * boxed, an allocation per packet on the offloads' hot path.
 */
export function tcpSeqAt(b: Buffer, l4: number): number {
  const o = l4 + TCP_OFF_SEQ;
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/** Writes the sequence number of the header at `l4`. */
export function setTcpSeqAt(b: Buffer, l4: number, v: number): void {
  const o = l4 + TCP_OFF_SEQ;
  b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
}

/** The header length in bytes of the header at `l4` (Data Offset times 4). */
export function tcpDataOffsetAt(b: Buffer, l4: number): number { return (b[l4 + TCP_OFF_DATA_OFFSET] >>> 4) << 2; }

export class TcpView extends HeaderView {

  /** True when `len` bytes from `off` hold the fixed header and all Data Offset bytes. */
  checkLen(len: number): boolean {
    if (len < TCP_HEADER_LEN || this.off + TCP_HEADER_LEN > this.buf.length) return false;
    const d = this.dataOffset();
    return d >= TCP_HEADER_LEN && d <= len && this.off + d <= this.buf.length;
  }

  srcPort(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  setSrcPort(v: number): void { this.buf[this.off] = v >>> 8; this.buf[this.off + 1] = v; }

  dstPort(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  setDstPort(v: number): void { this.buf[this.off + 2] = v >>> 8; this.buf[this.off + 3] = v; }

  seq(): number { return tcpSeqAt(this.buf, this.off) >>> 0; }
  setSeq(v: number): void { setTcpSeqAt(this.buf, this.off, v); }

  ack(): number {
    const b = this.buf, o = this.off + TCP_OFF_ACK;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  setAck(v: number): void {
    const b = this.buf, o = this.off + TCP_OFF_ACK;
    b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
  }

  /** Header length in bytes. */
  dataOffset(): number { return tcpDataOffsetAt(this.buf, this.off); }
  /** Takes bytes; stores `bytes / 4`, keeping the reserved bits. */
  setDataOffset(bytes: number): void {
    const o = this.off + TCP_OFF_DATA_OFFSET;
    this.buf[o] = (((bytes >>> 2) & 0x0f) << 4) | (this.buf[o] & 0x0f);
  }

  flags(): number { return this.buf[this.off + TCP_OFF_FLAGS]; }
  setFlags(v: number): void { this.buf[this.off + TCP_OFF_FLAGS] = v; }
  has(flag: number): boolean { return (this.flags() & flag) !== 0; }

  window(): number { return (this.buf[this.off + TCP_OFF_WINDOW] << 8) | this.buf[this.off + TCP_OFF_WINDOW + 1]; }
  setWindow(v: number): void { this.buf[this.off + TCP_OFF_WINDOW] = v >>> 8; this.buf[this.off + TCP_OFF_WINDOW + 1] = v; }

  checksum(): number { return (this.buf[this.off + TCP_OFF_CHECKSUM] << 8) | this.buf[this.off + TCP_OFF_CHECKSUM + 1]; }
  setChecksum(v: number): void { this.buf[this.off + TCP_OFF_CHECKSUM] = v >>> 8; this.buf[this.off + TCP_OFF_CHECKSUM + 1] = v; }

  urgent(): number { return (this.buf[this.off + TCP_OFF_URGENT] << 8) | this.buf[this.off + TCP_OFF_URGENT + 1]; }
  setUrgent(v: number): void { this.buf[this.off + TCP_OFF_URGENT] = v >>> 8; this.buf[this.off + TCP_OFF_URGENT + 1] = v; }

  /** Absolute offset of the data in `buf` (after any options). */
  payloadOffset(): number { return this.off + this.dataOffset(); }

  read(): TcpFields {
    return {
      srcPort: this.srcPort(), dstPort: this.dstPort(), seq: this.seq(), ack: this.ack(), dataOffset: this.dataOffset(),
      flags: this.flags(), window: this.window(), checksum: this.checksum(), urgent: this.urgent(),
    };
  }

  /**
   * Writes the 20 fixed bytes, reserved bits zero and `checksum` as given,
   * so a parsed header comes back byte for byte. Option bytes (when
   * `dataOffset` > 20) are left as they are.
   */
  write(f: TcpFields): void {
    this.setSrcPort(f.srcPort);
    this.setDstPort(f.dstPort);
    this.setSeq(f.seq);
    this.setAck(f.ack);
    this.buf[this.off + TCP_OFF_DATA_OFFSET] = ((f.dataOffset >>> 2) & 0x0f) << 4;
    this.setFlags(f.flags);
    this.setWindow(f.window);
    this.setChecksum(f.checksum);
    this.setUrgent(f.urgent);
  }
}
