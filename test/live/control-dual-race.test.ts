// Two hosts racing for the last free IPv6 subnet of a dual-stack network in
// a real etcd. IPv4 has room to spare, so the racers pick different IPv4
// subnets and their keys differ (`10.244.A.0-24&fd00:244::c-126` and
// `10.244.B.0-24&fd00:244::c-126`): etcd's create-if-absent on the key
// alone would let both in. weft's create refuses a lease when a live one
// holds either half (a range compare on the subnets prefix), so in each
// round exactly one gets it and the other exits 1 saying no IPv6 subnet is
// left; no IPv6 subnet is ever held twice.
//
//   h1 h2: weft (2 of the 3 IPv6 subnets)   h3 h4: weft, started together for the last one
//     └──────── 198.18.0.0/24 + 2001:2::/64 ── br0 198.18.0.254 ── etcd   [switch namespace]

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd } from '../helpers/etcd.js';
import { WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
// fd00:244::/124 in /126s: the first is skipped, so three subnets (::4, ::8, ::c).
const NETCONF = JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:244::/124', Backend: { Type: 'vxlan' } });
const ROUNDS = 2;
const v6 = (i: number) => `2001:2::${i}`;
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];

const args = (i: number) => ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--public-ipv6', v6(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
/** The lease's two halves from the log line: [IPv4, IPv6]. */
const leaseOf = (p: Proc) => { const m = /"msg":"lease (\S+) \+ (\S+) in /.exec(p.stderr()); return m ? [m[1], m[2]] : ['', '']; };
const stored = () => etcd.list(`${PREFIX}/subnets/`).map((kv) => kv.key.slice(`${PREFIX}/subnets/`.length));

test.before(async () => {
  rig = Rig.up(4);
  tmp = tempDir('dual-race');
  for (const i of [1, 2, 3, 4]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${v6(i)}/64`, 'dev', 'eth0', 'nodad']);
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, NETCONF);
  [w[1], w[2]] = await Promise.all([rig.weft(1, args(1), 20_000), rig.weft(2, args(2), 20_000)]);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('two hosts race for the last IPv6 subnet under different keys, twice: exactly one gets it, the other exits 1 saying none is left', async () => {
  const lines: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const p = [3, 4].map((i) => rig.spawn(i, [process.execPath, WEFT, 'run', ...args(i)]));
    await waitFor(() => p.every((x) => x.child.exitCode !== null || /listening on/.test(x.stderr())), 20_000, `round ${round}: both to start or give up`);
    const won = p.filter((x) => x.child.exitCode === null);
    const lost = p.filter((x) => x.child.exitCode !== null);
    assert.is(won.length, 1, `round ${round}: exactly one winner\n${p.map((x) => x.stderr()).join('\n')}`);
    assert.is(lost[0].child.exitCode, 1, lost[0].stderr());
    assert.match(lost[0].stderr().trim().split('\n').pop()!, /^weft: no free IPv6 subnet left in fd00:244::\/124 \(IPv6SubnetLen \/126, 3 leases\); widen the network or delete stale leases$/);
    const keys = stored();
    assert.is(keys.length, 3, keys.join(' '));
    assert.is(new Set(keys.map((k) => k.split('&')[1])).size, 3, `an IPv6 subnet held twice: ${keys.join(' ')}`);
    const [s4, s6] = leaseOf(won[0]);
    const winner = p.indexOf(won[0]) + 3;
    const collided = p.some((x) => /taken by another host at the same moment/.test(x.stderr()));
    lines.push(`round ${round}: h${winner} got ${s6}, h${7 - winner} exited 1${collided ? ' after losing the create race' : ' (saw none free)'}`);
    // The others route to the winner's IPv6 subnet and reach it.
    await waitFor(() => rig.exec(1, ['ip', '-6', 'route', 'show', 'dev', 'weft0']).includes(s6), 10_000, `h1 to route to h${winner}'s ${s6}`);
    assert.is(ping(rig, 1, s6.split('/')[0], 2, ['-W', '2']).received, 2);
    if (round < ROUNDS) {
      process.kill(won[0].pid, 'SIGKILL');
      await won[0].exited;
      etcd.ctl(['del', `${PREFIX}/subnets/${s4.replace('/', '-')}&${s6.replace('/', '-')}`]);
      await waitFor(() => !rig.exec(1, ['ip', '-6', 'route', 'show', 'dev', 'weft0']).includes(s6), 10_000, `h1 to drop h${winner}'s route`);
    }
  }
  process.stdout.write(`\n  race for the last IPv6 subnet: ${lines.join('; ')}\n`);
});

test.run();
