// The control plane with bad input in the store, on the in-memory store and
// a recording twin of the host: a refused lease programs nothing, is counted
// and listed with its reason, and is taken once fixed; a `config` key turned
// to junk (or to another network) while weft runs is said and ignored
// (config-watch.ts), and leases are still checked against the network weft
// started with. The live test control-hostile-leases does the same against a
// real etcd and the lease file with two hosts pinging throughout.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ControlPlane } from '../../src/control/control-plane.js';
import { configChangeLine } from '../../src/control/config-watch.js';
import { MemoryStore } from '../../src/control/store.js';
import { FileStore } from '../../src/control/file-store.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { Datapath } from '../../src/datapath/datapath.js';
import { formatMac } from '../../src/wire/mac.js';
import type { HostOps } from '../../src/control/reconcile.js';
import { tempDir } from '../helpers/paths.js';
import { until } from '../helpers/store-contract.js';

const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const OWN = sn('10.244.1.0/24');
const CONF = '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}';

class TwinHost implements HostOps {
  fdb = new Map<string, string>();
  cmds: string[] = [];
  fdbAdd(mac: number, ip: string) { this.fdb.set(formatMac(mac), ip); return null; }
  fdbRemove(mac: number): void { this.fdb.delete(formatMac(mac)); }
  async ip(cmds: string[]) { this.cmds.push(...cmds); return []; }
  ipSync(cmds: string[]) { this.cmds.push(...cmds); return []; }
}

async function plane(t: { dir: string }) {
  const conf = parseNetConf(CONF, 'test');
  const store = new MemoryStore({ config: CONF });
  const own = (await store.create(OWN, encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 0x020000000001 }), 3600_000))!;
  const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(t.dir, 'subnet.env'), renewMarginMs: 3600_000 };
  const log: string[] = [];
  const cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 0x020000000001, mtu: 1450 }, (l) => log.push(l));
  const h = new TwinHost();
  const dp = new Datapath();
  await cp.start(dp, dp.addVni(1, { port: 8472 }), 'weft0', h);
  return { store, cp, h, log };
}

test('a refused lease programs nothing, is counted and listed with why, and is taken once fixed', async () => {
  const t = tempDir('hostile');
  try {
    const { store, cp, h, log } = await plane(t);
    const put = (third: number, ip: string, mac: string) =>
      store.create(sn(`10.244.${third}.0/24`), JSON.stringify({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }), 3600_000);
    await put(2, '198.18.0.2', '02:00:00:00:00:02');
    const bad = (await put(3, '0.0.0.0', '02:00:00:00:00:03'))!;
    await put(4, '198.18.0.4', 'ff:ff:ff:ff:ff:ff');
    await until(() => h.fdb.size === 1 && cp.leaseCounts().refused.invalid === 2, 2000, 'one taken, two refused');
    assert.equal([...h.fdb.keys()], ['02:00:00:00:00:02']);
    assert.not.ok(h.cmds.some((c) => / 10\.244\.[34]\.0/.test(c)), h.cmds.join('\n'));
    assert.equal(cp.leaseCounts().refusedTotal.invalid, 2);
    const refused = (cp.status() as { refused: { subnet: string; reason: string; why?: string }[] }).refused;
    assert.equal(refused.map((r) => [r.subnet, r.reason, r.why]), [
      ['10.244.3.0/24', 'invalid', 'PublicIP 0.0.0.0 is unspecified'],
      ['10.244.4.0/24', 'invalid', 'BackendData.VtepMAC ff:ff:ff:ff:ff:ff is broadcast'],
    ]);
    assert.is(log.filter((l) => / refused: /.test(l)).length, 2, log.join('\n'));
    // Fixed by the operator: taken.
    await store.update(sn('10.244.3.0/24'), JSON.stringify({ PublicIP: '198.18.0.3', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:03' } }), 3600_000, bad.revision);
    await until(() => h.fdb.get('02:00:00:00:00:03') === '198.18.0.3', 2000, 'the fixed lease');
    assert.ok(h.cmds.includes('route replace 10.244.3.0/24 via 10.244.3.0 dev weft0 onlink'));
    assert.is(cp.leaseCounts().refused.invalid, 1);
    cp.shutdown();
  } finally { t.done(); }
});

test('a config key turned to junk or to another network while weft runs: said, ignored; the network weft started with stays', async () => {
  const t = tempDir('hostile');
  try {
    const { store, cp, h, log } = await plane(t);
    store.setConfig('{"Network": "not a network"}');
    store.setConfig('{"Network": "10.9.0.0/16", "Backend": {"Type": "vxlan"}}');
    store.setConfig(CONF.replace('}}', ' }}'));
    store.setConfig(null);
    await until(() => log.filter((l) => /network configuration/.test(l)).length === 3, 2000, 'three lines');
    const lines = log.filter((l) => /network configuration/.test(l));
    assert.match(lines[0], /changed to one weft cannot use, ignored: .*Network.*; weft keeps the network it started with \(10\.244\.0\.0\/16, SubnetLen 24, VNI 1, port 8472\)/);
    assert.match(lines[1], /changed to 10\.9\.0\.0\/16, SubnetLen 24, VNI 1, port 8472; weft keeps the network it started with \(10\.244\.0\.0\/16.*\) until it is restarted/);
    assert.match(lines[2], /was deleted; weft keeps the network it started with/);
    // Leases are still checked against 10.244.0.0/16.
    await store.create(sn('10.9.2.0/24'), encodeAttrs({ publicIp: '198.18.0.9', backendType: 'vxlan', vni: 1, vtepMac: 0x020000000009 }), 3600_000);
    await store.create(sn('10.244.5.0/24'), encodeAttrs({ publicIp: '198.18.0.5', backendType: 'vxlan', vni: 1, vtepMac: 0x020000000005 }), 3600_000);
    await until(() => h.fdb.has('02:00:00:00:00:05'), 2000, 'the lease in the network weft runs');
    assert.not.ok(h.fdb.has('02:00:00:00:00:09'));
    assert.is(cp.leaseCounts().refused.invalid, 1);
    cp.shutdown();
  } finally { t.done(); }
});

test('configChangeLine: the same network written again says nothing', () => {
  const running = parseNetConf(CONF, 'test');
  assert.is(configChangeLine(running, '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan","VNI":1}}', 'k'), null);
  assert.match(configChangeLine(running, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":2}}', 'k')!, /changed to 10\.244\.0\.0\/16, SubnetLen 24, VNI 2/);
  assert.match(configChangeLine(running, 'junk', 'k')!, /^weft: the network configuration k changed to one weft cannot use, ignored: /);
});

test('the file store reports a config change after the watch starts, and only a change', async () => {
  const t = tempDir('hostile');
  try {
    const store = new FileStore(join(t.dir, 'leases.json'), { pollMs: 10 });
    await store.setConfig(CONF);
    const heard: (string | null)[] = [];
    const w = store.watchConfig((text) => heard.push(text));
    await store.create(OWN, encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 1 }), 3600_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(heard, [], 'a lease written is not a config change');
    await store.setConfig('{"Network": 7}');
    await until(() => heard.length === 1, 2000, 'the change');
    assert.equal(heard, ['{"Network":7}']);
    w.close();
  } finally { t.done(); }
});

test.run();
