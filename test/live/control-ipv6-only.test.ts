// An IPv6-only flannel network (EnableIPv4 false) in the lease file, on an
// IPv6 underlay (2001:2::/64): two wefts lease IPv6 subnets only, under
// flannel's key for them (`0.0.0.0-0&fd00:244:0:N::-64`: the IPv4 half is
// flannel's empty one), write subnet.env without the IPv4 lines, and carry
// IPv6 between them: ping and a 5 MB transfer, intact.
//
//   h1: weft 2001:2::1 ─── switch ─── 2001:2::2 weft :h2

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT, tempDir } from '../helpers/paths.js';

const CONF = { EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:244::/48', Backend: { Type: 'vxlan' } };
const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
const v6 = (i: number) => `2001:2::${i}`;
let rig: Rig;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const sub: string[] = [];

test.before(async () => {
  rig = Rig.up(2);
  tmp = tempDir('v6only');
  for (const i of [1, 2]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${v6(i)}/64`, 'dev', 'eth0', 'nodad']);
  writeFileSync(join(tmp.dir, 'net-conf.json'), JSON.stringify(CONF));
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, ['--lease-file', join(tmp.dir, 'leases.json'), '--net-config-path', join(tmp.dir, 'net-conf.json'),
      '--local', v6(i), '--subnet-file', join(tmp.dir, `h${i}.env`)], 20_000);
    sub[i] = /"msg":"lease (\S+) in fd00:244::\/48 /.exec(w[i].stderr())![1];
  }
  for (const [i, j] of [[1, 2], [2, 1]]) {
    await waitFor(() => rig.exec(i, ['ip', '-6', 'route', 'show', 'dev', 'weft0']).includes(sub[j]), 10_000, `h${i} to route to h${j}'s ${sub[j]}`);
  }
});
test.after(() => {
  rig.down();
  tmp?.done();
});

test('the leases are IPv6 only, in flannel\'s shape, and subnet.env has only the IPv6 lines', () => {
  const file = JSON.parse(readFileSync(join(tmp.dir, 'leases.json'), 'utf8')) as { subnets: Record<string, { value: Record<string, unknown> }> };
  for (const i of [1, 2]) {
    const key = `0.0.0.0-0&${sub[i].replace('/', '-')}`;
    const v = file.subnets[key]?.value;
    assert.ok(v, `no key ${key} in ${Object.keys(file.subnets).join(', ')}`);
    assert.equal(Object.keys(v), ['PublicIP', 'PublicIPv6', 'BackendType', 'BackendV6Data']);
    assert.is(v.PublicIP, '0.0.0.0');
    assert.is(v.PublicIPv6, v6(i));
    const net = sub[i].split('/')[0];
    assert.is(readFileSync(join(tmp.dir, `h${i}.env`), 'utf8'),
      `FLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=${net}1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n`);
    assert.not.match(rig.exec(i, ['ip', '-4', 'addr', 'show', 'dev', 'weft0']), 'inet ');
  }
});

test('weft ↔ weft over IPv6: ping both ways, and 5 MB intact', async () => {
  const a1 = sub[1].split('/')[0], a2 = sub[2].split('/')[0];
  assert.is(ping(rig, 1, a2, 3).received, 3, `h1 → ${a2}`);
  assert.is(ping(rig, 2, a1, 3).received, 3, `h2 → ${a1}`);
  const srv = rig.spawn(1, [process.execPath, XFER, 'serve', a1, '5201']);
  await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
  const sent = rig.exec(2, [process.execPath, XFER, 'send', a1, '5201', String(5 << 20)], 60_000).trim();
  await srv.exited;
  assert.is(srv.stdout().trim(), sent);
});

test.run();
