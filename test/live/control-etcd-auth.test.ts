// etcd with its own users: authentication on, a user whose role may read
// and write the flannel prefix and nothing else, set up with etcdctl as an
// operator would. Two wefts get the user from flanneld's environment
// variables (FLANNELD_ETCD_USERNAME, FLANNELD_ETCD_PASSWORD, as a flanneld
// unit file sets them), take leases and reach each other; a wrong password,
// no user, and a prefix the role does not cover each end a third weft with
// exit 1 and one line; the password shows in none of the logs, `weft peers`
// or `weft stats`.
//
//   h1, h2, h3: weft ── 198.18.0.0/24 ── etcd http://198.18.0.254:2379 (auth enabled)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, weftStatus, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const PASSWORD = 'w3ft-Secret-9f2';
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
const gw = (sn: string) => sn.split('/')[0];
const base = (i: number) => ['--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
const cli = (i: number, a: string[]) => rig.try(i, [process.execPath, WEFT, ...a]);
const envs = (user: string | null, password: string | null) => [
  'env', `FLANNELD_ETCD_ENDPOINTS=${etcd.endpoint}`,
  ...(user !== null ? [`FLANNELD_ETCD_USERNAME=${user}`] : []), ...(password !== null ? [`FLANNELD_ETCD_PASSWORD=${password}`] : []),
];

test.before(async () => {
  rig = Rig.up(3);
  tmp = tempDir('etcd-auth');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}');
  etcd.enableAuth('flannel', PASSWORD, PREFIX);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('two wefts with the user from FLANNELD_ETCD_USERNAME/PASSWORD take leases and reach each other', async () => {
  for (const i of [1, 2]) {
    const p = rig.spawn(i, [...envs('flannel', PASSWORD), process.execPath, WEFT, 'run', ...base(i)]);
    await waitFor(() => /listening on/.test(p.stderr()) || p.child.exitCode !== null, 20_000, `weft ${i} to start`);
    assert.is(p.child.exitCode, null, p.stderr());
    w[i] = p;
    subnet[i] = /"msg":"lease (\S+) in /.exec(p.stderr())![1];
  }
  await routesConverged(rig, [1, 2], subnet);
  assert.is(ping(rig, 1, gw(subnet[2]), 2).received, 2);
  assert.is(etcd.list(`${PREFIX}/subnets/`).length, 2);
});

function refused(env: string[], args: string[], re: RegExp): void {
  const r = rig.try(3, [...env, process.execPath, WEFT, 'run', ...args, ...base(3)], 30_000);
  const lines = r.err.trim().split('\n').filter((l) => !/"level"/.test(l));
  assert.is(r.status, 1, `exit status for ${re}: ${r.err}`);
  assert.is(lines.length, 1, `one line: ${r.err}`);
  assert.match(lines[0], re, lines[0]);
  assert.not.ok(r.err.includes(PASSWORD), 'no password in the error');
}

test('a wrong password, no user, a prefix outside the role: exit 1, one line each', () => {
  refused(envs('flannel', 'not-the-password'), [], /cannot read the network configuration: etcd refused user "flannel": wrong --etcd-password, or no such user$/);
  refused(envs(null, null), [], /cannot read the network configuration: etcd requires a user: give --etcd-username and --etcd-password$/);
  refused(envs('flannel', PASSWORD), ['--etcd-prefix', '/other/network'],
    /cannot read the network configuration: user "flannel" may not read or write \/other\/network\/: grant its role readwrite on the prefix/);
  assert.is(etcd.list(`${PREFIX}/subnets/`).length, 2, 'none of them took a lease');
});

test('the password is in no log line, nor in weft peers, weft stats or the status record', async () => {
  for (const i of [1, 2]) {
    await weftStatus(w[i]);
    const peers = cli(i, ['peers']), stats = cli(i, ['stats']), json = cli(i, ['peers', '--json']);
    assert.is(peers.status, 0, peers.err);
    assert.match(peers.out, /lease .* ours/);
    for (const text of [peers.out, stats.out, json.out, w[i].stderr()]) assert.not.ok(text.includes(PASSWORD), text);
  }
});

test.run();
