// The file store: the same control plane with no etcd, the hosts of one
// machine sharing one lease file (what `npm run demo` uses). Three hosts
// find each other, a fourth joins and leaves, a restart keeps its subnet.
//
//   h1 h2 h3 h4: weft --lease-file /tmp/…/leases.json --net-config-path net-conf.json

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { Rig, ping, weftStatus, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { routesConverged } from '../helpers/etcd.js';
import { tempDir } from '../helpers/paths.js';
import { FileStore } from '../../src/control/file-store.js';
import { parseCidr4 } from '../../src/control/ip4.js';

let rig: Rig;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
const gw = (sn: string) => sn.split('/')[0];
const leaseFile = () => join(tmp.dir, 'leases.json');
const args = (i: number) => ['--lease-file', leaseFile(), '--net-config-path', join(tmp.dir, 'net-conf.json'), '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
const leaseOf = (p: Proc) => /"msg":"lease (\S+) in /.exec(p.stderr())![1];

test.before(async () => {
  rig = Rig.up(4);
  tmp = tempDir('filestore');
  writeFileSync(join(tmp.dir, 'net-conf.json'), '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 7, "Port": 4789}}');
  // Started together: the file's lock keeps their allocations apart.
  const started = await Promise.all([1, 2, 3].map((i) => rig.weft(i, args(i), 20_000)));
  for (const i of [1, 2, 3]) { w[i] = started[i - 1]; subnet[i] = leaseOf(w[i]); }
  // A host that took its lease after another listed the file hears of it by the watch, a poll later.
  await routesConverged(rig, [1, 2, 3], subnet);
});
test.after(() => {
  rig.down();
  tmp?.done();
});

test('three hosts started at once get distinct subnets; the file holds flannel\'s lease values', () => {
  assert.is(new Set(subnet.slice(1)).size, 3, subnet.join(' '));
  const d = JSON.parse(readFileSync(leaseFile(), 'utf8'));
  for (const i of [1, 2, 3]) {
    const mac = JSON.parse(rig.exec(i, ['ip', '-j', 'link', 'show', 'weft0']))[0].address as string;
    assert.equal(d.subnets[subnet[i].replace('/', '-')].value, { PublicIP: `198.18.0.${i}`, BackendType: 'vxlan', BackendData: { VNI: 7, VtepMAC: mac } });
  }
});

test('VNI and port come from net-conf.json; every host pings every other', () => {
  assert.match(w[1].stderr(), /listening on udp 198\.18\.0\.1:4789, .* vni 7/);
  for (const i of [1, 2, 3]) for (const j of [1, 2, 3]) if (i !== j) assert.is(ping(rig, i, gw(subnet[j]), 2).received, 2, `h${i} → h${j}`);
});

test('a fourth host joins and the others route to it; its lease removed from the file, everything for it goes', async () => {
  w[4] = await rig.weft(4, args(4), 20_000);
  subnet[4] = leaseOf(w[4]);
  for (const i of [1, 2, 3]) {
    await waitFor(() => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[4]), 10_000, `h${i} to route to h4`);
    assert.is(ping(rig, i, gw(subnet[4]), 2).received, 2);
  }
  const mac4 = JSON.parse(rig.exec(4, ['ip', '-j', 'link', 'show', 'weft0']))[0].address as string;
  assert.is(await stopWeft(w[4]), 0);
  const c = parseCidr4(subnet[4])!;
  await new FileStore(leaseFile()).delete({ ip: c.ip, len: c.len });
  for (const i of [1, 2, 3]) {
    await waitFor(() => !rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[4]), 10_000, `h${i} to drop h4`);
    assert.not.match(rig.exec(i, ['ip', 'neigh', 'show', 'dev', 'weft0']), gw(subnet[4]) + ' ');
    assert.not.ok((await weftStatus(w[i])).fdb.some((e) => e.mac === mac4));
  }
});

test('a restart with the same subnet file keeps the subnet', async () => {
  assert.is(await stopWeft(w[2]), 0);
  w[2] = await rig.weft(2, args(2), 20_000);
  assert.is(leaseOf(w[2]), subnet[2]);
  assert.is(ping(rig, 1, gw(subnet[2]), 2).received, 2);
});

test.run();
