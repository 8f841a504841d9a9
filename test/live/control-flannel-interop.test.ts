// weft and flannel's own data path on one etcd: h3 is configured exactly as
// flanneld configures a kernel `flannel.1` (vxlan, nolearning, permanent
// neighbour + fdb entry + onlink route per lease; test/helpers/flanneld-sim.ts
// plays flanneld, reading etcd), h1 and h2 run weft. Traffic crosses both
// ways, and the time from h3's lease being written to the first packet from
// h1 reaching it is measured and printed.
//
//   h1: weft ─┐                                   ┌─ h3: kernel flannel.1 10.244.200.0/32
//   h2: weft ─┴── 198.18.0.0/24 ── etcd (switch) ─┘

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, weftStatus, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { ROOT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const FLANNEL_SUBNET = '10.244.200.0/24';
const FLANNEL_MAC = '02:fa:00:00:02:00';
const PROBE = join(ROOT, 'dist/test/helpers/udp-probe.js');
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
let convergenceMs = NaN;

test.before(async () => {
  rig = Rig.up(3);
  tmp = tempDir('flannel');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, '{"Network": "10.244.0.0/16", "SubnetMax": "10.244.100.0", "Backend": {"Type": "vxlan"}}');
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)], 20_000);
    subnet[i] = /"msg":"lease (\S+) in /.exec(w[i].stderr())![1];
  }
  await routesConverged(rig, [1, 2], subnet);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('flanneld\'s part on h3: its lease is written, and the first packet from weft on h1 reaches it (convergence)', async () => {
  // h3 listens; h1 sends every 2 ms towards h3's subnet address (unroutable until h1 has the lease).
  const recv = rig.spawn(3, [process.execPath, PROBE, 'recv', '7777', '20000']);
  await waitFor(() => /listening/.test(recv.stderr()), 5000, 'the probe receiver');
  const send = rig.spawn(1, [process.execPath, PROBE, 'send', '10.244.200.0', '7777', '2', '20000']);
  const sim = rig.exec(3, [process.execPath, join(ROOT, 'dist/test/helpers/flanneld-sim.js'), etcd.endpoint, PREFIX, rig.underlay(3), FLANNEL_SUBNET, FLANNEL_MAC], 30_000);
  const t0 = Number(/t0 (\d+)/.exec(sim)![1]);
  await recv.exited;
  const first = recv.stdout().trim();
  assert.is.not(first, 'none', 'no packet reached h3 within 20 s');
  convergenceMs = Number(first) - t0;
  try { process.kill(send.pid, 'SIGTERM'); } catch { /* done already */ }
  console.log(`\n  convergence: lease written → first packet at h3: ${convergenceMs} ms`);
  assert.ok(convergenceMs >= 0 && convergenceMs < 5000, `${convergenceMs} ms`);
});

test('weft programmed the flannel host as it programs a weft host', async () => {
  assert.match(rig.exec(1, ['ip', 'route', 'show', 'dev', 'weft0']), `${FLANNEL_SUBNET} via 10.244.200.0 onlink`);
  assert.match(rig.exec(1, ['ip', 'neigh', 'show', 'dev', 'weft0']), `10.244.200.0 lladdr ${FLANNEL_MAC} PERMANENT`);
  const st = await weftStatus(w[1]);
  assert.ok(st.fdb.some((e) => e.mac === FLANNEL_MAC && e.dst === '198.18.0.3' && e.state === 'static'), JSON.stringify(st.fdb));
});

test('ping both ways between weft hosts and the kernel flannel.1 host', () => {
  for (const i of [1, 2]) {
    const gw = subnet[i].split('/')[0];
    assert.is(ping(rig, i, '10.244.200.0', 3).received, 3, `h${i} → flannel.1`);
    assert.is(ping(rig, 3, gw, 3).received, 3, `flannel.1 → h${i} ${gw}`);
  }
  // The kernel side learned nothing (nolearning): its entries are the permanent ones flanneld-sim put in.
  const fdb = rig.exec(3, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']);
  assert.match(fdb, /dst 198\.18\.0\.1 self permanent/);
  assert.match(fdb, /dst 198\.18\.0\.2 self permanent/);
});

test('a 5 MB TCP transfer from the flannel host to weft arrives intact', async () => {
  const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
  const gw = subnet[1].split('/')[0];
  const srv = rig.spawn(1, [process.execPath, XFER, 'serve', gw, '5003']);
  await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
  const sent = rig.exec(3, [process.execPath, XFER, 'send', gw, '5003', String(5 << 20)], 60_000).trim();
  await srv.exited;
  assert.is(srv.stdout().trim(), sent);
});

test.run();
