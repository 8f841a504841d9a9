// Writing classic pcap (libpcap 2.4, microsecond timestamps, little-endian),
// the format tcpdump writes and every tool reads. Records are gathered in a
// buffer and written in large chunks: to a file, or handed to a sink (a live
// capture sends them over the control socket), always whole records.

import { openSync, writeSync, closeSync } from 'node:fs';
import { LINKTYPE_ETHERNET } from './pcap-read.js';

/** The file header's length: what a stream of records after another writer's header leaves out. */
export const GLOBAL_HEADER_LEN = 24;
export const RECORD_HEADER_LEN = 16;
/** Largest record we write; tcpdump's default snap length. */
export const PCAP_SNAPLEN = 262144;

/** Takes a chunk of pcap bytes (a copy it may keep). */
export type PcapSink = (chunk: Buffer) => void;

export class PcapWriter {
  private fd: number;
  private readonly sink: PcapSink | null;
  private buf: Buffer;
  private used = 0;
  records = 0;

  /** Writes to the file at `target`, or hands chunks to `target` when it is a sink. */
  constructor(target: string | PcapSink, linkType = LINKTYPE_ETHERNET, bufferBytes = 1 << 20) {
    this.sink = typeof target === 'string' ? null : target;
    this.fd = typeof target === 'string' ? openSync(target, 'w') : -1;
    this.buf = Buffer.alloc(Math.max(bufferBytes, GLOBAL_HEADER_LEN));
    const h = this.buf;
    h.writeUInt32LE(0xa1b2c3d4, 0); // magic: microsecond resolution
    h.writeUInt16LE(2, 4);          // version 2.4
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8);           // thiszone
    h.writeUInt32LE(0, 12);         // sigfigs
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(linkType, 20);
    this.used = GLOBAL_HEADER_LEN;
  }

  /** Appends one record; the bytes are copied, so `data` may be reused at once. */
  write(data: Buffer, off: number, len: number, tsSec: number, tsUsec: number): void {
    if (this.used + RECORD_HEADER_LEN + len > this.buf.length) {
      this.flush();
      if (RECORD_HEADER_LEN + len > this.buf.length) this.buf = Buffer.alloc(RECORD_HEADER_LEN + len);
    }
    const b = this.buf;
    let o = this.used;
    b.writeUInt32LE(tsSec >>> 0, o);
    b.writeUInt32LE(tsUsec >>> 0, o + 4);
    b.writeUInt32LE(len, o + 8);
    b.writeUInt32LE(len, o + 12);
    o += RECORD_HEADER_LEN;
    data.copy(b, o, off, off + len);
    this.used = o + len;
    this.records++;
  }

  flush(): void {
    if (this.sink !== null) {
      if (this.used > 0) this.sink(Buffer.from(this.buf.subarray(0, this.used)));
      this.used = 0;
      return;
    }
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
