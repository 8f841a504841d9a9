// A network bigger than weft's peer table, with a real etcd: weft started
// with --peer-capacity 8 in a network holding 21 other leases (h2's and 20
// written straight into etcd in flannel's format, for hosts that do not
// exist) stays up, programs what fits, refuses the rest (counted, logged
// once, listed by `weft peers`), still reaches h2, whose lease fitted, and
// takes a refused lease once a removal makes room. The network that once
// ended weft at start (10,000 leases, the peer table sized from
// net-conf.json) is control-scale's.
//
//   h1: weft --peer-capacity 8   h2: weft        (both --etcd-endpoints http://198.18.0.254:2379)
//        └──────── 198.18.0.0/24 ── br0 198.18.0.254 ── etcd   [switch namespace]
//
// The leases are listed in key order, so h2's 10.244.2.0/24 (asked for by
// its subnet file) comes before the 20 others (10.244.200.0/24 …).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Rig, ping, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd } from '../helpers/etcd.js';
import { WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const NETCONF = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}';
const FAKES = 20;
const key = (third: number) => `${PREFIX}/subnets/10.244.${third}.0-24`;
const fakeValue = (k: number) =>
  `{"PublicIP":"198.19.16.${k + 1}","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:19:16:00:00:${(k + 1).toString(16).padStart(2, '0')}"}}`;

let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];

function weftArgs(i: number, third: number): string[] {
  const env = join(tmp.dir, `h${i}.env`);
  writeFileSync(env, `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${third}.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
  return ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', env];
}
const cli = (i: number, a: string[]) => rig.try(i, [process.execPath, WEFT, ...a]);
const routes = (i: number) => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']);

test.before(async () => {
  rig = Rig.up(2);
  tmp = tempDir('etcdcap');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, NETCONF);
  w[2] = await rig.weft(2, weftArgs(2, 2), 20_000);
  for (let k = 0; k < FAKES; k++) etcd.put(key(200 + k), fakeValue(k));
  w[1] = await rig.weft(1, [...weftArgs(1, 1), '--peer-capacity', '8', '--metrics', '127.0.0.1:9108'], 20_000);
  await waitFor(() => routes(2).includes('10.244.1.0/24'), 10_000, 'h2 to route to h1');
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('weft stays up: 8 leases programmed (h2 among them), 13 refused, logged once with the flag to raise', () => {
  assert.is(w[1].child.exitCode, null, w[1].stderr());
  const err = w[1].stderr();
  assert.not.match(err, /internal error/);
  assert.match(err, /8 remote leases programmed, 13 refused/);
  const once = err.split('\n').filter((l) => /refused: the peer table is full \(8 peers\)/.test(l));
  assert.is(once.length, 1, err);
  assert.match(once[0], /raise --peer-capacity/);
  const r = routes(1);
  assert.match(r, '10.244.2.0/24 via 10.244.2.0 onlink');
  assert.match(r, '10.244.206.0/24');
  assert.not.match(r, '10.244.207.0/24');
});

test('the refusals are counted (metrics, weft stats) and listed (weft peers)', () => {
  const js = "fetch('http://127.0.0.1:9108/metrics').then(async (r) => process.stdout.write(await r.text()), (e) => { console.error(e.message); process.exit(1); })";
  const m = rig.exec(1, [process.execPath, '-e', js]).split('\n');
  for (const line of ['weft_leases_refused{reason="peer_table_full"} 13', 'weft_leases_refused_total{reason="peer_table_full"} 13',
    'weft_remote_leases 8', 'weft_peer_capacity 8', 'weft_peers 8']) {
    assert.ok(m.includes(line), line);
  }
  const s = cli(1, ['stats']);
  assert.is(s.status, 0, s.err);
  assert.match(s.out, /leases: programmed 8 refused 13 \(now: peer_table_full 13; since start: peer_table_full 13\)/);
  assert.match(s.out, /peers: vteps 8 of 8/);
  const p = cli(1, ['peers']);
  assert.is(p.status, 0, p.err);
  assert.is(p.out.split('\n').filter((l) => / REFUSED peer_table_full$/.test(l)).length, 13, p.out);
  assert.match(p.out, /^lease 10\.244\.219\.0\/24 public-ip 198\.19\.16\.20 vtep-mac 02:19:16:00:00:14 REFUSED peer_table_full$/m);
});

test('h1 still reaches h2, whose lease fitted, and back', () => {
  assert.is(ping(rig, 1, '10.244.2.0', 3).received, 3);
  assert.is(ping(rig, 2, '10.244.1.0', 3).received, 3);
});

test('a lease removed makes room: the first refused lease is taken', async () => {
  etcd.ctl(['del', key(200)]);
  await waitFor(() => routes(1).includes('10.244.207.0/24'), 10_000, 'h1 to take 10.244.207.0/24');
  // The log line is written before the route, but its write may reach us after the `ip` that made the route.
  await waitFor(() => /taken now/.test(w[1].stderr()), 5000, 'the log line for the lease taken');
  assert.not.match(routes(1), '10.244.200.0/24');
  assert.match(w[1].stderr(), /lease 10\.244\.207\.0\/24 → vtep 02:19:16:00:00:08 at 198\.19\.16\.8 \(taken now: room was made\)/,
    w[1].stderr().split('\n').filter((l) => /10\.244\.20[07]|room/.test(l)).join('\n'));
  const s = cli(1, ['stats']);
  assert.match(s.out, /leases: programmed 8 refused 12 \(now: peer_table_full 12; since start: peer_table_full 13\)/);
  assert.is(ping(rig, 1, '10.244.2.0', 2).received, 2);
});

test('it stops cleanly', async () => {
  for (const i of [1, 2]) assert.is(await stopWeft(w[i], 3000), 0, w[i].stderr());
});

test.run();
