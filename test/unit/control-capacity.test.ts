// A full table is a state, not a crash: with small capacities, every way a
// lease or a static entry can meet a full table (the peer table, the
// forwarding table, the source allow-list) refuses that one entry, counts it,
// says so once with the flag to raise, keeps everything that fitted, and
// takes the refused lease once a removal makes room. The host side is the
// live one (LiveHostOps: weft's own tables) with the `ip` commands recorded
// instead of run.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Reconciler, type LeaseChange, type RemoteLease } from '../../src/control/reconcile.js';
import { IP_BATCH_MAX, LiveHostOps, ipRuns } from '../../src/control/host.js';
import { MemoryStore } from '../../src/control/store.js';
import { ControlPlane, leasePeerCapacity } from '../../src/control/control-plane.js';
import { PEER_CAPACITY_CEILING } from '../../src/control/defaults.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { Datapath, TableFullError, type DatapathOptions } from '../../src/datapath/datapath.js';
import { createRegistry } from '../../src/metrics/metrics.js';
import { Commands } from '../../src/admin/commands.js';
import { formatPeers, formatStats } from '../../src/admin/format.js';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { UsageError } from '../../src/config/errors.js';
import type { DaemonState } from '../../src/daemon/state.js';
import { tempDir } from '../helpers/paths.js';
import { until } from '../helpers/store-contract.js';

const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const remote = (n: number, ip = `198.18.0.${n}`): RemoteLease => ({ subnet: sn(`10.244.${n}.0/24`), publicIp: ip, vtepMac: 0x020000000000 + n, revision: n });
const add = (l: RemoteLease, old: RemoteLease | null = null): LeaseChange => ({ type: 'add', lease: l, old });
const rm = (l: RemoteLease): LeaseChange => ({ type: 'remove', lease: l });

/** The live host ops on a real Datapath, with `ip` recorded. */
class RecordingHost extends LiveHostOps {
  cmds: string[] = [];
  override async ip(cmds: string[]) { this.cmds.push(...cmds); return []; }
  override ipSync(cmds: string[]) { this.cmds.push(...cmds); return []; }
}

function rig(opts: DatapathOptions) {
  const dp = new Datapath({ knownSourcesOnly: true, ...opts });
  const v = dp.addVni(1, { port: 8472 });
  const h = new RecordingHost(dp, v);
  const log: string[] = [];
  const r = new Reconciler(h, 'weft0', (l) => log.push(l));
  const refusedLogs = () => log.filter((l) => /refused/.test(l));
  return { dp, v, h, r, log, refusedLogs };
}

test('datapath: a full peer table refuses a static entry and changes nothing; addStatic throws a TableFullError', () => {
  const dp = new Datapath({ peerCapacity: 2 });
  const v = dp.addVni(1, { port: 8472 });
  assert.is(dp.tryAddStatic(v, 0x0200000000a1, '198.18.0.1'), null);
  assert.is(dp.tryAddStatic(v, 0x0200000000a2, '198.18.0.2'), null);
  assert.is(dp.tryAddStatic(v, 0x0200000000a3, '198.18.0.3'), 'peer_table_full');
  assert.is(dp.fdb.size, 2);
  assert.is(dp.sources.count, 2);
  assert.is(dp.peers.count, 2);
  // A MAC moved to an address already known still fits.
  assert.is(dp.tryAddStatic(v, 0x0200000000a3, '198.18.0.2'), null);
  try {
    dp.addStatic(v, 0x0200000000a4, '198.18.0.4');
    assert.unreachable('a full table must refuse');
  } catch (e) {
    assert.instance(e, TableFullError);
    assert.is((e as TableFullError).reason, 'peer_table_full');
    assert.match((e as Error).message, /the peer table is full \(2 peers\)/);
  }
  assert.throws(() => dp.addFloodPeer(v, '198.18.0.5'), /peer table is full/);
});

test('datapath: a full forwarding table refuses a static entry and gives the peer and the source back', () => {
  const dp = new Datapath({ fdbMax: 1, peerCapacity: 8 });
  const v = dp.addVni(1, { port: 8472 });
  assert.is(dp.tryAddStatic(v, 0x0200000000a1, '198.18.0.1'), null);
  assert.is(dp.tryAddStatic(v, 0x0200000000a2, '198.18.0.2'), 'fdb_full');
  assert.is(dp.peers.count, 1, 'the peer interned for the refused entry is released');
  assert.is(dp.sources.count, 1);
  assert.is(dp.sources.refCount(0, 0, 0xffff, 0xc6120002), 0);
  assert.match(dp.refusalText('fdb_full'), /forwarding table is full \(1 entries\)/);
});

test('reconciler: leases beyond the peer table are refused, counted, logged once with the flag; a removal makes room and the oldest refused is taken', async () => {
  const { dp, h, r, log, refusedLogs } = rig({ peerCapacity: 3 });
  const ls = [1, 2, 3, 4, 5].map((n) => remote(n));
  await r.apply(ls.map((l) => add(l)));
  assert.equal([...r.programmed.keys()], ['10.244.1.0-24', '10.244.2.0-24', '10.244.3.0-24']);
  assert.equal([...r.refused.values()].map((x) => `${x.lease.publicIp} ${x.reason}`), ['198.18.0.4 peer_table_full', '198.18.0.5 peer_table_full']);
  assert.is(r.refusedTotal.get('peer_table_full'), 2);
  assert.is(refusedLogs().length, 1, log.join('\n'));
  assert.match(refusedLogs()[0], /lease 10\.244\.4\.0\/24 \(198\.18\.0\.4\) refused: the peer table is full \(3 peers\).*raise --peer-capacity/);
  // Nothing is routed towards a refused lease.
  assert.not.ok(h.cmds.some((c) => c.includes('10.244.4.0')));
  assert.is(dp.fdb.size, 3);

  h.cmds = [];
  await r.apply([rm(ls[1])]);
  assert.ok(r.programmed.has('10.244.4.0-24'), 'the first refused lease is taken');
  assert.equal([...r.refused.keys()], ['10.244.5.0-24']);
  assert.ok(h.cmds.includes('route replace 10.244.4.0/24 via 10.244.4.0 dev weft0 onlink'), h.cmds.join('\n'));
  assert.ok(dp.fdb.lookupMac(1, 0x020000000004) >= 0);
  assert.is(r.refusedTotal.get('peer_table_full'), 2, 'a retry that fails again is not a new refusal');
  assert.is(refusedLogs().length, 1, 'not logged again while the table stays full');

  // A refused lease that goes away is simply forgotten.
  await r.apply([rm(ls[4])]);
  assert.is(r.refused.size, 0);
  // The table filling again later is logged again.
  await r.apply([add(remote(6))]);
  assert.is(refusedLogs().length, 2);
});

test('reconciler: a changed lease that no longer fits takes down what the subnet had, and is taken when room is made', async () => {
  const { dp, h, r } = rig({ peerCapacity: 2 });
  const a = remote(1), b = remote(2);
  await r.apply([add(a), add(b)]);
  const moved = { ...a, publicIp: '198.18.9.9', revision: 10 };
  h.cmds = [];
  await r.apply([add(moved, a)]);
  // The old VTEP's entry went; with its peer freed, the retry took the new address.
  assert.ok(h.cmds.includes('route del 10.244.1.0/24 via 10.244.1.0 dev weft0'), h.cmds.join('\n'));
  assert.is(r.programmed.get('10.244.1.0-24')?.publicIp, '198.18.9.9');
  assert.is(r.refused.size, 0);
  assert.is(dp.peers.ipString(dp.fdb.lookupMac(1, a.vtepMac!)), '198.18.9.9');
});

test('reconciler: a lease the host cannot take at all is refused as invalid, never thrown', async () => {
  const { r, log } = rig({ peerCapacity: 4 });
  await r.apply([add(remote(1, 'not-an-address')), add(remote(2))]);
  assert.equal([...r.refused.values()].map((x) => x.reason), ['invalid']);
  assert.ok(r.programmed.has('10.244.2.0-24'));
  assert.match(log.join('\n'), /lease 10\.244\.1\.0\/24 refused: peer address "not-an-address"/);
});

test('reconciler: a full forwarding table refuses with fdb_full and names --fdb-max', async () => {
  const { r, refusedLogs } = rig({ peerCapacity: 8, fdbMax: 2 });
  await r.apply([1, 2, 3].map((n) => add(remote(n))));
  assert.equal([...r.refused.values()].map((x) => x.reason), ['fdb_full']);
  assert.match(refusedLogs()[0], /forwarding table is full \(2 entries\).*raise --fdb-max/);
});

test('control plane: 20 leases into a peer table of 8 start without a throw; counters, metrics, weft stats and weft peers show the refusals', async () => {
  const t = tempDir('cap');
  try {
    const conf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'test');
    const store = new MemoryStore();
    const put = async (n: number) => (await store.create(sn(`10.244.${n}.0/24`), encodeAttrs({ publicIp: `198.18.0.${n}`, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000000 + n }), 3600_000))!;
    for (let n = 2; n <= 21; n++) await put(n);
    const own = (await store.create(sn('10.244.1.0/24'), encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 0x020000000001 }), 3600_000))!;
    const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(t.dir, 'subnet.env'), renewMarginMs: 3600_000 };
    const log: string[] = [];
    const cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 0x020000000001, mtu: 1450 }, (l) => log.push(l));
    const dp = new Datapath({ peerCapacity: 8, knownSourcesOnly: true });
    const v = dp.addVni(1, { port: 8472 });
    const h = new RecordingHost(dp, v);
    await cp.start(dp, v, 'weft0', h);
    assert.equal(cp.leaseCounts(), {
      programmed: 8,
      families: { ipv4: 8, ipv6: 0 },
      paths: { ipv4: { vxlan: 8, udp: 0, direct: 0 }, ipv6: { vxlan: 0, udp: 0, direct: 0 } },
      refused: { peer_table_full: 12, fdb_full: 0, source_set_full: 0, invalid: 0, off_segment: 0 },
      refusedTotal: { peer_table_full: 12, fdb_full: 0, source_set_full: 0, invalid: 0, off_segment: 0 },
    });
    assert.ok(log.some((l) => /8 remote leases programmed, 12 refused/.test(l)), log.join('\n'));
    assert.is(log.filter((l) => /refused: the peer table is full/.test(l)).length, 1);

    const st = { dp, v, fwd: { batchSizes: { cumulative: () => [], sum: [0, 0], count: [0, 0] }, capture: null }, tap: 'weft0', family: 4, local: null, port: 8472, startedMs: Date.now(), io: null, control: cp, log: null } as unknown as DaemonState;
    const text = await createRegistry(st, { ready: () => true, capturing: () => false, defaults: false }).metrics();
    assert.match(text, /weft_leases_refused_total\{reason="peer_table_full"\} 12/);
    assert.match(text, /weft_leases_refused\{reason="peer_table_full"\} 12/);
    assert.match(text, /weft_remote_leases 8/);
    assert.match(text, /weft_remote_lease_paths\{path="vxlan",family="ipv4"\} 8/);
    assert.match(text, /weft_remote_lease_paths\{path="direct",family="ipv4"\} 0/);
    // No direct paths in this network: no route check to count.
    assert.not.match(text, /weft_direct_routes_restored_total/);
    assert.match(text, /weft_remote_lease_sides\{family="ipv4"\} 8/);
    assert.match(text, /weft_remote_lease_sides\{family="ipv6"\} 0/);
    assert.match(text, /weft_peer_capacity 8/);
    const cmds = new Commands(st);
    const stats = formatStats(cmds.stats());
    assert.match(stats, /peers: vteps 8 of 8/);
    assert.match(stats, /leases: programmed 8 refused 12 \(now: peer_table_full 12; since start: peer_table_full 12\)/);
    const peers = formatPeers(cmds.peers());
    assert.is(peers.split('\n').filter((l) => / REFUSED peer_table_full$/.test(l)).length, 12, peers);

    // Room made by a removal: one refused lease is taken.
    await store.delete(sn('10.244.2.0/24'));
    await until(() => cp.leaseCounts().refused.peer_table_full === 11, 2000, 'a refused lease taken');
    assert.is(cp.leaseCounts().programmed, 8);
    cp.shutdown();
    assert.is(dp.fdb.size, 0);
  } finally { t.done(); }
});

test('peer capacity: from the network with a lease store (2^(SubnetLen − prefix), within the ceiling), else the flag', () => {
  const cap = (json: string) => leasePeerCapacity(parseNetConf(json, 'test'));
  assert.is(cap('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'), 256);
  assert.is(cap('{"Network": "10.0.0.0/8", "SubnetLen": 22, "Backend": {"Type": "vxlan"}}'), 16384);
  assert.is(cap('{"Network": "10.0.0.0/8", "SubnetLen": 28, "Backend": {"Type": "vxlan"}}'), PEER_CAPACITY_CEILING);
  assert.is(resolveRunConfig({ 'peer-capacity': '8' }).peerCapacity, 8);
  assert.is(resolveRunConfig({}).peerCapacity, null);
  assert.throws(() => resolveRunConfig({ 'peer-capacity': '0' }), /--peer-capacity/);
});

test('--peer and --static beyond the tables are a usage error at start (exit 2), naming the flag to raise', () => {
  const peers = { peer: ['198.18.0.2', '198.18.0.3'], static: ['02:00:00:00:00:04=198.18.0.4', '02:00:00:00:00:05=198.18.0.2'] };
  assert.is(resolveRunConfig({ ...peers, 'peer-capacity': '3' }).peerCapacity, 3, 'three distinct VTEPs fit three');
  try {
    resolveRunConfig({ ...peers, 'peer-capacity': '2' });
    assert.unreachable('must refuse');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, /3 VTEPs, more than the peer table holds \(2\); raise --peer-capacity/);
  }
  assert.throws(() => resolveRunConfig({ ...peers, 'fdb-max': '1' }), /--static: 2 entries, more than the forwarding table holds \(1\); raise --fdb-max/);
});

test('a large change set goes to ip in runs of IP_BATCH_MAX commands, in order', () => {
  const cmds = Array.from({ length: 2 * IP_BATCH_MAX + 7 }, (_, i) => `route replace 10.${i >> 8}.${i & 255}.0/24 via 10.${i >> 8}.${i & 255}.0 dev weft0 onlink`);
  const runs = ipRuns(cmds);
  assert.equal(runs.map((r) => r.length), [IP_BATCH_MAX, IP_BATCH_MAX, 7]);
  assert.equal(runs.flat(), cmds);
  assert.equal(ipRuns([]), []);
});

test.run();
