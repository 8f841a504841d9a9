// From watch events to host state, without root: LeaseTracker turns events
// and snapshots into adds and removes (our own lease excluded), and the
// Reconciler turns those into forwarding entries and `ip` commands, recorded
// by a twin of the host. Then the control plane end to end on the in-memory
// store.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LeaseTracker, Reconciler, type HostOps, type LeaseChange } from '../../src/control/reconcile.js';
import { MemoryStore, type StoredLease } from '../../src/control/store.js';
import { ControlPlane } from '../../src/control/control-plane.js';
import { parseCidr4, formatSubnet } from '../../src/control/ip4.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { Datapath } from '../../src/datapath/datapath.js';
import { formatMac } from '../../src/wire/mac.js';
import { tempDir } from '../helpers/paths.js';
import { until } from '../helpers/store-contract.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const NET = sn('10.244.0.0/16');
const OWN = sn('10.244.1.0/24');
const CTX = { network: NET, subnetLen: 24, backendType: 'vxlan', vni: 1, ownIps: ['198.18.0.1'], ownMac: 1 };
let rev = 0;
const lease = (subnet: string, ip: string, mac: number, extra: Record<string, unknown> = {}): StoredLease => ({
  subnet: sn(subnet), revision: ++rev, expiresMs: 0,
  value: encodeAttrs({ publicIp: ip, backendType: 'vxlan', vni: 1, vtepMac: mac, ...extra }),
});
const summary = (cs: LeaseChange[]) => cs.map((c) => `${c.type} ${formatSubnet(c.lease.subnet)}${c.type === 'add' && c.old ? ' (changed)' : ''}`);

class TwinHost implements HostOps {
  fdb = new Map<string, string>();
  log: string[] = [];
  fdbAdd(mac: number, ip: string) { this.fdb.set(formatMac(mac), ip); this.log.push(`fdb add ${formatMac(mac)} ${ip}`); return null; }
  fdbRemove(mac: number): void { this.fdb.delete(formatMac(mac)); this.log.push(`fdb del ${formatMac(mac)}`); }
  async ip(cmds: string[]) { this.log.push(...cmds); return []; }
  ipSync(cmds: string[]) { this.log.push(...cmds); return []; }
}

test('tracker: puts add, re-puts of the same lease do nothing, changes replace, deletes remove', () => {
  const t = new LeaseTracker(OWN, CTX);
  assert.equal(summary(t.apply({ type: 'put', lease: lease('10.244.2.0/24', '198.18.0.2', 2) })), ['add 10.244.2.0/24']);
  assert.equal(summary(t.apply({ type: 'put', lease: lease('10.244.2.0/24', '198.18.0.2', 2) })), []);
  assert.equal(summary(t.apply({ type: 'put', lease: lease('10.244.2.0/24', '198.18.0.9', 2) })), ['add 10.244.2.0/24 (changed)']);
  assert.equal(summary(t.apply({ type: 'delete', subnet: sn('10.244.2.0/24'), revision: ++rev })), ['remove 10.244.2.0/24']);
  assert.equal(summary(t.apply({ type: 'delete', subnet: sn('10.244.2.0/24'), revision: ++rev })), []);
});

test('tracker: our own lease is never a remote one', () => {
  const t = new LeaseTracker(OWN, CTX);
  assert.equal(summary(t.apply({ type: 'put', lease: lease('10.244.1.0/24', '198.18.0.1', 1) })), []);
  assert.equal(summary(t.apply({ type: 'snapshot', leases: [lease('10.244.1.0/24', '198.18.0.1', 1)], revision: rev })), []);
});

test('tracker: a snapshot after falling behind becomes removes and adds against what it knew', () => {
  const t = new LeaseTracker(OWN, CTX);
  t.apply({ type: 'put', lease: lease('10.244.2.0/24', '198.18.0.2', 2) });
  t.apply({ type: 'put', lease: lease('10.244.3.0/24', '198.18.0.3', 3) });
  t.apply({ type: 'put', lease: lease('10.244.4.0/24', '198.18.0.4', 4) });
  const cs = t.apply({ type: 'snapshot', revision: ++rev, leases: [
    lease('10.244.1.0/24', '198.18.0.1', 1), // ours
    lease('10.244.2.0/24', '198.18.0.2', 2), // unchanged
    lease('10.244.4.0/24', '198.18.0.4', 0x44), // new MAC
    lease('10.244.5.0/24', '198.18.0.5', 5), // new
  ] });
  assert.equal(summary(cs), ['remove 10.244.3.0/24', 'add 10.244.4.0/24 (changed)', 'add 10.244.5.0/24']);
  assert.equal([...t.known.keys()].sort(), ['10.244.2.0-24', '10.244.4.0-24', '10.244.5.0-24']);
});

test('tracker: unusable leases are refused, said once per value, and taken once a write makes them right', () => {
  const log: string[] = [];
  const t = new LeaseTracker(OWN, CTX, (l) => log.push(l));
  const bad = [
    lease('10.244.1.128/25', '198.18.0.2', 2), // not the network's SubnetLen (and inside ours)
    lease('10.9.0.0/24', '198.18.0.2', 2), // outside the network
    lease('10.244.6.0/24', '198.18.0.6', 6, { backendType: 'host-gw' }),
    lease('10.244.7.0/24', '198.18.0.7', 7, { vni: 9 }),
    { subnet: sn('10.244.8.0/24'), revision: ++rev, expiresMs: 0, value: '{"PublicIP":"nope","BackendType":"vxlan"}' },
  ];
  for (const l of bad) assert.equal(t.apply({ type: 'put', lease: l }), []);
  t.apply({ type: 'snapshot', leases: bad, revision: rev });
  assert.is(log.length, 5, log.join('\n'));
  assert.is(t.invalid.size, 5);
  assert.is(t.invalidTotal, 5);
  assert.match(log.join('\n'), /10.244.1.128\/25 refused: the subnet is a \/25; the network's SubnetLen is 24/);
  assert.match(log.join('\n'), /10.9.0.0\/24 refused: the subnet is outside the network/);
  assert.match(log.join('\n'), /BackendType "host-gw"; the network's is "vxlan"/);
  assert.match(log.join('\n'), /BackendData.VNI 9; the network's is 1/);
  assert.match(log.join('\n'), /PublicIP "nope" is not an IPv4 address/);
  // Fixed by a later write: taken, and no longer refused.
  assert.equal(summary(t.apply({ type: 'put', lease: lease('10.244.7.0/24', '198.18.0.7', 7) })), ['add 10.244.7.0/24']);
  assert.is(t.invalid.size, 4);
  assert.match(log[log.length - 1], /lease 10.244.7.0\/24 is valid now: taken/);
  // A valid lease turned bad: removed, and refused.
  assert.equal(summary(t.apply({ type: 'put', lease: lease('10.244.7.0/24', '0.0.0.0', 7) })), ['remove 10.244.7.0/24']);
  assert.equal(t.invalid.get('10.244.7.0-24')!.why, 'PublicIP 0.0.0.0 is unspecified');
  // Deleted, or gone from a snapshot: no longer listed.
  t.apply({ type: 'delete', subnet: sn('10.244.7.0/24'), revision: ++rev });
  t.apply({ type: 'snapshot', leases: bad.slice(0, 2), revision: ++rev });
  assert.equal([...t.invalid.keys()].sort(), ['10.244.1.128-25', '10.9.0.0-24']);
  assert.is(t.invalidTotal, 6);
});

test('reconciler: add = FDB entry, then permanent neighbour, then onlink route; remove undoes them in reverse', async () => {
  const h = new TwinHost();
  const r = new Reconciler(h, 'weft0');
  const l = { subnet: sn('10.244.2.0/24'), publicIp: '198.18.0.2', vtepMac: 0x020000000002, revision: 1 };
  await r.apply([{ type: 'add', lease: l, old: null }]);
  assert.equal(h.log, [
    'fdb add 02:00:00:00:00:02 198.18.0.2',
    'neigh replace 10.244.2.0 lladdr 02:00:00:00:00:02 dev weft0 nud permanent',
    'route replace 10.244.2.0/24 via 10.244.2.0 dev weft0 onlink',
  ]);
  h.log = [];
  await r.apply([{ type: 'remove', lease: l }]);
  assert.equal(h.log, ['route del 10.244.2.0/24 via 10.244.2.0 dev weft0', 'neigh del 10.244.2.0 dev weft0', 'fdb del 02:00:00:00:00:02']);
  assert.is(h.fdb.size, 0);
});

test('reconciler: a changed MAC swaps the FDB entry around the kernel update; clearSync removes everything', async () => {
  const h = new TwinHost();
  const r = new Reconciler(h, 'weft0');
  const a = { subnet: sn('10.244.2.0/24'), publicIp: '198.18.0.2', vtepMac: 0x020000000002, revision: 1 };
  const b = { ...a, vtepMac: 0x0200000000b2, revision: 2 };
  await r.apply([{ type: 'add', lease: a, old: null }]);
  await r.apply([{ type: 'add', lease: b, old: a }]);
  assert.equal([...h.fdb.keys()], ['02:00:00:00:00:b2']);
  h.log = [];
  r.clearSync();
  assert.equal(h.log, ['route del 10.244.2.0/24 via 10.244.2.0 dev weft0', 'neigh del 10.244.2.0 dev weft0', 'fdb del 02:00:00:00:00:b2']);
});

test('control plane on the memory store: initial leases, joins, leaves, a fall-behind snapshot, shutdown keeps our lease', async () => {
  const t = tempDir('ctl');
  try {
    const conf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'test');
    const store = new MemoryStore();
    const remote = async (third: number) => (await store.create(sn(`10.244.${third}.0/24`), encodeAttrs({ publicIp: `198.18.0.${third}`, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000000 + third }), 3600_000))!;
    await remote(2);
    const own = (await store.create(OWN, encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 0x020000000001 }), 3600_000))!;
    const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(t.dir, 'subnet.env'), renewMarginMs: 3600_000 };
    const cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 0x020000000001, mtu: 1450 }, () => {});
    const dp = new Datapath();
    const v = dp.addVni(1, { port: 8472 });
    const h = new TwinHost();
    await cp.start(dp, v, 'weft0', h);
    assert.is(readFileSync(join(t.dir, 'subnet.env'), 'utf8'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    assert.equal([...h.fdb.entries()], [['02:00:00:00:00:02', '198.18.0.2']]);
    await remote(3);
    await until(() => h.fdb.has('02:00:00:00:00:03'), 2000, 'the join');
    await store.delete(sn('10.244.2.0/24'));
    await until(() => !h.fdb.has('02:00:00:00:00:02'), 2000, 'the leave');
    await remote(4);
    store.fallBehind();
    await until(() => h.fdb.has('02:00:00:00:00:04'), 2000, 'the snapshot');
    assert.equal((cp.status() as { leases: { subnet: string }[] }).leases.map((l) => l.subnet).sort(), ['10.244.3.0/24', '10.244.4.0/24']);
    cp.shutdown();
    assert.is(h.fdb.size, 0);
    assert.ok(h.log.includes('route del 10.244.3.0/24 via 10.244.3.0 dev weft0'));
    assert.ok(await store.get(OWN), 'our lease stays');
  } finally { t.done(); }
});

test('control plane: changes that arrive together are one ip batch; those that come while it runs are the next one', async () => {
  const t = tempDir('ctl');
  try {
    const conf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'test');
    const store = new MemoryStore();
    const own = (await store.create(OWN, encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 1 }), 3600_000))!;
    const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(t.dir, 'subnet.env'), renewMarginMs: 3600_000 };
    const cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 1, mtu: 1450 }, () => {});
    /** A host whose `ip` takes 100 ms, as a busy `ip -batch` would; records each call's size. */
    class SlowHost extends TwinHost {
      calls: number[] = [];
      override async ip(cmds: string[]) { this.calls.push(cmds.length); await new Promise((r) => setTimeout(r, 100)); return []; }
    }
    const h = new SlowHost();
    const dp = new Datapath();
    await cp.start(dp, dp.addVni(1, { port: 8472 }), 'weft0', h);
    const put = (n: number) => store.create(sn(`10.244.${n}.0/24`), encodeAttrs({ publicIp: `198.18.0.${n}`, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000000 + n }), 3600_000);
    // A burst: ten leases in one go.
    await Promise.all([2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(put));
    await until(() => h.calls.length === 1, 2000, 'the first batch');
    // While that batch's ip runs, five more, one at a time.
    for (const n of [12, 13, 14, 15, 16]) { await put(n); await new Promise((r) => setTimeout(r, 5)); }
    await until(() => h.fdb.size === 15, 3000, 'all fifteen');
    assert.equal(h.calls, [20, 10], 'one ip batch for the burst, one for what came meanwhile');
    cp.shutdown();
  } finally { t.done(); }
});

test('control plane: our lease deleted from the store stops the daemon', async () => {
  const t = tempDir('ctl');
  try {
    const conf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'test');
    const store = new MemoryStore();
    const own = (await store.create(OWN, encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 1 }), 3600_000))!;
    const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(t.dir, 'subnet.env'), renewMarginMs: 3600_000 };
    const cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 1, mtu: 1450 }, () => {});
    let lost = '';
    cp.onLost = (why) => { lost = why; };
    const dp = new Datapath();
    await cp.start(dp, dp.addVni(1, { port: 8472 }), 'weft0', new TwinHost());
    await store.delete(OWN);
    await until(() => lost !== '', 2000, 'onLost');
    assert.match(lost, /our lease 10.244.1.0\/24 was deleted from the store/);
    cp.shutdown();
  } finally { t.done(); }
});

test.run();
