// Operating weft with a control plane (the file lease store): /readyz and
// the lease metrics, `weft peers` with the leases, `weft fdb show` with
// the entries the leases programmed.
//
//   h1, h2: weft --lease-file /tmp/…/leases.json --net-config-path net-conf.json
//   h1 also --metrics 127.0.0.1:9108

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Rig, ping, stopWeft, type Proc } from '../helpers/rig.js';
import { routesConverged } from '../helpers/etcd.js';
import { WEFT, tempDir } from '../helpers/paths.js';

let rig: Rig;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
const args = (i: number) => ['--lease-file', join(tmp.dir, 'leases.json'), '--net-config-path', join(tmp.dir, 'net-conf.json'),
  '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
const leaseOf = (p: Proc) => /"msg":"lease (\S+) in /.exec(p.stderr())![1];
const cli = (i: number, a: string[]) => rig.try(i, [process.execPath, WEFT, ...a]);

function get(path: string): { status: number; body: string } {
  const js = `fetch('http://127.0.0.1:9108${path}').then(async (r) => process.stdout.write(r.status + '\\n' + await r.text()), (e) => { console.error(e.message); process.exit(1); })`;
  const out = rig.exec(1, [process.execPath, '-e', js]);
  return { status: Number(out.slice(0, out.indexOf('\n'))), body: out.slice(out.indexOf('\n') + 1) };
}

test.before(async () => {
  rig = Rig.up(2);
  tmp = tempDir('opleases');
  writeFileSync(join(tmp.dir, 'net-conf.json'), '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}}');
  w[1] = await rig.weft(1, [...args(1), '--metrics', '127.0.0.1:9108'], 20_000);
  w[2] = await rig.weft(2, args(2), 20_000);
  subnet[1] = leaseOf(w[1]);
  subnet[2] = leaseOf(w[2]);
  await routesConverged(rig, [1, 2], subnet);
});
test.after(() => {
  rig.down();
  tmp?.done();
});

test('/readyz 200 with the lease held and the other host programmed; lease metrics', () => {
  assert.equal(get('/readyz'), { status: 200, body: 'ok\n' });
  const m = get('/metrics').body.split('\n');
  for (const line of ['weft_lease_held 1', 'weft_lease_store_reachable 1', 'weft_remote_leases 1', 'weft_ready 1', 'weft_fdb_entries 1']) {
    assert.ok(m.includes(line), line);
  }
  assert.ok(m.includes('weft_info{tap="weft0",vni="1",port="8472",control_plane="leases"} 1'));
  const exp = Number(m.find((l) => l.startsWith('weft_lease_expiry_timestamp_seconds '))!.split(' ')[1]);
  assert.ok(exp > Date.now() / 1000 + 3600, String(exp));
});

test('weft peers lists our lease and the other host\'s; weft fdb show the static entry it programmed', () => {
  const p = cli(1, ['peers']);
  assert.is(p.status, 0, p.err);
  assert.match(p.out, new RegExp(`^lease ${subnet[1]} public-ip 198\\.18\\.0\\.1 vtep-mac \\S+ ours store \\S+ .* reachable$`, 'm'));
  assert.match(p.out, new RegExp(`^lease ${subnet[2]} public-ip 198\\.18\\.0\\.2 vtep-mac \\S+ path vxlan$`, 'm'));
  assert.match(p.out, /^vtep 198\.18\.0\.2 port 8472 macs 1 static 1$/m);
  const f = cli(1, ['fdb', 'show']);
  assert.match(f.out, /^\S+ dev weft0 dst 198\.18\.0\.2 vni 1 static$/m);
  assert.is(ping(rig, 1, subnet[2].split('/')[0], 3).received, 3);
});

test('stopping: the socket goes, exit 0', async () => {
  for (const i of [1, 2]) assert.is(await stopWeft(w[i]), 0, w[i].stderr());
  assert.is(cli(1, ['stats']).status, 1);
});

test.run();
