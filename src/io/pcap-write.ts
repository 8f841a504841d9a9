// Writing classic pcap (libpcap 2.4, microsecond timestamps, little-endian),
// the format tcpdump writes and every tool reads. Records are gathered in a
// buffer and written in large chunks.

import { openSync, writeSync, closeSync } from 'node:fs';
import { LINKTYPE_ETHERNET } from './pcap-read.js';

const GLOBAL_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
/** Largest record we write; tcpdump's default snap length. */
export const PCAP_SNAPLEN = 262144;

export class PcapWriter {
  private fd: number;
  private buf = Buffer.alloc(1 << 20);
  private used = 0;
  records = 0;

  constructor(path: string, linkType = LINKTYPE_ETHERNET) {
    this.fd = openSync(path, 'w');
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
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
