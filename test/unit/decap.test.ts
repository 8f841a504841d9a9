// Decap, table-driven: each row is one datagram and the one outcome it must
// have. Every row runs on a fresh data path with VNI 1 configured, our own
// MAC 02:00:0a:f4:0f:0f on it, and a static entry MAC_C → 198.18.0.3.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import type { CounterName } from '../../src/datapath/counters.js';
import { parseMac } from '../../src/wire/mac.js';
import { eth, vxlan, MAC_A, MAC_B, MAC_C, BCAST } from '../helpers/packets.js';
import { rng } from '../helpers/rng.js';
import { decapAll } from '../helpers/datapath.js';

const OWN = '02:00:0a:f4:0f:0f';
const PEER = '198.18.0.2';

function setup(opts: { strictReserved?: boolean; fdbMax?: number } = {}): Datapath {
  const dp = new Datapath(opts);
  const v = dp.addVni(1, { port: 8472 });
  v.addLocalMac(parseMac(OWN));
  dp.addStatic(v, parseMac(MAC_C), '198.18.0.3');
  return dp;
}

interface Row { name: string; payload: Buffer; from?: string; counter: CounterName; delivered: boolean; strict?: boolean }

const frame = eth({ src: MAC_A, dst: MAC_B });
const rows: Row[] = [
  // The ordinary case: header right, frame delivered, source learned.
  { name: 'valid', payload: vxlan(frame), counter: 'rx_frames', delivered: true },
  // Shorter than the VXLAN header.
  { name: '7 bytes', payload: Buffer.alloc(7, 8), counter: 'rx_drop_too_short', delivered: false },
  // A header but no room for an inner Ethernet header.
  { name: 'header + 13 bytes', payload: vxlan(Buffer.alloc(13, 2)), counter: 'rx_drop_too_short', delivered: false },
  // RFC 7348 §5: the I flag must be set.
  { name: 'I flag clear', payload: vxlan(frame, { flags: 0x00 }), counter: 'rx_drop_no_i_flag', delivered: false },
  // Reserved flag bit: Linux drops (default)…
  { name: 'reserved flag bit', payload: vxlan(frame, { flags: 0x88 }), counter: 'rx_drop_reserved_bits', delivered: false },
  // …reserved 24 bits after the flags…
  { name: 'reserved1 set', payload: vxlan(frame, { r1: 1 }), counter: 'rx_drop_reserved_bits', delivered: false },
  // …and the reserved byte after the VNI.
  { name: 'reserved2 set', payload: vxlan(frame, { r2: 0x80 }), counter: 'rx_drop_reserved_bits', delivered: false },
  // RFC 7348 §5 leniency when asked for: reserved bits ignored.
  { name: 'reserved bits, lenient', payload: vxlan(frame, { flags: 0x88, r1: 7, r2: 1 }), counter: 'rx_frames', delivered: true, strict: false },
  // A VNI nobody configured.
  { name: 'unknown VNI', payload: vxlan(frame, { vni: 2 }), counter: 'rx_drop_unknown_vni', delivered: false },
  // Multicast source MAC cannot be learned and is never legitimate.
  { name: 'multicast source', payload: vxlan(eth({ src: '01:00:5e:00:00:01' })), counter: 'rx_drop_bad_src_mac', delivered: false },
  // Broadcast source: multicast too.
  { name: 'broadcast source', payload: vxlan(eth({ src: BCAST })), counter: 'rx_drop_bad_src_mac', delivered: false },
  // All-zero source MAC.
  { name: 'zero source', payload: vxlan(eth({ src: '00:00:00:00:00:00' })), counter: 'rx_drop_bad_src_mac', delivered: false },
  // Our own MAC coming back from the wire: a loop.
  { name: 'own MAC', payload: vxlan(eth({ src: OWN })), counter: 'rx_drop_own_mac', delivered: false },
  // MAC_C is pinned to 198.18.0.3; the same MAC from 198.18.0.2 contradicts it.
  { name: 'static conflict', payload: vxlan(eth({ src: MAC_C })), counter: 'rx_drop_static_conflict', delivered: false },
  // MAC_C from its own VTEP agrees with the static entry.
  { name: 'static agrees', payload: vxlan(eth({ src: MAC_C })), from: '198.18.0.3', counter: 'rx_frames', delivered: true },
  // 802.1Q-tagged inner frame: carried as it is.
  { name: 'tagged inner frame', payload: vxlan(eth({ vlan: 100 })), counter: 'rx_frames', delivered: true },
  // The largest VNI.
  { name: 'VNI 2^24-1 unknown', payload: vxlan(frame, { vni: 0xffffff }), counter: 'rx_drop_unknown_vni', delivered: false },
];

for (const r of rows) {
  test(`decap: ${r.name} → ${r.counter}`, () => {
    const dp = setup({ strictReserved: r.strict ?? true });
    const out = decapAll(dp, [{ payload: r.payload, from: r.from ?? PEER }]);
    assert.is(dp.counters.get('rx_datagrams'), 1);
    assert.is(dp.counters.get(r.counter), 1, `${r.counter} = ${dp.counters.get(r.counter)}; counters ${JSON.stringify(dp.counters.nonZero())}`);
    assert.is(out.length, r.delivered ? 1 : 0);
    if (r.delivered) {
      // The inner frame comes out byte-exact.
      assert.ok(out[0].frame.equals(r.payload.subarray(8)));
      assert.is(out[0].vni, r.payload.readUIntBE(4, 3));
    }
  });
}

test('decap learns source MAC → source IP with the VNI port, not the source port', () => {
  const dp = setup();
  decapAll(dp, [{ payload: vxlan(frame), from: PEER }], 1000);
  const buf = Buffer.alloc(6);
  buf.writeUIntBE(parseMac(MAC_A), 0, 6);
  const id = dp.fdb.lookup(1, buf, 0);
  assert.ok(id >= 0);
  assert.is(dp.peers.ipString(id), PEER);
  assert.is(dp.peers.port(id), 8472);
  assert.is(dp.counters.get('fdb_learned'), 1);
});

test('decap counts a MAC move and follows it', () => {
  const dp = setup();
  decapAll(dp, [{ payload: vxlan(frame), from: '198.18.0.2' }, { payload: vxlan(frame), from: '198.18.0.4' }]);
  assert.is(dp.counters.get('fdb_moved'), 1);
  assert.is(dp.counters.get('rx_frames'), 2);
  const buf = Buffer.alloc(6);
  buf.writeUIntBE(parseMac(MAC_A), 0, 6);
  assert.is(dp.peers.ipString(dp.fdb.lookup(1, buf, 0)), '198.18.0.4');
});

test('decap: a run from one sender learns once per batch, and a move inside the run is still seen both ways', () => {
  const dp = setup();
  const a = vxlan(eth({ src: MAC_A })), b = vxlan(eth({ src: MAC_B }));
  const run = (from: string, p = a) => ({ payload: p, from });
  const out = decapAll(dp, [run(PEER), run(PEER), run(PEER), run('198.18.0.4'), run('198.18.0.4'), run(PEER), run(PEER, b), run(PEER, b)], 1000);
  assert.is(out.length, 8);
  assert.is(dp.counters.get('fdb_learned'), 2);
  assert.is(dp.counters.get('fdb_moved'), 2);
  assert.is(dp.fdb.stats.refreshed, 0, 'the repeats of one (sender, MAC) in a batch are not learned again');
  const buf = Buffer.alloc(6);
  buf.writeUIntBE(parseMac(MAC_A), 0, 6);
  assert.is(dp.peers.ipString(dp.fdb.lookup(1, buf, 0)), PEER);
  // The next batch refreshes it again, at its own time.
  decapAll(dp, [run(PEER)], 2000);
  assert.is(dp.fdb.stats.refreshed, 1);
});

test('decap: a full table drops frames from new MACs, known MACs keep flowing', () => {
  const dp = setup({ fdbMax: 2 }); // the static entry takes one slot
  const a = vxlan(eth({ src: MAC_A }));
  const b = vxlan(eth({ src: MAC_B }));
  decapAll(dp, [{ payload: a, from: PEER }, { payload: b, from: PEER }, { payload: a, from: PEER }]);
  assert.is(dp.counters.get('rx_drop_fdb_full'), 1);
  assert.is(dp.counters.get('rx_frames'), 2);
  assert.is(dp.fdb.size, 2);
});

test('decap: a batch keeps order and drops only the bad ones', () => {
  const dp = setup();
  const good1 = vxlan(eth({ src: MAC_A, payload: 50 }));
  const bad = vxlan(frame, { flags: 0 });
  const good2 = vxlan(eth({ src: MAC_B, payload: 60 }));
  const out = decapAll(dp, [good1, bad, good2].map((payload) => ({ payload, from: PEER })));
  assert.is(out.length, 2);
  assert.ok(out[0].frame.equals(good1.subarray(8)));
  assert.ok(out[1].frame.equals(good2.subarray(8)));
});

test('decap: the later datagrams of a GRO message give what they give one by one: frames, VNIs, drops, learning', () => {
  const seg = (src: string, payload: number) => eth({ src, dst: MAC_B, payload });
  // One sender's message: the same header and inner source mostly, and every way a datagram may still differ.
  const message: Buffer[] = [
    vxlan(seg(MAC_A, 100)), vxlan(seg(MAC_A, 100)),
    vxlan(seg(MAC_A, 100), { vni: 9 }),            // a VNI not configured here
    vxlan(seg(MAC_A, 100)),
    vxlan(seg(MAC_A, 100), { r2: 1 }),             // a reserved bit
    vxlan(seg('02:00:0a:f4:09:09', 100)),           // another inner source: learned
    vxlan(seg('02:00:0a:f4:09:09', 100)),
    vxlan(seg(OWN, 100)),                           // our own MAC: a loop
    vxlan(seg(MAC_A, 100)),
    vxlan(seg(MAC_A, 100)).subarray(0, 8 + 13),     // too short for an inner Ethernet header
    vxlan(seg(MAC_A, 100)), vxlan(seg(MAC_A, 40)),
  ];
  for (const ecn of [0, 1]) {
    const run = (follows: boolean) => {
      const dp = setup();
      const rx = message.map((payload, i) => ({ payload, from: PEER, ecn, follows: follows && i > 0 }));
      // A second message from another VTEP, in the same batch.
      rx.push({ payload: vxlan(seg(MAC_A, 100)), from: '198.18.0.7', ecn, follows: false }, { payload: vxlan(seg(MAC_A, 100)), from: '198.18.0.7', ecn, follows });
      return { out: decapAll(dp, rx), counters: dp.counters.snapshot(), a: dp.fdb.lookupMac(1, parseMac(MAC_A)) };
    };
    const one = run(false), cut = run(true);
    assert.equal(cut.out, one.out, `ECN ${ecn}: the same frames, in order`);
    assert.equal(cut.counters, one.counters, `ECN ${ecn}: the same counters`);
    assert.is(cut.a, one.a, 'MAC_A learned behind the last sender, both ways');
    assert.is(one.out.length, 10);
    for (const k of ['rx_drop_unknown_vni', 'rx_drop_reserved_bits', 'rx_drop_own_mac', 'rx_drop_too_short'] as const) assert.is(cut.counters[k], 1, k);
    assert.is(cut.counters.fdb_learned, 2, 'MAC_A and the second source');
    assert.is(cut.counters.fdb_moved, 1, 'MAC_A, behind the second sender');
  }
});

test('decap: 200,000 random and mutated datagrams never throw, and every one is counted once', () => {
  const dp = setup();
  const r = rng(42);
  const base = vxlan(eth({ src: MAC_A, payload: 64 }));
  let n = 0;
  for (let round = 0; round < 200; round++) {
    const batch = [];
    for (let k = 0; k < 1000; k++) {
      let p: Buffer;
      const kind = r();
      if (kind < 0.3) {
        p = Buffer.alloc(Math.floor(r() * 120));
        for (let i = 0; i < p.length; i++) p[i] = Math.floor(r() * 256);
      } else {
        p = Buffer.from(base.subarray(0, Math.floor(r() * (base.length + 1))));
        const flips = 1 + Math.floor(r() * 4);
        for (let f = 0; f < flips && p.length > 0; f++) p[Math.floor(r() * Math.min(p.length, 24))] ^= 1 << Math.floor(r() * 8);
      }
      batch.push({ payload: p, from: `198.18.${Math.floor(r() * 4)}.${1 + Math.floor(r() * 200)}` });
    }
    decapAll(dp, batch, round * 1000);
    n += batch.length;
  }
  const c = dp.counters.snapshot();
  const drops = Object.entries(c).filter(([k]) => k.startsWith('rx_drop_')).reduce((a, [, v]) => a + v, 0);
  assert.is(c.rx_datagrams, n);
  assert.is(c.rx_frames + drops, n);
});

test.run();
