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
/** Bare IP packets, no link header: what tcpdump writes for a TUN. */
export const LINKTYPE_RAW = 101;
/** Bare IPv4 packets: the same bytes as LINKTYPE_RAW, IPv4 only. */
export const LINKTYPE_IPV4 = 228;
/** What replay reads for each side: Ethernet frames, or bare IPv4 packets (the udp backend's TUN). */
export const ETHERNET_LINKS: readonly number[] = [LINKTYPE_ETHERNET];
export const RAW_IP_LINKS: readonly number[] = [LINKTYPE_RAW, LINKTYPE_IPV4];

const LINK_NAMES: Record<number, string> = { [LINKTYPE_ETHERNET]: 'Ethernet (1)', [LINKTYPE_RAW]: 'raw IP (101)', [LINKTYPE_IPV4]: 'IPv4 (228)' };

/** Why a file's link type is not one of `accept`, and how to convert it when there is a way. */
function linkTypeError(path: string, type: number, accept: readonly number[]): PcapFormatError {
  const wanted = accept.map((t) => LINK_NAMES[t]).join(' or ');
  // editcap cuts the 14-byte Ethernet header off each record and relabels the file.
  const hint = type === LINKTYPE_ETHERNET && accept.includes(LINKTYPE_RAW) ? `; convert it with: editcap -C 14 -T rawip ${path} OUT.pcap` : '';
  return new PcapFormatError(`${path}: link type ${LINK_NAMES[type] ?? type} is not supported here, only ${wanted}${hint}`);
}

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
 * Streams the records of `path` into `sink`, in file order. Resolves with
 * the record count; rejects with PcapFormatError for a file that is not
 * classic pcap of a link type in `accept` (default Ethernet) or is truncated.
 */
export function readPcap(path: string, sink: PacketSink, accept: readonly number[] = ETHERNET_LINKS): Promise<number> {
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
      if (!accept.includes(h.linkLayerType)) fail(linkTypeError(path, h.linkLayerType, accept));
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
export async function readPcapFrames(path: string, accept: readonly number[] = ETHERNET_LINKS): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await readPcap(path, (d) => { out.push(Buffer.from(d)); }, accept);
  return out;
}
