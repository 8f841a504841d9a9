import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Fdb, LEARN_NEW, LEARN_REFRESHED, LEARN_MOVED, LEARN_STATIC_OK, LEARN_STATIC_CONFLICT, LEARN_FULL,
  type FdbStats,
} from '../../src/fdb/fdb.js';
import { PeerTable } from '../../src/fdb/peers.js';
import { parseMac, formatMac, writeMac } from '../../src/wire/mac.js';
import { rng } from '../helpers/rng.js';

// The hot-path calls read the MAC from a frame; put it where a source MAC
// sits (offset 6) so every row also checks reading at a non-zero offset.
const SRC = 6;
const frame = Buffer.alloc(64);
function src(mac: number): Buffer {
  writeMac(frame, SRC, mac);
  return frame;
}

const A = parseMac('02:00:00:00:00:0a');
const B = parseMac('02:00:00:00:00:0b');
// High bits set in both halves: lo ≥ 2^31 must survive the int32 storage.
const C = parseMac('fe:dc:ba:98:76:54');

function setup(opts: { maxEntries?: number; ageingMs?: number; initialCapacity?: number } = {}) {
  const peers = new PeerTable(16);
  const p1 = peers.internIp('198.18.0.1', 8472);
  const p2 = peers.internIp('198.18.0.2', 8472);
  const p3 = peers.internIp('fd00::3', 8472);
  // Hold the peers like config does, so refcount checks see only the FDB's references (+1).
  peers.ref(p1); peers.ref(p2); peers.ref(p3);
  const fdb = new Fdb({ peers, ...opts });
  return { peers, fdb, p: { p1, p2, p3 } as Record<string, number> };
}

type Step =
  | { op: 'learn'; vni: number; mac: number; peer: string; t: number; want: number; then: string | null }
  | { op: 'static'; vni: number; mac: number; peer: string; want: boolean; then: string | null };

// One table, rows applied in order. `then` is the peer lookup returns afterwards.
const LEARN_STEPS: Step[] = [
  // First frame from A via p1: a new entry.
  { op: 'learn', vni: 10, mac: A, peer: 'p1', t: 1000, want: LEARN_NEW, then: 'p1' },
  // Another frame from A via p1: only the time changes.
  { op: 'learn', vni: 10, mac: A, peer: 'p1', t: 2000, want: LEARN_REFRESHED, then: 'p1' },
  // A now arrives via p2 (the VM migrated): the entry moves.
  { op: 'learn', vni: 10, mac: A, peer: 'p2', t: 3000, want: LEARN_MOVED, then: 'p2' },
  // The same MAC in another VNI is another entry; VNI 10 is untouched.
  { op: 'learn', vni: 20, mac: A, peer: 'p3', t: 3000, want: LEARN_NEW, then: 'p3' },
  // A static entry for B via p1.
  { op: 'static', vni: 10, mac: B, peer: 'p1', want: true, then: 'p1' },
  // A frame from B via p1 agrees with the static entry: no change.
  { op: 'learn', vni: 10, mac: B, peer: 'p1', t: 4000, want: LEARN_STATIC_OK, then: 'p1' },
  // A frame from B via p2 disagrees: refused, entry unchanged (the caller drops the frame).
  { op: 'learn', vni: 10, mac: B, peer: 'p2', t: 5000, want: LEARN_STATIC_CONFLICT, then: 'p1' },
  // A static entry over the learned A in VNI 10 replaces it…
  { op: 'static', vni: 10, mac: A, peer: 'p3', want: true, then: 'p3' },
  // …and learning can no longer move it.
  { op: 'learn', vni: 10, mac: A, peer: 'p2', t: 6000, want: LEARN_STATIC_CONFLICT, then: 'p3' },
  // A MAC with the top bits of both halves set round-trips.
  { op: 'learn', vni: 0xffffff, mac: C, peer: 'p2', t: 7000, want: LEARN_NEW, then: 'p2' },
];

test('learn outcomes, row by row', () => {
  const { fdb, peers, p } = setup();
  for (const [n, s] of LEARN_STEPS.entries()) {
    const where = `row ${n}`;
    if (s.op === 'learn') assert.is(fdb.learn(s.vni, src(s.mac), SRC, p[s.peer], s.t), s.want, where);
    else assert.is(fdb.addStatic(s.vni, s.mac, p[s.peer]), s.want, where);
    assert.is(fdb.lookup(s.vni, src(s.mac), SRC), s.then === null ? -1 : p[s.then], where);
    assert.is(fdb.lookupMac(s.vni, s.mac), s.then === null ? -1 : p[s.then], where);
  }
  assert.equal(fdb.stats, {
    entries: 4, learned: 3, moved: 1, refreshed: 1, full: 0, staticConflicts: 2, aged: 0, removed: 0,
  } satisfies FdbStats);
  assert.is(fdb.size, 4);
  // Entries: (10,A)→p3 static, (20,A)→p3, (10,B)→p1 static, (0xffffff,C)→p2; plus config's own reference.
  assert.is(peers.refCount(p.p1), 1 + 1);
  assert.is(peers.refCount(p.p2), 1 + 1);
  assert.is(peers.refCount(p.p3), 1 + 2);
  // Misses: unknown MAC, known MAC in an unknown VNI.
  assert.is(fdb.lookupMac(10, C), -1);
  assert.is(fdb.lookupMac(30, A), -1);
});

test('forEach lists every entry with its MAC, peer, static flag and time', () => {
  const { fdb, p } = setup();
  fdb.learn(10, src(C), SRC, p.p1, 1234);
  fdb.addStatic(20, A, p.p2);
  const rows: string[] = [];
  fdb.forEach((vni, mac, peer, isStatic, seen) => rows.push(`${vni} ${formatMac(mac)} ${peer} ${isStatic} ${seen}`));
  assert.equal(rows.sort(), [`10 fe:dc:ba:98:76:54 ${p.p1} false 1234`, `20 02:00:00:00:00:0a ${p.p2} true 0`]);
});

test('full: a new MAC is refused and counted; existing entries keep working', () => {
  const { fdb, p } = setup({ maxEntries: 3 });
  for (let i = 1; i <= 3; i++) assert.is(fdb.learn(10, src(i), SRC, p.p1, 0), LEARN_NEW);
  assert.is(fdb.learn(10, src(4), SRC, p.p1, 0), LEARN_FULL);      // new MAC: refused
  assert.is(fdb.lookupMac(10, 4), -1);
  assert.is(fdb.stats.full, 1);
  assert.is(fdb.learn(10, src(2), SRC, p.p1, 5), LEARN_REFRESHED); // existing: still learns
  assert.is(fdb.learn(10, src(3), SRC, p.p2, 5), LEARN_MOVED);     // and still moves
  assert.is(fdb.addStatic(10, 4, p.p1), false);                     // a new static is refused too
  assert.is(fdb.addStatic(10, 1, p.p2), true);                      // over an existing entry is fine
  for (let i = 1; i <= 3; i++) assert.ok(fdb.lookupMac(10, i) >= 0);
  assert.is(fdb.size, 3);
  // Room again after a removal.
  assert.ok(fdb.remove(10, 2));
  assert.is(fdb.learn(10, src(4), SRC, p.p1, 9), LEARN_NEW);
});

// Ageing with ageingMs = 1000, time always explicit. `learn` rows are
// [t, peer] pairs applied to MAC A in VNI 10 before age(at).
const AGE_ROWS: Array<{ what: string; learn: Array<[number, string]>; static?: boolean; at: number; removed: number }> = [
  // Learned at 5000: 1 ms before the limit it stays.
  { what: 'kept 1 ms before', learn: [[5000, 'p1']], at: 5999, removed: 0 },
  // Exactly last-seen + ageingMs: removed (the boundary is ≤).
  { what: 'removed at exactly ageingMs', learn: [[5000, 'p1']], at: 6000, removed: 1 },
  // A refresh at 5500 restarts the clock from that frame…
  { what: 'refresh restarts the clock', learn: [[5000, 'p1'], [5500, 'p1']], at: 6499, removed: 0 },
  // …so it goes at 6500.
  { what: 'refreshed entry ages from the refresh', learn: [[5000, 'p1'], [5500, 'p1']], at: 6500, removed: 1 },
  // A move counts as a frame seen too.
  { what: 'a move restarts the clock', learn: [[5000, 'p1'], [5500, 'p2']], at: 6000, removed: 0 },
  // A static entry never ages, however late.
  { what: 'static never ages', learn: [], static: true, at: 1e15, removed: 0 },
  // A static put over a learned entry stops it ageing.
  { what: 'static over learned never ages', learn: [[5000, 'p1']], static: true, at: 1e15, removed: 0 },
];

for (const r of AGE_ROWS) {
  test(`ageing: ${r.what}`, () => {
    const { fdb, p } = setup({ ageingMs: 1000 });
    for (const [t, peer] of r.learn) fdb.learn(10, src(A), SRC, p[peer], t);
    if (r.static) fdb.addStatic(10, A, p.p3);
    assert.is(fdb.age(r.at), r.removed);
    assert.is(fdb.lookupMac(10, A) === -1, r.removed === 1);
    assert.is(fdb.stats.aged, r.removed);
  });
}

test('ageing removes only the expired entries among many', () => {
  const { fdb, p } = setup({ ageingMs: 1000 });
  for (let i = 0; i < 3000; i++) fdb.learn(1, src(0x020000000000 + i), SRC, p.p1, i % 2 === 0 ? 0 : 500);
  fdb.addStatic(1, 0x020000000000 + 2, p.p2); // an even one, made static
  assert.is(fdb.age(1000), 1499);             // the even ones, but not the static one
  assert.is(fdb.size, 1501);
  for (let i = 0; i < 3000; i++) {
    const want = i === 2 ? p.p2 : i % 2 === 0 ? -1 : p.p1;
    assert.is(fdb.lookupMac(1, 0x020000000000 + i), want);
  }
  assert.is(fdb.age(1500), 1500);             // the odd ones
  assert.is(fdb.size, 1);
});

test('remove and re-add', () => {
  const { fdb, p, peers } = setup();
  fdb.learn(10, src(A), SRC, p.p1, 0);
  fdb.addStatic(10, B, p.p1);
  assert.is(peers.refCount(p.p1), 3);
  assert.ok(fdb.remove(10, A));               // learned entry
  assert.ok(fdb.remove(10, B));               // static entry
  assert.is(peers.refCount(p.p1), 1);         // both references given back
  assert.not.ok(fdb.remove(10, A));           // already gone
  assert.is(fdb.lookupMac(10, A), -1);
  assert.is(fdb.learn(10, src(A), SRC, p.p2, 1), LEARN_NEW);
  assert.is(fdb.lookupMac(10, A), p.p2);
  assert.is(fdb.stats.removed, 2);
  assert.is(fdb.size, 1);
});

test('VNI isolation: one MAC in two VNIs is two entries', () => {
  const { fdb, p } = setup();
  assert.is(fdb.learn(0, src(A), SRC, p.p1, 0), LEARN_NEW);
  assert.is(fdb.learn(0xffffff, src(A), SRC, p.p2, 0), LEARN_NEW);
  assert.is(fdb.size, 2);
  assert.is(fdb.lookupMac(0, A), p.p1);
  assert.is(fdb.lookupMac(0xffffff, A), p.p2);
  assert.ok(fdb.remove(0, A));
  assert.is(fdb.lookupMac(0xffffff, A), p.p2);
});

test('peer refcounts: the FDB holds peers; ageing frees them and their ids are reused', () => {
  const peers = new PeerTable(4);
  const fdb = new Fdb({ peers, ageingMs: 1000 });
  const x = peers.internIp('198.18.0.10', 8472);
  const y = peers.internIp('198.18.0.11', 8472);
  for (const mac of [A, B, C]) fdb.learn(5, src(mac), SRC, x, 0);
  assert.is(peers.refCount(x), 3);
  assert.is(fdb.learn(5, src(C), SRC, y, 10), LEARN_MOVED);
  assert.is(peers.refCount(x), 2);
  assert.is(peers.refCount(y), 1);
  // A refused learn takes no reference; the caller may release the peer.
  fdb.addStatic(5, A, x);
  const z = peers.internIp('198.18.0.12', 8472);
  assert.is(fdb.learn(5, src(A), SRC, z, 20), LEARN_STATIC_CONFLICT);
  assert.is(peers.refCount(z), 0);
  assert.ok(peers.releaseIfUnused(z));
  // Ageing drops B (x) and C (y); y had no other holder and is freed.
  assert.is(fdb.age(1010), 2);
  assert.not.ok(peers.has(y));
  assert.is(peers.refCount(x), 1);            // the static A
  fdb.clear();
  assert.is(peers.count, 0);
  assert.is(fdb.size, 0);
  // Freed ids come back.
  const again = peers.internIp('fd00::99', 4789);
  assert.ok(again === x || again === y || again === z);
  // A free id is a bug in the caller, not a silent entry.
  assert.throws(() => fdb.learn(5, src(A), SRC, 3, 0), /not a live peer/);
  assert.is(fdb.size, 0);
});

// Backward-shift deletion under churn. The FDB and a Map model get the same
// seeded random mix of learns, statics, removals and ageing over a small key
// space, so probe runs collide and entries are shifted constantly. Every
// result must match the model; every 1000 ops every key, the size and the
// peer refcounts are compared in full.
interface ModelEntry { peer: number; isStatic: boolean; seen: number }

function modelTest(seed: number, ops: number, maxEntries: number, macsPerVni: number, initialCapacity?: number): void {
  const rnd = rng(seed);
  const peers = new PeerTable(8);
  const ids = [0, 1, 2, 3, 4].map((i) => peers.intern(0, 0, 0xffff, 0xc6120000 + i, 8472));
  for (const id of ids) peers.ref(id);
  const AGEING = 5000;
  const fdb = new Fdb({ peers, maxEntries, ageingMs: AGEING, initialCapacity });
  const model = new Map<number, ModelEntry>();
  const VNIS = [1, 2, 0xabcdef];
  const key = (v: number, m: number) => v * macsPerVni + m;
  // MACs spread over both halves, including lo ≥ 2^31.
  const macOf = (m: number) => ((m * 0x9e3779b1) >>> 0) + (m & 0xff) * 0x100000000 + 0x020000000000;
  let now = 0;

  const checkAll = () => {
    assert.is(fdb.size, model.size);
    const refs = new Map<number, number>();
    for (let v = 0; v < VNIS.length; v++) {
      for (let m = 0; m < macsPerVni; m++) {
        const e = model.get(key(v, m));
        assert.is(fdb.lookupMac(VNIS[v], macOf(m)), e ? e.peer : -1);
        if (e) refs.set(e.peer, (refs.get(e.peer) ?? 0) + 1);
      }
    }
    for (const id of ids) assert.is(peers.refCount(id), 1 + (refs.get(id) ?? 0));
  };

  for (let op = 0; op < ops; op++) {
    now += Math.floor(rnd() * 20);
    const v = Math.floor(rnd() * VNIS.length), m = Math.floor(rnd() * macsPerVni);
    const k = key(v, m), vni = VNIS[v], mac = macOf(m);
    const peer = ids[Math.floor(rnd() * ids.length)];
    const e = model.get(k);
    const r = rnd();
    if (r < 0.6) {
      let want: number;
      if (e === undefined) {
        if (model.size >= maxEntries) want = LEARN_FULL;
        else { want = LEARN_NEW; model.set(k, { peer, isStatic: false, seen: now }); }
      } else if (e.isStatic) want = e.peer === peer ? LEARN_STATIC_OK : LEARN_STATIC_CONFLICT;
      else { want = e.peer === peer ? LEARN_REFRESHED : LEARN_MOVED; e.peer = peer; e.seen = now; }
      assert.is(fdb.learn(vni, src(mac), SRC, peer, now), want);
    } else if (r < 0.65) {
      const ok = e !== undefined || model.size < maxEntries;
      if (ok) model.set(k, { peer, isStatic: true, seen: 0 });
      assert.is(fdb.addStatic(vni, mac, peer), ok);
    } else if (r < 0.85) {
      model.delete(k);
      assert.is(fdb.remove(vni, mac), e !== undefined);
    } else if (r < 0.86) {
      let gone = 0;
      for (const [kk, ee] of model) if (!ee.isStatic && ee.seen + AGEING <= now) { model.delete(kk); gone++; }
      assert.is(fdb.age(now), gone);
    }
    const after = model.get(k);
    assert.is(fdb.lookupMac(vni, mac), after ? after.peer : -1);
    if (op % 1000 === 999) checkAll();
  }
  checkAll();
}

test('random ops against a Map model, near the load limit (seeded)', () => {
  // maxEntries 300 → 512 slots, load up to 0.59; 600 keys, so the table is often full.
  modelTest(1, 50_000, 300, 200);
});

test('random ops against a Map model, growing from 16 slots (seeded)', () => {
  modelTest(2, 50_000, 5000, 2000, 16);
});

test('1,000,000 entries: all found, memory under 64 MB; 1,000 entries under 200 KB', () => {
  const N = 1_000_000;
  const peers = new PeerTable();
  const p = peers.internIp('198.18.0.2', 8472);
  const fdb = new Fdb({ peers, maxEntries: N });
  const macs = Buffer.alloc(N * 6);
  for (let i = 0; i < N; i++) {
    // Distinct: the low 32 bits are a bijection of i.
    writeMac(macs, i * 6, 0x020000000000 + (i & 0xff) * 0x100000000 + ((Math.imul(i, 0x9e3779b1)) >>> 0));
  }
  for (let i = 0; i < N; i++) {
    if (fdb.learn(7, macs, i * 6, p, 0) !== LEARN_NEW) assert.unreachable(`entry ${i} not new`);
  }
  assert.is(fdb.size, N);
  assert.is(fdb.learn(7, src(A), SRC, p, 0), LEARN_FULL);
  for (let i = 0; i < N; i++) {
    if (fdb.lookup(7, macs, i * 6) !== p) assert.unreachable(`entry ${i} not found`);
  }
  assert.is(fdb.lookup(8, macs, 0), -1);
  assert.is(peers.refCount(p), N);
  assert.ok(fdb.memoryBytes() < 64 * 1024 * 1024, `${fdb.memoryBytes()} bytes`);
  assert.is(fdb.capacity, 2 ** 21); // and never more, whatever maxEntries asks

  const small = new Fdb({ peers, maxEntries: N });
  for (let i = 0; i < 1000; i++) small.learn(7, macs, i * 6, p, 0);
  assert.is(small.size, 1000);
  assert.ok(small.memoryBytes() < 200 * 1024, `${small.memoryBytes()} bytes`);
});

test.run();
