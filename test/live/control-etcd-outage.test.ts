// etcd goes away for 30 s: traffic over the programmed leases keeps flowing,
// weft says the store is unreachable, and when etcd is back it reconnects and
// resyncs: a host that joined while weft was cut off (its lease written
// right after etcd's return) is programmed without a restart.
//
//   h1, h2, h3: weft ── 198.18.0.0/24 ── etcd 198.18.0.254 (switch namespace; stopped, then started)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const OUTAGE_MS = 30_000;
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
const args = (i: number) => ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
const gw = (sn: string) => sn.split('/')[0];

test.before(async () => {
  rig = Rig.up(3);
  tmp = tempDir('outage');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}');
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, args(i), 20_000);
    subnet[i] = /"msg":"lease (\S+) in /.exec(w[i].stderr())![1];
  }
  await routesConverged(rig, [1, 2], subnet);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('etcd down for 30 s: pings keep flowing, weft logs the outage', async () => {
  assert.is(ping(rig, 1, gw(subnet[2]), 2).received, 2);
  await etcd.stop();
  const t0 = Date.now();
  // Ping through the whole outage: 1 every 0.5 s.
  const pinger = rig.spawn(1, ['ping', '-c', String(OUTAGE_MS / 500 - 4), '-i', '0.5', '-W', '1', gw(subnet[2])]);
  await waitFor(() => /lease store unreachable/.test(w[1].stderr()) && /lease store unreachable/.test(w[2].stderr()), 15_000, 'both wefts to log the outage');
  await pinger.exited;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(pinger.stdout());
  assert.ok(m, pinger.stdout());
  assert.is(Number(m![2]), Number(m![1]), `lost pings during the outage: ${m![0]}`);
  await waitFor(() => Date.now() - t0 >= OUTAGE_MS, OUTAGE_MS + 1000, 'the outage to last 30 s');
  assert.match(w[1].stderr(), /keeping 1 remote leases programmed, retrying/);
  assert.ok(w[1].child.exitCode === null && w[2].child.exitCode === null, 'both still running');
});

test('etcd back: a host that joins right away is programmed by both without a restart', async () => {
  await etcd.start();
  w[3] = await rig.weft(3, args(3), 20_000);
  subnet[3] = /"msg":"lease (\S+) in /.exec(w[3].stderr())![1];
  for (const i of [1, 2]) {
    await waitFor(() => /lease store reachable again; resynced/.test(w[i].stderr()), 20_000, `h${i} to resync`);
    await waitFor(() => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[3]), 20_000, `h${i} to route to h3`);
    assert.is(ping(rig, i, gw(subnet[3]), 2).received, 2, `h${i} → h3`);
  }
  assert.is(ping(rig, 3, gw(subnet[1]), 2).received, 2);
});

test.run();
