// The live fuzzer's sending end, run inside a rig host by
// test/live/fuzz-udp.test.ts: random and mutated VXLAN datagrams
// (fuzz-inputs.ts's vxlanDatagram) to a weft's UDP port, some from ordinary
// UDP sockets on this host's address, the rest through a raw socket
// (`raw-socket`, IP_HDRINCL) with forged source addresses.
//
//   node fuzz-sender.js TO_IP PORT COUNT SEED RAW_SHARE DST_MAC FORGE_PREFIX
//
// FORGE_PREFIX is the /15 the forged sources come from (198.18): never this
// host's address nor the target's (198.18.0.1, .0.2), never .0 or .255, so
// the target's kernel takes them as ordinary unicast sources. The raw
// datagrams carry a correct UDP checksum, except one in fifty, which is
// wrong on purpose: the target's kernel drops those (InCsumErrors) before
// weft sees them. Datagrams go out 32 at a time; the run stops after COUNT
// or 60 s. The last line on stdout is a JSON summary:
// {"sent", "udp", "raw", "badChecksum", "failed", "sources", "ms"}.

import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { Rand, Macs, vxlanDatagram, innerFrames } from './fuzz-inputs.js';
import { sum16, fold, pseudoSumV4 } from '../../src/wire/checksum.js';
import { ipv4ToNumber } from '../../src/wire/ipv4.js';

interface RawSocket {
  send(buf: Buffer, off: number, len: number, addr: string, before: (() => void) | null, after: (err: Error | null, bytes: number) => void): void;
  setOption(level: number, option: number, value: number): void;
  close(): void;
}
interface RawModule {
  createSocket(o: { addressFamily?: number; protocol?: number }): RawSocket;
  AddressFamily: { IPv4: number };
  SocketLevel: { IPPROTO_IP: number };
  SocketOption: { IP_HDRINCL: number };
}

const [to, portS, countS, seedS, rawShareS, dstMac, forge] = process.argv.slice(2);
const port = Number(portS), count = Number(countS), rawShare = Number(rawShareS);
const r = new Rand(Number(seedS));
const macs = new Macs(r, 3000);
const inner = innerFrames();
const deadline = Date.now() + 60_000;
const IPPROTO_RAW = 255;

// Raw datagrams are sent whole (IP_HDRINCL: no fragmentation), so they fit the
// underlay MTU; ordinary ones go up to 9000 bytes, and one in a hundred up to
// 65507 (fragmented and reassembled on the way).
const RAW_MAX = 1500 - 28;
const buf = Buffer.alloc(20 + 8 + 65507);

const stats = { sent: 0, udp: 0, raw: 0, badChecksum: 0, failed: 0, sources: 0, ms: 0 };
const forged = new Set<number>();
const dst = ipv4ToNumber(to);
const [p0, p1] = forge.split('.').map(Number);

function forgedSource(): number {
  for (;;) {
    const b = p1 + r.int(2), c = r.int(256), d = 1 + r.int(254);
    if (b === p1 && c === 0 && d <= 2) continue;
    return ((p0 << 24) | (b << 16) | (c << 8) | d) >>> 0;
  }
}

/** IPv4 + UDP headers in front of the payload at buf[28…]; returns the packet length. */
function rawPacket(src: number, sport: number, plen: number, breakChecksum: boolean): number {
  buf.fill(0, 0, 28);
  buf[0] = 0x45; buf.writeUInt16BE(28 + plen, 2); buf[8] = 64; buf[9] = 17;
  buf.writeUInt32BE(src, 12); buf.writeUInt32BE(dst, 16);
  buf.writeUInt16BE(sport, 20); buf.writeUInt16BE(port, 22); buf.writeUInt16BE(8 + plen, 24);
  const c = ~fold(sum16(buf, 20, 8 + plen, pseudoSumV4(buf, 12, 16, 17, 8 + plen))) & 0xffff;
  buf.writeUInt16BE(breakChecksum ? (c ^ 0x5a5a) || 1 : c || 0xffff, 26);
  return 28 + plen;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const require = createRequire(import.meta.url);
  const raw = require('raw-socket') as RawModule;
  const rs = raw.createSocket({ addressFamily: raw.AddressFamily.IPv4, protocol: IPPROTO_RAW });
  rs.setOption(raw.SocketLevel.IPPROTO_IP, raw.SocketOption.IP_HDRINCL, 1);
  const udp: Socket[] = await Promise.all(Array.from({ length: 8 }, () => new Promise<Socket>((res) => {
    const s = createSocket('udp4');
    s.bind(0, () => res(s));
  })));

  const sendRaw = (len: number, bad: boolean): Promise<void> => new Promise((res) => {
    rs.send(buf, 0, len, to, null, (err) => {
      if (err) stats.failed++; else { stats.raw++; stats.sent++; if (bad) stats.badChecksum++; }
      res();
    });
  });
  const sendUdp = (s: Socket, payload: Buffer): Promise<void> => new Promise((res) => {
    s.send(payload, port, to, (err) => { if (err) stats.failed++; else { stats.udp++; stats.sent++; } res(); });
  });

  let n = 0;
  while (n < count && Date.now() < deadline) {
    const burst: Promise<void>[] = [];
    for (let k = 0; k < 32 && n < count; k++, n++) {
      if (r.chance(rawShare)) {
        const plen = vxlanDatagram(r, macs, inner, buf, 28, RAW_MAX, dstMac);
        const src = forgedSource();
        forged.add(src);
        const bad = r.chance(0.02);
        // One at a time: the raw socket's queue holds the buffer until sent.
        await sendRaw(rawPacket(src, 1024 + r.int(64000), plen, bad), bad);
      } else {
        const max = r.chance(0.01) ? 65507 : 9000;
        const plen = vxlanDatagram(r, macs, inner, buf, 28, max, dstMac);
        burst.push(sendUdp(r.pick(udp), Buffer.from(buf.subarray(28, 28 + plen))));
      }
    }
    await Promise.all(burst);
    // Let the target drain: a burst is at most 32 datagrams.
    await new Promise((res) => setTimeout(res, 1));
  }
  stats.sources = forged.size;
  stats.ms = Date.now() - t0;
  rs.close();
  for (const s of udp) s.close();
  process.stdout.write(JSON.stringify(stats) + '\n');
}

main().catch((e: Error) => { process.stderr.write(`fuzz-sender: ${e.stack}\n`); process.exit(1); });
