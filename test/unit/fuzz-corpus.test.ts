// The regression corpus (test/corpus/): packets that once mattered or sit on
// an edge, each replayed alone on a fresh VTEP (the fuzz campaign's, in
// test/helpers/fuzz-world.ts) with the counters it must move, through the
// shipped TAP code (readTapFrames, planTapWrite/sendTapWrite).
//
//   decap/*.bin  a UDP payload as the socket delivers it, from 198.18.0.9,
//                through decap and then the TAP write side.
//   encap/*.bin  a TAP read: the 10-byte virtio-net header, then the frame;
//                through readTapFrames as Tap.read calls it (a TAP opened for --batch 64:
//                64 reads, 4096 frames per batch) and encap on VNI 1.
//
// index.json lists each file, why it is there, and `expect`: the data path
// counters it moves (every drop counter not named must stay 0), and for TAP
// reads `tap`: the read side's counts. Options: `socketLen` (the length the
// socket reported, -1 for a datagram longer than its slot), `lenient`
// (--ignore-reserved), `repeat` (copies in one read), `datagrams` (how many
// encap makes), `tapMarked` (frames written to the TAP marked NEEDS_CSUM
// for a partial checksum), `answers` (ICMP answers to a frame too big for
// VNI 1's MTU of 1500, pmtu.ts).
//
// A crash found by `npm run fuzz` (saved under test/corpus/crashes/) joins
// the corpus once fixed: move it to decap/ or encap/ and add a line here.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../../src/io/batch.js';
import { COUNTER_NAMES } from '../../src/datapath/counters.js';
import { TapReadSlab } from '../../src/io/tap-read.js';
import { TapWritePlan } from '../../src/io/tap-write.js';
import { newTapStats, type TapStats } from '../../src/io/tap.js';
import { v4words } from '../helpers/packets.js';
import { answerTooBig, newReplyBatch } from '../../src/datapath/pmtu.js';
import { newWorld, tapWrite, FakeTapKernel, icmpProblem, MTU } from '../helpers/fuzz-world.js';
import { counterImbalances } from '../helpers/proc-stats.js';
import { ROOT } from '../helpers/paths.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { decapBatch } from '../../src/datapath/decap.js';

interface Entry {
  file: string;
  why: string;
  expect: Record<string, number>;
  tap?: Partial<Record<keyof TapStats, number>>;
  socketLen?: number;
  lenient?: boolean;
  repeat?: number;
  datagrams?: number;
  tapMarked?: number;
  answers?: number;
}

const CORPUS = join(ROOT, 'test/corpus');
const index = JSON.parse(readFileSync(join(CORPUS, 'index.json'), 'utf8')) as { decap: Entry[]; encap: Entry[] };

/** Every counter `expect` names has its value; every other drop counter is 0. */
function checkCounters(c: Record<string, number>, e: Entry): void {
  for (const [k, v] of Object.entries(e.expect)) {
    assert.ok(COUNTER_NAMES.includes(k as never), `${k} is not a counter`);
    assert.is(c[k], v, `${k}: ${JSON.stringify(nonZero(c))}`);
  }
  for (const k of COUNTER_NAMES) {
    if (k.includes('_drop_') && !(k in e.expect) && k !== 'rx_drop_tap') assert.is(c[k], 0, `${k}: ${JSON.stringify(nonZero(c))}`);
  }
  assert.equal(counterImbalances(c), []);
}

function nonZero(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0));
}

test('the corpus holds the edges hostile input must cover (short, flagless, reserved bits, nested, tagged, jumbo, one byte, a tiny MSS), and every file is listed', () => {
  const files = [...index.decap, ...index.encap].map((e) => e.file);
  assert.is(new Set(files).size, files.length, 'a file listed twice');
  for (const f of ['decap/short-header-7.bin', 'decap/i-flag-clear.bin', 'decap/reserved1.bin', 'decap/nested-vxlan.bin', 'decap/vlan-tagged.bin', 'decap/jumbo-9000.bin', 'decap/one-byte.bin', 'encap/one-byte.bin', 'encap/tcp4-super-64k-mss48.bin']) {
    assert.ok(files.includes(f), f);
  }
});

for (const e of index.decap) {
  test(`corpus ${e.file}: ${Object.entries(e.expect).map(([k, v]) => `${k} ${v}`).join(', ')} — ${e.why}`, () => {
    const bytes = readFileSync(join(CORPUS, e.file));
    const w = newWorld(e.lenient ? 'tight' : 'roomy');
    if (!e.lenient) assert.ok(w.dp.strictReserved);
    const slab = Buffer.alloc(HEADROOM + bytes.length + 8);
    bytes.copy(slab, HEADROOM);
    const dg = new DatagramBatch(1, slab);
    dg.off[0] = HEADROOM; dg.len[0] = e.socketLen ?? bytes.length; dg.count = 1;
    dg.srcAddr.set(v4words('198.18.0.9'), 0);
    const out = new FrameBatch(1);
    decapBatch(w.dp, dg, out, 1000);
    checkCounters(w.dp.counters.snapshot(), e);
    assert.is(out.count, e.expect.rx_frames ?? 0);
    if (out.count === 1) assert.ok(out.buf.subarray(out.off[0], out.off[0] + out.len[0]).equals(bytes.subarray(8)), 'the inner frame, byte for byte');
    // The TAP write side, as Tap.write for --batch 64, with offloads (merging) and without.
    for (const merge of [true, false]) {
      const w = new TapWritePlan(4096, merge, MTU, merge);
      const problems: string[] = [];
      assert.is(tapWrite(w, out, newTapStats(), new FakeTapKernel(), (s) => problems.push(s)), out.count);
      assert.equal(problems, []);
      // Unmerged, a frame is marked NEEDS_CSUM only when its checksum is partial.
      if (!merge) assert.is(w.c.csumMarked, e.tapMarked ?? 0, 'frames marked NEEDS_CSUM');
    }
  });
}

for (const e of index.encap) {
  const what = [...Object.entries(e.expect), ...Object.entries(e.tap ?? {})].map(([k, v]) => `${k} ${v}`).join(', ');
  test(`corpus ${e.file}${e.repeat ? ` ×${e.repeat}` : ''}: ${what} — ${e.why}`, () => {
    const bytes = readFileSync(join(CORPUS, e.file));
    const w = newWorld('roomy');
    const tap = new TapReadSlab(64, true);
    const batch = new FrameBatch(TapReadSlab.batchFor(64, true));
    const stats = newTapStats();
    const n = e.repeat ?? 1;
    for (let i = 0; i < n; i++) {
      bytes.copy(tap.slab, tap.rawOffs[i]);
      tap.rawLens[i] = bytes.length;
    }
    const got = tap.fill(n, batch, stats);
    const sends = new SendList(batch.capacity * 3);
    encapBatch(w.dp, w.a, batch, sends, 1000);
    const replies = newReplyBatch();
    const answered = answerTooBig(w.dp, w.a, batch, sends, replies, 1000);
    assert.is(answered, e.answers ?? 0, 'ICMP answers');
    for (let i = 0; i < answered; i++) assert.is(icmpProblem(replies.buf, replies.off[i], replies.len[i], MTU), null);
    checkCounters(w.dp.counters.snapshot(), e);
    assert.is(tap.lost, 0, 'segments dropped uncounted');
    // Every frame read is a plain frame, a super-frame cut into segments, or counted bad.
    assert.is(got - stats.segmentsOut + stats.superFramesIn + stats.badIn, n, `frames read: ${JSON.stringify(stats)}`);
    for (const k of ['badIn', 'superFramesIn', 'segmentsOut', 'csumCompletedIn'] as const) assert.is(stats[k], e.tap?.[k] ?? 0, `${k}: ${JSON.stringify(stats)}`);
    if (e.datagrams !== undefined) assert.is(sends.count, e.datagrams);
  });
}

test.run();
