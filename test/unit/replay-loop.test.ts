// `weft replay` runs the daemon's forwarding loop (datapath/forwarder.ts),
// not the data path alone: decap output is routed by VNI to that VNI's TAP
// (a VNI without one here is dropped as rx_drop_tap), frames too big for the
// MTU are answered with ICMP written into the TAP (and so into OUT),
// learned entries age in capture time, and no timer outlives a replay. The
// pcap twins of the ports (io/pcap-ports.ts) write frames with tails whole.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { replayDecap, replayDecapOn, replayEncap, replayDatapath } from '../../src/cli/replay-run.js';
import { PcapFramePort, RecordTimes } from '../../src/io/pcap-ports.js';
import { FrameBatch } from '../../src/io/batch.js';
import { readPcap, readPcapFrames } from '../../src/io/pcap-read.js';
import { PcapWriter } from '../../src/io/pcap-write.js';
import { PCAPS, WEFT, tempDir } from '../helpers/paths.js';

const V4A = { vni: 42, local: '198.18.0.1', peer: '198.18.0.2' };
const innerA = join(PCAPS, 'kernel-v4-a-inner.pcap');
const outerA = join(PCAPS, 'kernel-v4-a-outer.pcap');
const outerB = join(PCAPS, 'kernel-v4-b-outer.pcap');
/** Offset of the inner frame in an untagged IPv4 outer frame: Ethernet, IPv4 (IHL), UDP, VXLAN. */
const innerAt = (b: Buffer) => 14 + (b[14] & 15) * 4 + 8 + 8;

interface Rec { data: Buffer; sec: number; usec: number }
async function records(path: string): Promise<Rec[]> {
  const out: Rec[] = [];
  await readPcap(path, (d, sec, usec) => { out.push({ data: Buffer.from(d), sec, usec }); });
  return out;
}
function writePcap(path: string, recs: Rec[]): void {
  const w = new PcapWriter(path);
  for (const r of recs) w.write(r.data, 0, r.data.length, r.sec, r.usec);
  w.close();
}

test('decap of a capture with two VNIs, one with a TAP: its frames go to OUT, the other VNI\'s are dropped as rx_drop_tap', async () => {
  const t = tempDir('two-vnis');
  try {
    // The same inner frames encapsulated twice, on VNI 42 and on VNI 43, interleaved.
    const on42 = join(t.dir, '42.pcap'), on43 = join(t.dir, '43.pcap');
    await replayEncap(innerA, on42, { vni: 42, port: 8472, peers: [V4A.peer], statics: [], local: V4A.local });
    await replayEncap(innerA, on43, { vni: 43, port: 8472, peers: [V4A.peer], statics: [], local: V4A.local });
    const a = await records(on42), b = await records(on43);
    const mixed = join(t.dir, 'mixed.pcap');
    writePcap(mixed, a.flatMap((r, i) => [r, b[i]]));

    // The daemon's data path carries both VNIs; this loop serves 42 only.
    const { dp, v } = replayDatapath({ vni: 42, port: 8472, peers: [], statics: [] });
    dp.addVni(43, { port: 8472 });
    const out = join(t.dir, 'out.pcap');
    const r = await replayDecapOn(dp, v, mixed, out);
    const got = await readPcapFrames(out);
    const want = await readPcapFrames(innerA);
    assert.is(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.ok(got[i].equals(want[i]), `frame ${i} differs`);
    assert.is(r.toTap, want.length);
    // Decap passes both (and learns on both); the loop finds no TAP for 43.
    assert.is(dp.counters.get('rx_frames'), 2 * want.length);
    assert.is(dp.counters.get('rx_drop_tap'), want.length);
    assert.is(dp.counters.get('rx_drop_unknown_vni'), 0);
    assert.is(dp.fdb.size, 2);

    // Where the data path does not carry 43 at all, decap drops it first.
    const only = await replayDecap(mixed, out, { vni: 42, port: 8472, peers: [], statics: [] });
    assert.is(only.dp.counters.get('rx_drop_unknown_vni'), want.length);
    assert.is(only.dp.counters.get('rx_drop_tap'), 0);
  } finally { t.done(); }
});

test('encap with --mtu: frames too big are answered with ICMP, written into OUT as the TAP gets them', async () => {
  const t = tempDir('too-big');
  try {
    const inner = await readPcapFrames(innerA);
    // Untagged frames past the MTU + Ethernet header; the capture's are all IPv4 TCP with DF.
    const big = inner.filter((f) => f.length > 1450 + 14);
    assert.ok(big.length >= 2, `fixture has ${big.length} super-frames`);
    const out = join(t.dir, 'out.pcap');
    const r = await replayEncap(innerA, out, { vni: 42, port: 8472, peers: [V4A.peer], statics: [], local: V4A.local, mtu: 1450 });
    const got = await readPcapFrames(out);
    assert.is(r.dp.counters.get('tx_drop_too_big'), big.length);
    assert.is(r.dp.counters.get('icmp_too_big_sent'), big.length);
    assert.is(r.toTap, big.length);
    // One record per frame read: its datagram, or its answer.
    assert.is(got.length, inner.length);
    // The capture is one batch: its datagrams first, then the answers, in the order of the frames they answer.
    const answers = got.slice(inner.length - big.length);
    assert.ok(got.slice(0, inner.length - big.length).every((g) => g.readUInt16BE(36) === 8472), 'outer frames first');
    answers.forEach((g, k) => {
      const f = big[k];
      // Ethernet back to the sender, IPv4 ICMP "fragmentation needed" with the MTU, quoting the frame's IP header.
      assert.ok(g.subarray(0, 6).equals(f.subarray(6, 12)), `answer ${k}: to the sender's MAC`);
      assert.equal([g.readUInt16BE(12), g[14 + 9], g[34], g[35], g.readUInt16BE(40)], [0x0800, 1, 3, 4, 1450]);
      assert.ok(g.subarray(42, 62).equals(f.subarray(14, 34)), `answer ${k}: quotes the IP header`);
    });
    // Without --mtu nothing is too big: the output is what it always was.
    const plain = await replayEncap(innerA, out, { vni: 42, port: 8472, peers: [V4A.peer], statics: [], local: V4A.local });
    assert.is(plain.toTap, 0);
    assert.is(plain.recordsOut, inner.length);
  } finally { t.done(); }
});

test('weft replay --encap --mtu: the summary says where the ICMP answers went; --mtu is refused with --decap', () => {
  const t = tempDir('too-big-cli');
  try {
    const out = join(t.dir, 'o.pcap');
    const r = spawnSync(process.execPath, [WEFT, 'replay', '--encap', innerA, out, '--local', V4A.local, '--peer', V4A.peer, '--vni', '42', '--mtu', '1450'], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /29 written to .*o\.pcap \(21 outer frames, 8 ICMP answers for the TAP as plain Ethernet frames\)/);
    assert.match(r.stderr, /icmp_too_big_sent\s+8/);
    const h = spawnSync(process.execPath, [WEFT, 'replay', '--help'], { encoding: 'utf8' });
    assert.match(h.stdout, /--mtu N/);
    assert.match(h.stdout, /ICMP answers to frames too big for --mtu go\s+into OUT/);
    const d = spawnSync(process.execPath, [WEFT, 'replay', '--decap', outerA, out, '--mtu', '1450'], { encoding: 'utf8' });
    assert.is(d.status, 2);
    assert.match(d.stderr, /--mtu is for --encap/);
  } finally { t.done(); }
});

test('learned entries age in capture time, between batches, and no timer outlives the replay', async () => {
  const t = tempDir('ageing');
  try {
    // Batch 1: host b's VTEP MAC, at t = 1000 s. Batch 2, 400 s later (past
    // the 300 s ageing time): another inner source MAC from the same VTEP.
    const [first] = await records(outerB);
    const later = Buffer.from(first.data);
    const at = innerAt(later);
    later[at + 11] ^= 0x40;                    // the inner source MAC's last byte
    later.writeUInt16BE(0, 14 + (later[14] & 15) * 4 + 6); // IPv4 UDP: no checksum
    const recs: Rec[] = [];
    for (let i = 0; i < 256; i++) recs.push({ data: first.data, sec: 1000, usec: i });
    for (let i = 0; i < 256; i++) recs.push({ data: later, sec: 1400, usec: i });
    const p = join(t.dir, 'gap.pcap');
    writePcap(p, recs);
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const before = timers();
    const r = await replayDecap(p, join(t.dir, 'o.pcap'), { vni: 42, port: 8472, peers: [], statics: [] });
    assert.is(r.recordsOut, 512);
    assert.is(r.dp.fdb.stats.aged, 1);
    const macs: number[] = [];
    r.dp.fdb.forEach((_v, mac) => macs.push(mac));
    assert.equal(macs, [later.readUIntBE(at + 6, 6)]);
    assert.is(timers(), before);
  } finally { t.done(); }
});

test('the TAP twin writes through the TAP write side: a frame longer than the copied head goes out whole, stamped with its record time', async () => {
  const t = tempDir('tails');
  try {
    const p = join(t.dir, 'o.pcap');
    const w = new PcapWriter(p);
    const times = new RecordTimes(4);
    times.sec[2] = 77; times.usec[2] = 5;
    times.sec[3] = 78; times.usec[3] = 6;
    times.base = 1;
    const port = new PcapFramePort({ slots: 4, slabBytes: 0, times }, w);
    // Two frames behind VNET_HDR_LEN bytes each: the first longer than
    // GATHER_HEAD, so its rest is a piece gathered from this buffer.
    const buf = Buffer.alloc(600);
    for (let i = 0; i < 300; i++) buf[16 + i] = i & 0xff;
    buf.fill(0xcc, 340, 400);
    const b = new FrameBatch(2, buf);
    b.push(16, 300); b.from[0] = 1;   // staging slot base + 1 = 2
    b.push(340, 60); b.from[1] = 2;   // slot 3
    assert.is(port.write(b), 2);
    assert.is(port.written, 2);
    w.close();
    const seen: [Buffer, number, number][] = [];
    await readPcap(p, (d, s, u) => seen.push([Buffer.from(d), s, u]));
    assert.is(seen.length, 2);
    assert.ok(seen[0][0].equals(buf.subarray(16, 316)), 'the head and its piece, joined');
    assert.equal([seen[0][1], seen[0][2]], [77, 5]);
    assert.ok(seen[1][0].equals(Buffer.alloc(60, 0xcc)));
    assert.equal([seen[1][1], seen[1][2]], [78, 6]);
  } finally { t.done(); }
});

test.run();
