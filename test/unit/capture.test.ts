// CaptureSession: the batches the forwarding loop hands it become classic
// pcap that pcap-parser reads back: inner frames as they are (overlay), or
// whole outer frames that a receiving host would accept (underlay), in both
// directions; bounded by a count, and dropping whole batches when the
// reader is behind.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Datapath } from '../../src/datapath/datapath.js';
import { decapBatch } from '../../src/datapath/decap.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../../src/io/batch.js';
import { CaptureSession, type CaptureOptions } from '../../src/capture/capture.js';
import { OuterParser } from '../../src/io/outer.js';
import { readPcapFrames } from '../../src/io/pcap-read.js';
import { parseMac } from '../../src/wire/mac.js';
import { eth, v4words, MAC_A, MAC_B, BCAST } from '../helpers/packets.js';
import { tempDir } from '../helpers/paths.js';

const tmp = tempDir('capture');
test.after(() => tmp.done());

function setup(local = '198.18.0.1', peer = '198.18.0.2') {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, peer);
  dp.addStatic(v, parseMac(MAC_B), peer);
  return { dp, v, local };
}

/** Frames in a slab with headroom, as a TAP read leaves them. */
function frameBatch(frames: Buffer[]): FrameBatch {
  const slab = Buffer.alloc(frames.reduce((a, f) => a + f.length + HEADROOM, 0));
  const b = new FrameBatch(frames.length, slab);
  let at = 0;
  for (const f of frames) { at += HEADROOM; f.copy(slab, at); b.push(at, f.length); at += f.length; }
  return b;
}

/** VXLAN payloads in a slab with their underlay source, as a socket read leaves them. */
function datagramBatch(payloads: Buffer[], from: string, words = v4words(from)): DatagramBatch {
  const slab = Buffer.alloc(payloads.reduce((a, p) => a + p.length + HEADROOM, 0));
  const d = new DatagramBatch(payloads.length, slab);
  let at = 0;
  payloads.forEach((p, i) => {
    at += HEADROOM; p.copy(slab, at);
    d.off[i] = at; d.len[i] = p.length; d.srcAddr.set(words, i * 4); d.srcPort[i] = 40000 + i;
    at += p.length;
  });
  d.count = payloads.length;
  return d;
}

/** A session whose chunks are collected; `read()` writes them to a file and parses it back. */
function session(o: Partial<CaptureOptions> & Pick<CaptureOptions, 'side'>) {
  const chunks: Buffer[] = [];
  let full = 0;
  const s = new CaptureSession({
    count: 1000, sink: (c) => chunks.push(c), backedUp: () => false, onFull: () => { full++; }, nowMs: () => 1_700_000_000_123.456, ...o,
  });
  return {
    s, chunks, full: () => full,
    read: async (name: string) => {
      const file = join(tmp.dir, name);
      writeFileSync(file, Buffer.concat(chunks));
      return readPcapFrames(file);
    },
  };
}

/** One batch each way, as the loop hands them to the hook: each port's input, then what the stage made of it. */
function outward(s: CaptureSession, frames: FrameBatch, sends: SendList): void {
  s.fromTap(frames);
  s.toWire(sends, frames.buf);
}
function inward(s: CaptureSession, dg: DatagramBatch, inner: FrameBatch): void {
  s.fromWire(dg);
  s.toTap(inner);
}

const vxlan = (vni: number, inner: Buffer) => Buffer.concat([Buffer.from([0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), inner]);

test('overlay: the frames read from the TAP and the frames decap passes, byte for byte, in order', async () => {
  const { dp, v } = setup();
  const out = [eth({ dst: MAC_B, src: MAC_A, payload: 60 }), eth({ dst: BCAST, src: MAC_A, payload: 28 })];
  const frames = frameBatch(out);
  const sends = new SendList(8);
  encapBatch(dp, v, frames, sends, 0);
  const back = eth({ dst: MAC_A, src: MAC_B, payload: 100 });
  const dg = datagramBatch([vxlan(1, back), vxlan(9, back)], '198.18.0.2'); // VNI 9 is dropped by decap
  const inner = new FrameBatch(2);
  decapBatch(dp, dg, inner, 0);
  const c = session({ side: 'overlay' });
  outward(c.s, frames, sends);
  inward(c.s, dg, inner);
  assert.is(c.chunks.length, 2, 'one chunk per batch');
  assert.equal(c.chunks[0].readUInt32LE(0), 0xa1b2c3d4, 'the first chunk starts with the pcap header');
  assert.equal((await c.read('overlay.pcap')).map((f) => f.toString('hex')), [...out, back].map((f) => f.toString('hex')));
  assert.is(c.s.frames, 3);
  // Timestamps: the clock's seconds and microseconds.
  assert.is(c.chunks[0].readUInt32LE(24), 1_700_000_000);
  assert.is(c.chunks[0].readUInt32LE(28), 123456);
});

test('underlay: outer frames a receiving host accepts, for each datagram sent (flood copies too) and received', async () => {
  const { dp, v } = setup();
  dp.addFloodPeer(v, '198.18.0.3');
  const frames = frameBatch([eth({ dst: BCAST, src: MAC_A }), eth({ dst: MAC_B, src: MAC_A })]);
  const sends = new SendList(8);
  // A socket that sends everything from its bound port (--src-port-range P-P): encap fills no ports.
  sends.wantSrcPort = false;
  encapBatch(dp, v, frames, sends, 0);
  assert.is(sends.count, 3);
  const dg = datagramBatch([vxlan(1, eth({ dst: MAC_A, src: MAC_B }))], '198.18.0.2');
  const c = session({ side: 'underlay', peers: dp.peers, local: '198.18.0.1', port: 8472 });
  outward(c.s, frames, sends);
  inward(c.s, dg, new FrameBatch(1));
  const got = await c.read('underlay.pcap');
  assert.is(got.length, 4);
  const parser = new OuterParser(8472);
  const d = new DatagramBatch(1);
  const rows = got.map((f) => {
    assert.ok(parser.parse(f, 0, f.length, d, 0), JSON.stringify(parser.counters()));
    const ip = (o: number) => [...f.subarray(o, o + 4)].join('.');
    return `${ip(26)}:${f.readUInt16BE(34)} > ${ip(30)}:${f.readUInt16BE(36)} vni ${f.readUIntBE(d.off[0] + 4, 3)} ${d.len[0]}`;
  });
  assert.equal(rows, [
    '198.18.0.1:8472 > 198.18.0.2:8472 vni 1 68', // the broadcast, to each flood peer
    '198.18.0.1:8472 > 198.18.0.3:8472 vni 1 68',
    '198.18.0.1:8472 > 198.18.0.2:8472 vni 1 68', // the unicast, to MAC_B's VTEP
    '198.18.0.2:40000 > 198.18.0.1:8472 vni 1 68', // received: from the sender's port to ours
  ]);
  // The outer checksums were valid (not merely partial).
  assert.is(parser.counters().udp_csum_partial, 0);
  assert.is(parser.counters().vxlan_datagrams, 4);
  // Per-flow ports: each datagram is shown from the port the list says it left from, with its outer ECN.
  sends.wantSrcPort = true;
  encapBatch(dp, v, frames, sends, 0);
  sends.srcPort[2] = 41234; sends.ecn[2] = 3;
  const c2 = session({ side: 'underlay', peers: dp.peers, local: '198.18.0.1', port: 8472 });
  outward(c2.s, frames, sends);
  const uni = (await c2.read('underlay.pcap'))[2];
  assert.is(uni.readUInt16BE(34), 41234);
  assert.is(uni[15] & 3, 3);
  assert.ok(parser.parse(uni, 0, uni.length, d, 0));
  assert.is(d.ecn[0], 3, 'and replay\'s parser reads it back');
});

test('underlay over IPv6', async () => {
  const { dp, v } = setup('fd00::1', 'fd00::2');
  const frames = frameBatch([eth({ dst: MAC_B, src: MAC_A })]);
  const sends = new SendList(2);
  encapBatch(dp, v, frames, sends, 0);
  const words = [0xfd000000, 0, 0, 2] as [number, number, number, number];
  const dg = datagramBatch([vxlan(1, eth({ dst: MAC_A, src: MAC_B }))], '', words);
  const c = session({ side: 'underlay', peers: dp.peers, local: 'fd00::1', port: 8472 });
  outward(c.s, frames, sends);
  inward(c.s, dg, new FrameBatch(1));
  const got = await c.read('underlay6.pcap');
  const parser = new OuterParser(8472);
  const d = new DatagramBatch(1);
  assert.is(got.length, 2);
  for (const f of got) {
    assert.is(f.readUInt16BE(12), 0x86dd);
    assert.ok(parser.parse(f, 0, f.length, d, 0), JSON.stringify(parser.counters()));
  }
  assert.equal([...d.srcAddr], words, 'the received one is from fd00::2');
});

test('--count: stops after N frames, says so once', async () => {
  const { dp, v } = setup();
  const frames = frameBatch([1, 2, 3].map(() => eth({ dst: MAC_B, src: MAC_A })));
  const sends = new SendList(4);
  encapBatch(dp, v, frames, sends, 0);
  const c = session({ side: 'overlay', count: 2 });
  outward(c.s, frames, sends);
  outward(c.s, frames, sends);
  assert.is((await c.read('count.pcap')).length, 2);
  assert.is(c.full(), 1);
});

test('a backed-up reader: whole batches are dropped and counted, nothing buffered', async () => {
  const { dp, v } = setup();
  const frames = frameBatch([eth(), eth()]);
  const sends = new SendList(4);
  encapBatch(dp, v, frames, sends, 0);
  let behind = true;
  const c = session({ side: 'overlay', backedUp: () => behind });
  outward(c.s, frames, sends);
  assert.is(c.s.dropped, 2);
  assert.is(c.chunks.length, 0);
  behind = false;
  outward(c.s, frames, sends);
  assert.is((await c.read('behind.pcap')).length, 2);
});

test('nothing captured: finish() still hands over a valid, empty pcap', async () => {
  const c = session({ side: 'overlay' });
  c.s.finish();
  assert.is(Buffer.concat(c.chunks).length, 24);
  assert.equal(await c.read('empty.pcap'), []);
});

test('an underlay capture needs the peer table, the local address and the port', () => {
  assert.throws(() => new CaptureSession({ side: 'underlay', count: 1, sink: () => {}, backedUp: () => false, onFull: () => {} }), /needs the peer table/);
});

test.run();
