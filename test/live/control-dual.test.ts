// A dual-stack flannel network in a real etcd, on a dual-stack underlay
// (198.18.0.0/24 and 2001:2::/64): h1 and h2 run weft, h3 is configured
// exactly as a dual-stack flanneld configures its host — kernel flannel.1
// (IPv4 over IPv4) and flannel-v6.1 (IPv6 over IPv6), two MACs, nolearning,
// entries from the leases (test/helpers/flanneld-dual-sim.ts, none of weft's
// code). Every pair reaches every other over both families; 20 MB cross
// intact over each family; the time from h3's lease being written to the
// first packet from h1 reaching it is measured per family and printed.
//
//   h1: weft ─┐                                      ┌─ h3: flannel.1    10.244.200.0/32
//   h2: weft ─┴── 198.18.0.0/24 + 2001:2::/64 ── etcd ┘      flannel-v6.1 fd00:244:0:200::/128

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, ping, weftStatus, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd } from '../helpers/etcd.js';
import { ROOT, WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const CONF = {
  Network: '10.244.0.0/16', SubnetMax: '10.244.100.0',
  EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetMax: 'fd00:244:0:100::',
  Backend: { Type: 'vxlan' },
};
const F_SUBNET = '10.244.200.0/24', F_SUBNET6 = 'fd00:244:0:200::/64';
const F_MAC = '02:fa:00:00:02:00', F_MAC6 = '02:fa:00:00:06:00';
const PROBE = join(ROOT, 'dist/test/helpers/udp-probe.js');
const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
const v6 = (i: number) => `2001:2::${i}`;
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
/** Each host's overlay addresses: [IPv4, IPv6] (the subnets' network addresses, on the TAP or flannel devices). */
const addr: [string, string][] = [];
const sub: [string, string][] = [];

test.before(async () => {
  rig = Rig.up(3);
  tmp = tempDir('dual');
  for (const i of [1, 2, 3]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${v6(i)}/64`, 'dev', 'eth0', 'nodad']);
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, JSON.stringify(CONF));
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--public-ipv6', v6(i), '--subnet-file', join(tmp.dir, `h${i}.env`)], 20_000);
    const m = /"msg":"lease (\S+) \+ (\S+) in /.exec(w[i].stderr())!;
    sub[i] = [m[1], m[2]];
    addr[i] = [m[1].split('/')[0], m[2].split('/')[0]];
  }
  addr[3] = [F_SUBNET.split('/')[0], F_SUBNET6.split('/')[0]];
  sub[3] = [F_SUBNET, F_SUBNET6];
  for (const [i, j] of [[1, 2], [2, 1]]) {
    await waitFor(() => rig.exec(i, ['ip', '-6', 'route', 'show', 'dev', 'weft0']).includes(sub[j][1]), 10_000, `h${i} to route to h${j}'s ${sub[j][1]}`);
  }
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('each weft leased both halves, published flannel\'s dual-stack lease, and wrote subnet.env with the IPv6 lines', () => {
  for (const i of [1, 2]) {
    const k4 = sub[i][0].replace('/', '-'), k6 = sub[i][1].replace('/', '-');
    const l = etcd.list(`${PREFIX}/subnets/`).find((x) => x.key === `${PREFIX}/subnets/${k4}&${k6}`);
    assert.ok(l, `no key ${k4}&${k6}`);
    const v = JSON.parse(l.value) as Record<string, unknown>;
    assert.equal(Object.keys(v), ['PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data']);
    assert.is(v.PublicIP, rig.underlay(i));
    assert.is(v.PublicIPv6, v6(i));
    assert.equal(v.BackendV6Data, v.BackendData, 'one TAP: one VTEP MAC for both families');
    const env = readFileSync(join(tmp.dir, `h${i}.env`), 'utf8');
    assert.is(env, `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${addr[i][0].replace(/\.0$/, '.1')}/24\n` +
      `FLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=${addr[i][1]}1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n`);
    assert.match(rig.exec(i, ['ip', '-6', 'addr', 'show', 'dev', 'weft0']), `${addr[i][1]}/128`);
  }
});

test('flanneld\'s part on h3: its lease is written, and the first packet from weft on h1 reaches it over each family (convergence)', async () => {
  const recv4 = rig.spawn(3, [process.execPath, PROBE, 'recv', '7777', '20000']);
  const recv6 = rig.spawn(3, [process.execPath, PROBE, 'recv', '7778', '20000']);
  await waitFor(() => /listening/.test(recv4.stderr()) && /listening/.test(recv6.stderr()), 5000, 'the probe receivers');
  const send4 = rig.spawn(1, [process.execPath, PROBE, 'send', addr[3][0], '7777', '2', '20000']);
  const send6 = rig.spawn(1, [process.execPath, PROBE, 'send', addr[3][1], '7778', '2', '20000']);
  const sim = rig.exec(3, [process.execPath, join(ROOT, 'dist/test/helpers/flanneld-dual-sim.js'), etcd.endpoint, PREFIX,
    rig.underlay(3), v6(3), F_SUBNET, F_SUBNET6, F_MAC, F_MAC6], 30_000);
  const t0 = Number(/t0 (\d+)/.exec(sim)![1]);
  await Promise.all([recv4.exited, recv6.exited]);
  for (const p of [send4, send6]) try { process.kill(p.pid, 'SIGTERM'); } catch { /* done already */ }
  const first4 = recv4.stdout().trim(), first6 = recv6.stdout().trim();
  assert.is.not(first4, 'none', 'no IPv4 packet reached h3 within 20 s');
  assert.is.not(first6, 'none', 'no IPv6 packet reached h3 within 20 s');
  const ms4 = Number(first4) - t0, ms6 = Number(first6) - t0;
  console.log(`\n  convergence: lease written → first packet at h3: IPv4 ${ms4} ms, IPv6 ${ms6} ms`);
  assert.ok(ms4 >= 0 && ms4 < 5000, `${ms4} ms`);
  assert.ok(ms6 >= 0 && ms6 < 5000, `${ms6} ms`);
});

test('weft programmed the flanneld host per family: IPv4 to flannel.1\'s MAC at its IPv4 address, IPv6 to flannel-v6.1\'s at its IPv6 address', async () => {
  assert.match(rig.exec(1, ['ip', 'route', 'show', 'dev', 'weft0']), `${F_SUBNET} via ${addr[3][0]} onlink`);
  assert.match(rig.exec(1, ['ip', '-6', 'route', 'show', 'dev', 'weft0']), `${F_SUBNET6} via ${addr[3][1]} metric 1024 onlink`);
  assert.match(rig.exec(1, ['ip', 'neigh', 'show', 'dev', 'weft0']), `${addr[3][0]} lladdr ${F_MAC} PERMANENT`);
  assert.match(rig.exec(1, ['ip', '-6', 'neigh', 'show', 'dev', 'weft0']), `${addr[3][1]} lladdr ${F_MAC6} PERMANENT`);
  const st = await weftStatus(w[1]);
  assert.ok(st.fdb.some((e) => e.mac === F_MAC && e.dst === rig.underlay(3) && e.state === 'static'), JSON.stringify(st.fdb));
  assert.ok(st.fdb.some((e) => e.mac === F_MAC6 && e.dst === v6(3) && e.state === 'static'), JSON.stringify(st.fdb));
  const fdb = rig.exec(1, [process.execPath, WEFT, 'fdb', 'show']);
  assert.match(fdb, `${F_MAC6} dev weft0 dst ${v6(3)} vni 1 static`);
  const peers = rig.exec(1, [process.execPath, WEFT, 'peers']);
  assert.match(peers, `public-ipv6 ${v6(3)} vtep-mac6 ${F_MAC6}`);
});

test('every host reaches every other over IPv4 and IPv6 (ping)', () => {
  for (const i of [1, 2, 3]) {
    for (const j of [1, 2, 3]) {
      if (i === j) continue;
      for (const f of [0, 1]) assert.is(ping(rig, i, addr[j][f], 3).received, 3, `h${i} → h${j} ${addr[j][f]}`);
    }
  }
  // The flanneld host learned nothing: its entries are the permanent ones, each side to its own underlay.
  assert.match(rig.exec(3, ['bridge', 'fdb', 'show', 'dev', 'flannel-v6.1']), `dst ${v6(1)} self permanent`);
  assert.match(rig.exec(3, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']), `dst ${rig.underlay(1)} self permanent`);
});

for (const [f, name] of [[0, 'IPv4'], [1, 'IPv6']] as const) {
  test(`20 MB over ${name}, from the flanneld host to weft and from weft to weft, arrive intact`, async () => {
    for (const from of [3, 2]) {
      const port = String(5100 + f * 10 + from);
      const srv = rig.spawn(1, [process.execPath, XFER, 'serve', addr[1][f], port]);
      await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
      const sent = rig.exec(from, [process.execPath, XFER, 'send', addr[1][f], port, String(20 << 20)], 90_000).trim();
      await srv.exited;
      assert.is(srv.stdout().trim(), sent, `h${from} → h1 over ${name}`);
      assert.match(sent, /^20971520 /);
    }
  });
}

test.run();
