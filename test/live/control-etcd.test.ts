// The control plane with a real etcd, in flannel's key layout: the store
// contract, three hosts that find each other through their leases, a fourth
// that joins and leaves, a restart that keeps subnet and MAC, and a lease
// deleted under a running weft.
//
//   h1 h2 h3 h4: weft --etcd-endpoints http://198.18.0.254:2379   (TAP weft0 = <subnet>.0/32)
//        └──────── 198.18.0.0/24 ── br0 198.18.0.254 ── etcd   [switch namespace]

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Rig, ping, weftStatus, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { ROOT, tempDir } from '../helpers/paths.js';
import { CONTRACT } from '../helpers/store-contract.js';

const PREFIX = '/coreos.com/network';
const NETCONF = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}';
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];

function weftArgs(i: number): string[] {
  return ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
}

/** The host's leased subnet, from its log line "lease 10.244.X.0/24 in …". */
function leaseOf(p: Proc): string {
  const m = /"msg":"lease (\S+) in /.exec(p.stderr());
  if (!m) throw new Error(`no lease line in: ${p.stderr()}`);
  return m[1];
}
const gw = (sn: string) => sn.split('/')[0];

function leases(): Map<string, string> {
  return new Map(etcd.list(`${PREFIX}/subnets/`).map((kv) => [kv.key.slice(`${PREFIX}/subnets/`.length), kv.value]));
}

test.before(async () => {
  rig = Rig.up(4);
  tmp = tempDir('etcd');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, NETCONF);
  for (const i of [1, 2, 3]) {
    w[i] = await rig.weft(i, weftArgs(i), 20_000);
    subnet[i] = leaseOf(w[i]);
  }
  await routesConverged(rig, [1, 2, 3], subnet);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('the etcd store passes the store contract (CAS, TTL, watch, compaction)', () => {
  const r = rig.try(1, [process.execPath, join(ROOT, 'dist/test/helpers/etcd-contract.js'), etcd.endpoint], 120_000);
  assert.is(r.status, 0, r.out + r.err);
  assert.is(r.out.trim().split('\n').filter((l) => l.startsWith('ok ')).length, CONTRACT.length, r.out);
});

test('three hosts get three distinct subnets of the network', () => {
  assert.is(new Set(subnet.slice(1)).size, 3, subnet.join(' '));
  for (const s of subnet.slice(1)) assert.match(s, /^10\.244\.\d+\.0\/24$/);
});

test('leases are under flannel\'s keys with flannel\'s JSON, and the VtepMAC is the TAP\'s MAC', () => {
  const l = leases();
  for (const i of [1, 2, 3]) {
    const key = subnet[i].replace('/', '-');
    const mac = JSON.parse(rig.exec(i, ['ip', '-j', 'link', 'show', 'weft0']))[0].address as string;
    assert.is(l.get(key), `{"PublicIP":"198.18.0.${i}","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}`);
  }
});

test('each TAP has its subnet\'s network address as /32 and MTU underlay − 50; subnet.env says so', () => {
  for (const i of [1, 2, 3]) {
    const j = JSON.parse(rig.exec(i, ['ip', '-j', 'addr', 'show', 'dev', 'weft0']))[0];
    assert.is(j.mtu, 1450);
    assert.equal(j.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`), [`${gw(subnet[i])}/32`]);
    const third = gw(subnet[i]).split('.')[2];
    assert.is(readFileSync(join(tmp.dir, `h${i}.env`), 'utf8'), `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${third}.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
  }
});

test('each host has a route, a permanent neighbour and a static forwarding entry per other host', async () => {
  for (const i of [1, 2, 3]) {
    const routes = rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']);
    const neigh = rig.exec(i, ['ip', 'neigh', 'show', 'dev', 'weft0']);
    const st = await weftStatus(w[i]);
    for (const j of [1, 2, 3]) {
      if (j === i) continue;
      assert.match(routes, `${subnet[j]} via ${gw(subnet[j])} onlink`);
      const mac = JSON.parse(rig.exec(j, ['ip', '-j', 'link', 'show', 'weft0']))[0].address as string;
      assert.match(neigh, `${gw(subnet[j])} lladdr ${mac} PERMANENT`);
      assert.ok(st.fdb.some((e) => e.mac === mac && e.dst === `198.18.0.${j}` && e.state === 'static'), JSON.stringify(st.fdb));
    }
  }
});

test('every host pings every other host\'s subnet address', () => {
  for (const i of [1, 2, 3]) {
    for (const j of [1, 2, 3]) {
      if (i !== j) assert.is(ping(rig, i, gw(subnet[j]), 2).received, 2, `h${i} → h${j} ${gw(subnet[j])}`);
    }
  }
});

test('a fourth host joins: the others route to it without a restart', async () => {
  w[4] = await rig.weft(4, weftArgs(4), 20_000);
  subnet[4] = leaseOf(w[4]);
  assert.is(new Set(subnet.slice(1)).size, 4);
  for (const i of [1, 2, 3]) {
    await waitFor(() => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[4]), 10_000, `h${i} to route to ${subnet[4]}`);
    assert.is(ping(rig, i, gw(subnet[4]), 2).received, 2, `h${i} → h4`);
    assert.is(ping(rig, 4, gw(subnet[i]), 2).received, 2, `h4 → h${i}`);
  }
});

test('it stops: its own routes go, its lease stays; the lease is deleted: routes, neighbours and FDB entries go everywhere', async () => {
  const mac4 = JSON.parse(rig.exec(4, ['ip', '-j', 'link', 'show', 'weft0']))[0].address as string;
  assert.is(await stopWeft(w[4], 3000), 0);
  assert.match(w[4].stderr(), /stopped by SIGTERM/);
  assert.ok(leases().has(subnet[4].replace('/', '-')), 'the lease is kept at shutdown');
  etcd.ctl(['del', `${PREFIX}/subnets/${subnet[4].replace('/', '-')}`]);
  for (const i of [1, 2, 3]) {
    await waitFor(() => !rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[4]), 10_000, `h${i} to drop the route to ${subnet[4]}`);
    assert.not.match(rig.exec(i, ['ip', 'neigh', 'show', 'dev', 'weft0']), gw(subnet[4]) + ' ');
    const st = await weftStatus(w[i]);
    assert.not.ok(st.fdb.some((e) => e.mac === mac4), JSON.stringify(st.fdb));
    assert.match(w[i].stderr(), `lease ${subnet[4]} removed`);
  }
});

test('a restart keeps the subnet and the VTEP MAC, and removes what it programmed on the way out', async () => {
  const mac1 = JSON.parse(rig.exec(1, ['ip', '-j', 'link', 'show', 'weft0']))[0].address as string;
  assert.is(await stopWeft(w[1], 3000), 0);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft0']).status, 1, 'TAP removed');
  assert.not.match(rig.exec(1, ['ip', 'route']), '10.244.');
  w[1] = await rig.weft(1, weftArgs(1), 20_000);
  assert.is(leaseOf(w[1]), subnet[1]);
  assert.is(JSON.parse(rig.exec(1, ['ip', '-j', 'link', 'show', 'weft0']))[0].address, mac1);
  assert.is(ping(rig, 2, gw(subnet[1]), 2).received, 2);
});

test('our lease deleted under a running weft: it stops with exit 1 and says why', async () => {
  w[4] = await rig.weft(4, weftArgs(4), 20_000);
  const s4 = leaseOf(w[4]);
  etcd.ctl(['del', `${PREFIX}/subnets/${s4.replace('/', '-')}`]);
  const code = await Promise.race([w[4].exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  assert.is(code, 1, w[4].stderr());
  assert.match(w[4].stderr(), `our lease ${s4} was deleted from the store; restart weft to take a lease again; stopping`);
});

test.run();
