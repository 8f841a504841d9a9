// The remaining ways a full table can meet weft, each answered without a
// throw into the daemon: `weft fdb add` over the control socket when the
// peer table or the forwarding table is full (a one-line error to the
// client, counted in weft stats and /metrics, logged, nothing changed, the
// socket still answering); learning when a table is full (dropped and
// counted, known traffic unharmed); and a lease a full table refused, taken
// once room is made outside the lease store — by `weft fdb del` or by a
// learned MAC ageing out (ControlPlane listens to the forwarding table's
// onRoom).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Datapath, type DatapathOptions } from '../../src/datapath/datapath.js';
import { LiveHostOps } from '../../src/control/host.js';
import { MemoryStore } from '../../src/control/store.js';
import { ControlPlane } from '../../src/control/control-plane.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { Operations } from '../../src/cli/run-ops.js';
import { AdminClient } from '../../src/admin/client.js';
import { Commands } from '../../src/admin/commands.js';
import { formatStats } from '../../src/admin/format.js';
import { createRegistry } from '../../src/metrics/metrics.js';
import { parseMac } from '../../src/wire/mac.js';
import { decapAll } from '../helpers/datapath.js';
import { eth, MAC_A, MAC_B, MAC_C } from '../helpers/packets.js';
import { tempDir } from '../helpers/paths.js';
import { daemonState } from '../helpers/daemon-state.js';
import { until } from '../helpers/store-contract.js';

const tmp = tempDir('cappaths');
test.after(() => tmp.done());
let n = 0;

const vx = (inner: Buffer) => Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 1, 0]), inner]);
const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };

/** The live host ops on a real Datapath, with `ip` recorded instead of run. */
class RecordingHost extends LiveHostOps {
  cmds: string[] = [];
  override async ip(cmds: string[]) { this.cmds.push(...cmds); return []; }
  override ipSync(cmds: string[]) { this.cmds.push(...cmds); return []; }
}

/** A weft's state on `opts`, its JSON log lines, and a control socket path. */
function daemon(opts: DatapathOptions, control: ControlPlane | null = null) {
  const dp = new Datapath({ fdbAgeingMs: 300_000, ...opts });
  const v = dp.addVni(1, { port: 8472 });
  const { st, lines } = daemonState(dp, v, control);
  const path = join(tmp.dir, `w${n++}.sock`);
  return { st, dp, v, lines, path, target: { path, what: `at ${path}` } };
}

async function refusedWith(c: AdminClient, req: object, re: RegExp): Promise<void> {
  try {
    await c.request(req as never);
  } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`${JSON.stringify(req)} was taken by a full table`);
}

test('weft fdb add over the socket: a full peer table or forwarding table answers an error with the flag to raise, counted, logged, nothing changed', async () => {
  const d = daemon({ peerCapacity: 2, fdbMax: 3 });
  const ops = await Operations.start(d.st, { controlSocket: d.path, metrics: null, logFormat: 'json', logLevel: 'debug' });
  const c = await AdminClient.connect(d.target);
  try {
    await c.request({ cmd: 'fdb-add', mac: MAC_A, dst: '198.18.0.2' });
    await c.request({ cmd: 'fdb-add', mac: MAC_B, dst: '198.18.0.3' });
    // A third VTEP: the peer table (2) is full.
    await refusedWith(c, { cmd: 'fdb-add', mac: MAC_C, dst: '198.18.0.4' },
      /^fdb add: the peer table is full \(2 peers\): cannot add a static entry for 198\.18\.0\.4; nothing changed: remove an entry \(weft fdb del\) or raise --peer-capacity$/);
    // A known VTEP fits the peer table; the third entry still fits the forwarding table (3), the fourth does not.
    await c.request({ cmd: 'fdb-add', mac: MAC_C, dst: '198.18.0.3' });
    await refusedWith(c, { cmd: 'fdb-add', mac: '02:00:0a:f4:04:01', dst: '198.18.0.2' },
      /^fdb add: the forwarding table is full \(3 entries\).*raise --fdb-max$/);
    assert.is(d.dp.fdb.size, 3);
    assert.is(d.dp.peers.count, 2);
    assert.equal(d.dp.staticRefused, { peer_table_full: 1, fdb_full: 1, source_set_full: 0 });
    assert.is(d.lines.filter((l) => l.msg === 'fdb: static entry refused: a table is full').length, 2);
    // The socket and the daemon carry on: stats answer, and show the refusals.
    const stats = formatStats(await c.request({ cmd: 'stats' }) as never);
    assert.match(stats, /fdb: entries 3 of 3 .* add-refused peer_table_full 1 fdb_full 1/);
    const text = await createRegistry(d.st, { ready: () => true, capturing: () => false, defaults: false }).metrics();
    assert.match(text, /weft_fdb_add_refused_total\{reason="peer_table_full"\} 1/);
    assert.match(text, /weft_fdb_add_refused_total\{reason="fdb_full"\} 1/);
    // Room made: the same request is taken.
    await c.request({ cmd: 'fdb-del', mac: MAC_C });
    await c.request({ cmd: 'fdb-add', mac: '02:00:0a:f4:04:01', dst: '198.18.0.2' });
    assert.is(d.dp.fdb.size, 3);
  } finally {
    c.close();
    ops.close();
  }
});

test('learning into a full table: a new MAC (fdb full) or a new VTEP (peer table full) is dropped and counted; known MACs keep flowing', () => {
  const dp = new Datapath({ peerCapacity: 1, fdbMax: 1 });
  dp.addVni(1, { port: 8472 });
  const out = decapAll(dp, [
    { payload: vx(eth({ src: MAC_A })), from: '198.18.0.2' }, // learned: the one slot, the one peer
    { payload: vx(eth({ src: MAC_B })), from: '198.18.0.2' }, // a known VTEP, a new MAC: fdb full
    { payload: vx(eth({ src: MAC_C })), from: '198.18.0.3' }, // a new VTEP: peer table full
    { payload: vx(eth({ src: MAC_A })), from: '198.18.0.2' }, // known: delivered
  ]);
  assert.is(out.length, 2);
  assert.is(dp.counters.get('rx_drop_fdb_full'), 1);
  assert.is(dp.counters.get('rx_drop_peer_table_full'), 1);
  assert.is(dp.fdb.size, 1);
  assert.is(dp.peers.count, 1);
});

/** A control plane on a MemoryStore holding remote leases 10.244.2…(1+count).0/24, started on `opts`. */
async function withLeases(count: number, opts: DatapathOptions, before: (dp: Datapath) => void = () => {}) {
  const conf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'test');
  const store = new MemoryStore();
  const attrs = (k: number) => encodeAttrs({ publicIp: `198.18.0.${k}`, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000000 + k });
  for (let k = 2; k < 2 + count; k++) await store.create(sn(`10.244.${k}.0/24`), attrs(k), 3600_000);
  const own = (await store.create(sn('10.244.1.0/24'), attrs(1), 3600_000))!;
  const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(tmp.dir, `s${n++}.env`), renewMarginMs: 3600_000 };
  const log: string[] = [];
  const cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 0x020000000001, mtu: 1450 }, (l) => log.push(l));
  const d = daemon({ knownSourcesOnly: true, ...opts }, cp);
  before(d.dp);
  const h = new RecordingHost(d.dp, d.v);
  await cp.start(d.dp, d.v, 'weft0', h);
  return { cp, h, log, ...d };
}

test('a lease refused for a full forwarding table is taken when weft fdb del makes room', async () => {
  const w = await withLeases(3, { fdbMax: 3, peerCapacity: 8 }, (dp) => dp.addStatic(dp.vnis.get(1)!, parseMac(MAC_A), '198.18.0.50'));
  try {
    assert.is(w.cp.leaseCounts().programmed, 2);
    assert.is(w.cp.leaseCounts().refused.fdb_full, 1);
    assert.not.ok(w.h.cmds.some((c) => c.includes('10.244.4.0/24')), 'nothing routed towards the refused lease');
    new Commands(w.st).fdbDel(MAC_A);
    await until(() => w.cp.leaseCounts().refused.fdb_full === 0, 2000, 'the refused lease to be taken');
    assert.is(w.cp.leaseCounts().programmed, 3);
    assert.ok(w.h.cmds.includes('route replace 10.244.4.0/24 via 10.244.4.0 dev weft0 onlink'), w.h.cmds.join('\n'));
    assert.match(w.log.join('\n'), /lease 10\.244\.4\.0\/24 → vtep 02:00:00:00:00:04 at 198\.18\.0\.4 \(taken now: room was made\)/);
  } finally { w.cp.shutdown(); }
});

test('a lease refused for a full peer table is taken when the learned MACs holding the last peer age out', async () => {
  // A stranger's MAC, learned (sources open) before the leases came, holds one of two peer slots.
  const w = await withLeases(2, { peerCapacity: 2, knownSourcesOnly: false }, (dp) => {
    decapAll(dp, [{ payload: vx(eth({ src: MAC_B })), from: '198.18.0.99' }], 1000);
  });
  try {
    assert.is(w.cp.leaseCounts().programmed, 1);
    assert.is(w.cp.leaseCounts().refused.peer_table_full, 1);
    // Before the ageing time nothing goes and nothing is retried.
    assert.is(w.dp.fdb.age(2000), 0);
    assert.is(w.cp.leaseCounts().refused.peer_table_full, 1);
    assert.is(w.dp.fdb.age(1000 + 300_000), 1);
    await until(() => w.cp.leaseCounts().refused.peer_table_full === 0, 2000, 'the refused lease to be taken');
    assert.is(w.cp.leaseCounts().programmed, 2);
    assert.is(w.dp.peers.ipString(w.dp.fdb.lookupMac(1, 0x020000000003)), '198.18.0.3');
  } finally { w.cp.shutdown(); }
});

test('room made with nothing refused queues nothing; a burst of removals queues one retry', async () => {
  const w = await withLeases(3, { peerCapacity: 8 });
  try {
    const before = w.cp.batches;
    new Commands(w.st).fdbAdd(MAC_A, '198.18.0.50');
    new Commands(w.st).fdbDel(MAC_A);
    await new Promise((r) => setTimeout(r, 20));
    assert.is(w.cp.batches, before, 'no refused lease: no retry');
  } finally { w.cp.shutdown(); }
  const f = await withLeases(3, { fdbMax: 2, peerCapacity: 8 });
  try {
    assert.is(f.cp.leaseCounts().refused.fdb_full, 1);
    const before = f.cp.batches;
    for (let k = 0; k < 3; k++) f.dp.fdb.onRoom?.();
    await until(() => f.cp.batches > before, 2000, 'a retry');
    await new Promise((r) => setTimeout(r, 20));
    assert.is(f.cp.batches, before + 1, 'one retry for the burst');
  } finally { f.cp.shutdown(); }
});

test.run();
