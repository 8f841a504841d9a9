// Reading classic pcap files (the libpcap format, version 2.4) with
// pcap-parser, for `weft replay` and the tests.
//
// pcap-parser reads only microsecond classic pcap and says little when given
// anything else, so the magic number and link type are checked here first,
// with a message that says how to convert. A file that ends inside a record
// is reported as truncated rather than silently cut short.

import { openSync, readSync, closeSync, createReadStream } from 'node:fs';
import pcapParser from 'pcap-parser';

export const LINKTYPE_ETHERNET = 1;

export class PcapFormatError extends Error {}

/** Called once per record; `data` is valid only during the call. */
export type PacketSink = (data: Buffer, tsSec: number, tsUsec: number) => void;

function magicOf(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    if (n < 4) throw new PcapFormatError(`${path}: too short to be a pcap file (${n} bytes)`);
    return b.readUInt32BE(0);
  } finally {
    closeSync(fd);
  }
}

function checkMagic(path: string): void {
  const m = magicOf(path);
  const convert = `convert it with: editcap -F pcap ${path} OUT.pcap`;
  switch (m) {
    case 0xa1b2c3d4: case 0xd4c3b2a1: return;
    case 0x0a0d0d0a: throw new PcapFormatError(`${path} is pcapng, weft reads classic pcap; ${convert}`);
    case 0xa1b23c4d: case 0x4d3cb2a1: throw new PcapFormatError(`${path} is nanosecond pcap, weft reads microsecond pcap; ${convert}`);
    default: throw new PcapFormatError(`${path} is not a pcap file (magic 0x${m.toString(16).padStart(8, '0')})`);
  }
}

interface ParserHeader { linkLayerType: number }
interface ParserPacket { header: { timestampSeconds: number; timestampMicroseconds: number }; data: Buffer }

/**
 * Streams the Ethernet records of `path` into `sink`, in file order.
 * Resolves with the record count; rejects with PcapFormatError for a file
 * that is not classic Ethernet pcap or is truncated.
 */
export function readPcap(path: string, sink: PacketSink): Promise<number> {
  return new Promise((resolve, reject) => {
    try { checkMagic(path); } catch (e) { reject(e); return; }
    const stream = createReadStream(path, { highWaterMark: 1 << 20 });
    const parser = pcapParser.parse(stream);
    let count = 0;
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      stream.destroy();
      reject(e);
    };
    parser.on('globalHeader', (h: ParserHeader) => {
      if (h.linkLayerType !== LINKTYPE_ETHERNET) {
        fail(new PcapFormatError(`${path}: link type ${h.linkLayerType} is not supported, only Ethernet (1)`));
      }
    });
    parser.on('packet', (p: ParserPacket) => {
      if (failed) return;
      count++;
      try {
        sink(p.data, p.header.timestampSeconds, p.header.timestampMicroseconds);
      } catch (e) {
        fail(e as Error);
      }
    });
    parser.on('error', (e: Error) => fail(new PcapFormatError(`${path}: ${e.message}`)));
    parser.on('end', () => {
      if (failed) return;
      // pcap-parser keeps an incomplete trailing record in its buffer.
      const rest = (parser as unknown as { buffer: Buffer | null }).buffer;
      if (rest && rest.length > 0) {
        fail(new PcapFormatError(`${path}: truncated: the last record is incomplete (${rest.length} bytes left over after ${count} records)`));
        return;
      }
      resolve(count);
    });
  });
}

/** Reads a whole (small) pcap into memory: for tests and fixtures. */
export async function readPcapFrames(path: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await readPcap(path, (d) => { out.push(Buffer.from(d)); });
  return out;
}
