// The source allow-list (datapath/sources.ts), table-driven: each row is a
// data path set up with some known VTEPs, one valid datagram from some
// underlay address, and the one outcome it must have. Then the set itself:
// reference counts as flood peers and static entries (leases, `weft fdb
// add`) come and go, and churn against a plain Set.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import { SourceSet } from '../../src/datapath/sources.js';
import type { CounterName } from '../../src/datapath/counters.js';
import { parseMac } from '../../src/wire/mac.js';
import { eth, vxlan, v4words, MAC_A, MAC_B, MAC_C } from '../helpers/packets.js';
import { rng } from '../helpers/rng.js';
import { decapAll } from '../helpers/datapath.js';

const P2 = '198.18.0.2', P3 = '198.18.0.3', STRANGER = '198.18.0.66';

interface Row {
  name: string;
  knownOnly: boolean;
  flood?: string[];
  /** [MAC, VTEP] static entries, as --static, leases and `weft fdb add` make. */
  statics?: [string, string][];
  /** MACs whose static entry is removed again before the datagram (a lease that went away). */
  removed?: string[];
  from: string;
  counter: CounterName;
}

const rows: Row[] = [
  // Learning only (no peers): anyone's datagram is taken, as with the Linux vxlan device.
  { name: 'off: a stranger is taken', knownOnly: false, flood: [P2], from: STRANGER, counter: 'rx_frames' },
  // A --peer is a known VTEP.
  { name: 'flood peer', knownOnly: true, flood: [P2], from: P2, counter: 'rx_frames' },
  // Anyone else is dropped before the header is looked at.
  { name: 'stranger', knownOnly: true, flood: [P2], from: STRANGER, counter: 'rx_drop_unknown_source' },
  // A peer given with its own port is the same host: the list is by address.
  { name: 'flood peer with a port', knownOnly: true, flood: [`${P2}:4789`], from: P2, counter: 'rx_frames' },
  // A static entry's VTEP (a lease) is known, though not in the flood list.
  { name: 'static VTEP', knownOnly: true, statics: [[MAC_C, P3]], from: P3, counter: 'rx_frames' },
  // The lease went away: its VTEP is a stranger again.
  { name: 'static removed', knownOnly: true, statics: [[MAC_C, P3]], removed: [MAC_C], from: P3, counter: 'rx_drop_unknown_source' },
  // Two leases at one VTEP, one removed: still known.
  { name: 'one of two statics removed', knownOnly: true, statics: [[MAC_C, P3], [MAC_B, P3]], removed: [MAC_C], from: P3, counter: 'rx_frames' },
  // A static entry moved to another VTEP: the old one is no longer known.
  { name: 'static moved away', knownOnly: true, statics: [[MAC_C, P3], [MAC_C, P2]], from: P3, counter: 'rx_drop_unknown_source' },
  // …and the new one is.
  { name: 'static moved here', knownOnly: true, statics: [[MAC_C, P3], [MAC_C, P2]], from: P2, counter: 'rx_frames' },
  // Leases, nothing programmed yet: nobody is known, everything is dropped.
  { name: 'known only, nobody known yet', knownOnly: true, from: P2, counter: 'rx_drop_unknown_source' },
  // A flood peer stays known when a static entry at the same address goes.
  { name: 'flood peer and static, static removed', knownOnly: true, flood: [P2], statics: [[MAC_C, P2]], removed: [MAC_C], from: P2, counter: 'rx_frames' },
];

for (const r of rows) {
  test(`source allow-list: ${r.name}`, () => {
    const dp = new Datapath({ knownSourcesOnly: r.knownOnly });
    const v = dp.addVni(1, { port: 8472 });
    for (const p of r.flood ?? []) {
      const [ip, port] = p.split(':');
      dp.addFloodPeer(v, ip, port ? Number(port) : undefined);
    }
    for (const [m, ip] of r.statics ?? []) dp.addStatic(v, parseMac(m), ip);
    for (const m of r.removed ?? []) dp.removeStatic(v, parseMac(m));
    const entries = dp.fdb.size;
    const out = decapAll(dp, [{ payload: vxlan(eth({ src: MAC_A, dst: MAC_B })), from: r.from }]);
    assert.is(dp.counters.get(r.counter), 1, JSON.stringify(dp.counters.nonZero()));
    assert.is(out.length, r.counter === 'rx_frames' ? 1 : 0);
    assert.is(dp.counters.get('rx_datagrams'), 1);
    if (r.counter !== 'rx_frames') assert.is(dp.fdb.size, entries, 'nothing learned from a stranger');
  });
}

test('source allow-list: a stranger\'s datagram is dropped whatever it holds (no other reason is counted)', () => {
  const dp = new Datapath({ knownSourcesOnly: true });
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, P2);
  const junk = [Buffer.alloc(3), vxlan(eth(), { flags: 0 }), vxlan(eth(), { vni: 99 }), vxlan(eth({ src: 'ff:ff:ff:ff:ff:ff' }))];
  decapAll(dp, junk.map((payload) => ({ payload, from: STRANGER })));
  assert.equal(dp.counters.nonZero(), { rx_datagrams: 4, rx_drop_unknown_source: 4 });
});

test('source allow-list: known and strangers interleaved in one batch (the per-batch shortcut never lets a stranger by)', () => {
  const dp = new Datapath({ knownSourcesOnly: true });
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, P2);
  dp.addStatic(v, parseMac(MAC_C), P3);
  const from = [P2, P2, STRANGER, P2, P3, STRANGER, STRANGER, P3, '198.18.0.4', P2];
  const out = decapAll(dp, from.map((f, i) => ({ payload: vxlan(eth({ src: `02:00:00:00:01:0${i}` })), from: f })));
  assert.is(out.length, 6);
  assert.is(dp.counters.get('rx_drop_unknown_source'), 4);
});

test('source allow-list: IPv6 VTEPs by address words', () => {
  const dp = new Datapath({ knownSourcesOnly: true });
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, 'fd00:198:18::2');
  const words = (id: number) => [0, 1, 2, 3].map((i) => dp.peers.word(id, i)) as [number, number, number, number];
  const id = dp.peers.internIp('fd00:198:18::2', 8472);
  assert.ok(dp.sources.has(...words(id)));
  assert.is(dp.sources.has(...v4words(P2)), false);
});

test('SourceSet: reference counts', () => {
  const s = new SourceSet(4);
  const a = v4words(P2), b = v4words(P3);
  assert.ok(s.add(...a));
  assert.ok(s.add(...a));
  assert.is(s.count, 1);
  assert.is(s.refCount(...a), 2);
  assert.ok(s.release(...a));
  assert.ok(s.has(...a));
  assert.ok(s.release(...a));
  assert.is(s.has(...a), false);
  assert.is(s.release(...a), false, 'nothing left to release');
  assert.is(s.has(...b), false);
  assert.is(s.count, 0);
});

test('SourceSet: full at its capacity, room again after a release', () => {
  const s = new SourceSet(3);
  for (let i = 1; i <= 3; i++) assert.ok(s.add(...v4words(`10.0.0.${i}`)));
  assert.is(s.add(...v4words('10.0.0.4')), false);
  assert.ok(s.add(...v4words('10.0.0.1')), 'a known address takes another reference');
  s.release(...v4words('10.0.0.2'));
  assert.ok(s.add(...v4words('10.0.0.4')));
  for (const i of [1, 3, 4]) assert.ok(s.has(...v4words(`10.0.0.${i}`)), String(i));
});

test('SourceSet: 20,000 random adds and releases agree with a Map (backward-shift removal keeps every run whole)', () => {
  const s = new SourceSet(256);
  const ref = new Map<number, number>();
  const r = rng(7);
  for (let k = 0; k < 20_000; k++) {
    const a = (Math.floor(r() * 300) + 1) >>> 0; // more addresses than room: some adds are refused
    const w: [number, number, number, number] = [0, 0, 0xffff, a];
    if (r() < 0.55) {
      const ok = s.add(...w);
      assert.is(ok, ref.has(a) || ref.size < 256);
      if (ok) ref.set(a, (ref.get(a) ?? 0) + 1);
    } else {
      assert.is(s.release(...w), ref.has(a));
      if (ref.has(a)) { const n = ref.get(a)! - 1; if (n === 0) ref.delete(a); else ref.set(a, n); }
    }
  }
  assert.is(s.count, ref.size);
  for (let a = 1; a <= 300; a++) assert.is(s.refCount(0, 0, 0xffff, a), ref.get(a) ?? 0, String(a));
});

test.run();
