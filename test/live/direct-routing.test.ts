// flannel's direct paths with a real etcd: vxlan with "DirectRouting": true,
// then host-gw, on three hosts where two share a segment and the third sits
// behind a router; then both again in a dual-stack network, on an IPv6
// underlay routed the same way.
//
//   h1 198.18.0.1 2001:2::1 ─┐                                  ┌─ h3 198.18.3.3/24 2001:2:3::3/64
//   h2 198.18.0.2 2001:2::2 ─┼─ br0 (etcd 198.18.0.254) ── h4 ──┘   (default via .254 / 2001:2:3::254)
//                            └─ 198.18.0.0/24 2001:2::/64  router   h4: 198.18.0.4 2001:2::4 /
//                               [switch]                             198.18.3.254 2001:2:3::254, forwarding
//
// DirectRouting: h1↔h2 is plain IP on the segment (weft's datagram counters
// stay, tcpdump sees ICMP between overlay addresses and no VXLAN), h1↔h3 goes
// through weft's tunnel across the router; a lease whose PublicIP moves
// between segments switches path. host-gw: h1↔h2 by the routes alone, h3's
// lease refused with one line (and h3 refuses theirs), a lease that moves
// onto the segment is taken.
// Dual-stack: each family's side takes the path its host's address gives
// (the IPv6 route via PublicIPv6 on eth0), ping6 on the segment moves no
// weft counter, ping6 to h3 goes through weft; the route check puts back
// direct routes deleted by hand. IPv6-only host-gw: the same by PublicIPv6
// alone.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Rig, ping, weftStatus, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd } from '../helpers/etcd.js';
import { WEFT, tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';

const DR = '/dr/network';
const GW = '/gw/network';
const DR6 = '/dr6/network';
const GW6 = '/gw6/network';
const GW6ONLY = '/gw6only/network';
const SIX = '"EnableIPv6": true, "IPv6Network": "fd00:244::/48"';
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
let w: Proc[] = [];
let subnet: string[] = [];
/** Each host's IPv6 subnet, in a dual-stack network. */
let subnet6: string[] = [];

const addr = (i: number) => (i === 3 ? '198.18.3.3' : `198.18.0.${i}`);
const addr6 = (i: number) => (i === 3 ? '2001:2:3::3' : `2001:2::${i}`);
const gw = (sn: string) => sn.split('/')[0];
const cli = (i: number, a: string[]) => rig.try(i, [process.execPath, WEFT, ...a]);
const route = (i: number, dst: string) => rig.exec(i, ['ip', 'route', 'show', dst]).trim();
/** The IPv6 route to `dst` without the kernel's `metric 1024 pref medium`. */
const route6 = (i: number, dst: string) => rig.exec(i, ['ip', '-6', 'route', 'show', dst]).trim().replace(/ metric \d+.*$/, '');

/** h3 off the segment: its switch port moved into h4, which routes between 198.18.0.0/24 and 198.18.3.0/24. */
function buildRouter(): void {
  const sw = (args: string[]) => execFileSync('ip', ['-n', rig.sw(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  sw(['link', 'set', 'p3', 'nomaster']);
  sw(['link', 'set', 'p3', 'netns', rig.ns(4)]);
  rig.exec(4, ['ip', 'link', 'set', 'p3', 'up']);
  rig.exec(4, ['ip', 'addr', 'add', '198.18.3.254/24', 'dev', 'p3']);
  rig.exec(4, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  rig.exec(3, ['ip', 'addr', 'del', '198.18.0.3/24', 'dev', 'eth0']);
  rig.exec(3, ['ip', 'addr', 'add', '198.18.3.3/24', 'dev', 'eth0']);
  rig.exec(3, ['ip', 'route', 'add', 'default', 'via', '198.18.3.254']);
  for (const i of [1, 2]) rig.exec(i, ['ip', 'route', 'add', '198.18.3.0/24', 'via', '198.18.0.4']);
  // The same for IPv6.
  for (const i of [1, 2, 3]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${addr6(i)}/64`, 'dev', 'eth0', 'nodad']);
  rig.exec(4, ['ip', '-6', 'addr', 'add', '2001:2::4/64', 'dev', 'eth0', 'nodad']);
  rig.exec(4, ['ip', '-6', 'addr', 'add', '2001:2:3::254/64', 'dev', 'p3', 'nodad']);
  rig.exec(4, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  rig.exec(3, ['ip', '-6', 'route', 'add', 'default', 'via', '2001:2:3::254']);
  for (const i of [1, 2]) rig.exec(i, ['ip', '-6', 'route', 'add', '2001:2:3::/64', 'via', '2001:2::4']);
}

/**
 * Starts a weft on h1–h3 in the network at `prefix`; `six`: 'dual' for a
 * dual-stack one, each host's PublicIPv6 its 2001:2:… address; 'only' for an
 * IPv6-only one, that address its --local (its one subnet in `subnet`).
 */
async function startWefts(prefix: string, name: string, six: 'dual' | 'only' | null = null): Promise<void> {
  w = [];
  subnet = [];
  subnet6 = [];
  for (const i of [1, 2, 3]) {
    const host = six === 'only' ? ['--local', addr6(i)] : ['--local', addr(i), ...(six === 'dual' ? ['--public-ipv6', addr6(i)] : [])];
    w[i] = await rig.weft(i, ['--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, ...host,
      '--subnet-file', join(tmp.dir, `${name}-h${i}.env`)], 20_000);
    const m = /"msg":"lease (\S+)(?: \+ (\S+))? in /.exec(w[i].stderr());
    if (!m) throw new Error(`no lease line in: ${w[i].stderr()}`);
    subnet[i] = m[1];
    if (m[2]) subnet6[i] = m[2];
  }
}

/** A lease's log name: `10.244.1.0/24 + fd00:244:0:1::/64` in a dual-stack network. */
const both = (i: number) => `${subnet[i]} + ${subnet6[i]}`;

/** Waits until host i's log says what became of host j's lease (after `from` characters). */
async function said(i: number, text: string, from = 0): Promise<void> {
  await waitFor(() => w[i].stderr().slice(from).includes(text), 10_000, `h${i} to say "${text}"`);
}

test.before(async () => {
  requireTool('tcpdump', 'tcpdump');
  rig = Rig.up(4, 'dr');
  tmp = tempDir('direct');
  etcd = await Etcd.start(rig);
  buildRouter();
  execFileSync('ip', ['-n', rig.sw(), 'route', 'add', '198.18.3.0/24', 'via', '198.18.0.4'], { stdio: ['ignore', 'ignore', 'pipe'] });
  etcd.put(`${DR}/config`, '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "DirectRouting": true}}');
  etcd.put(`${GW}/config`, '{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}');
  etcd.put(`${DR6}/config`, `{"Network": "10.244.0.0/16", ${SIX}, "Backend": {"Type": "vxlan", "DirectRouting": true}}`);
  etcd.put(`${GW6}/config`, `{"Network": "10.244.0.0/16", ${SIX}, "Backend": {"Type": "host-gw"}}`);
  etcd.put(`${GW6ONLY}/config`, `{"EnableIPv4": false, ${SIX}, "Backend": {"Type": "host-gw"}}`);
  await startWefts(DR, 'dr');
  for (const i of [1, 2]) await said(i, `lease ${subnet[3 - i]} → direct via ${addr(3 - i)}`);
  for (const i of [1, 2]) await said(i, `lease ${subnet[3]} → vtep `);
  for (const j of [1, 2]) await said(3, `lease ${subnet[j]} → vtep `);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('DirectRouting: h2 (our segment) by a route via its host on eth0, h3 (behind the router) through the TAP; weft peers says which', () => {
  assert.match(route(1, subnet[2]), `${subnet[2]} via 198.18.0.2 dev eth0`);
  assert.match(route(1, subnet[3]), `${subnet[3]} via ${gw(subnet[3])} dev weft0 onlink`);
  assert.not.match(rig.exec(1, ['ip', 'neigh', 'show', 'dev', 'weft0']), `${gw(subnet[2])} `);
  // h3 sees neither of them on its segment: both through the tunnel.
  assert.match(route(3, subnet[1]), 'dev weft0 onlink');
  const p = cli(1, ['peers']);
  assert.is(p.status, 0, p.err);
  assert.match(p.out, new RegExp(`^lease ${subnet[2]} public-ip 198\\.18\\.0\\.2 vtep-mac \\S+ path direct$`, 'm'));
  assert.match(p.out, new RegExp(`^lease ${subnet[3]} public-ip 198\\.18\\.3\\.3 vtep-mac \\S+ path vxlan$`, 'm'));
  assert.match(w[1].stderr(), /direct routes to hosts on eth0 198\.18\.0\.0\/24/);
});

test('DirectRouting: h1 ↔ h2 carries no VXLAN (weft\'s datagram counters stay; tcpdump sees plain ICMP), h1 ↔ h3 goes through weft', async () => {
  const before = [(await weftStatus(w[1])).counters, (await weftStatus(w[2])).counters];
  const dump = rig.spawn(2, ['timeout', '-s', 'INT', '6', 'tcpdump', '-i', 'eth0', '-n', '-l', 'icmp or udp port 8472']);
  await waitFor(() => /listening on/.test(dump.stderr()), 5000, 'tcpdump on h2');
  assert.is(ping(rig, 1, gw(subnet[2]), 3, ['-I', gw(subnet[1])]).received, 3);
  assert.is(ping(rig, 2, gw(subnet[1]), 3, ['-I', gw(subnet[2])]).received, 3);
  await dump.exited;
  const after = [(await weftStatus(w[1])).counters, (await weftStatus(w[2])).counters];
  for (const k of [0, 1]) {
    for (const c of ['tx_datagrams', 'rx_datagrams']) assert.is(after[k][c], before[k][c], `h${k + 1} ${c}`);
  }
  const lines = dump.stdout().split('\n');
  assert.ok(lines.some((l) => l.includes(`${gw(subnet[1])} > ${gw(subnet[2])}: ICMP echo request`)), dump.stdout());
  assert.ok(lines.some((l) => l.includes(`${gw(subnet[2])} > ${gw(subnet[1])}: ICMP echo request`)), dump.stdout());
  assert.not.ok(lines.some((l) => l.includes('.8472')), dump.stdout());

  assert.is(ping(rig, 1, gw(subnet[3]), 3, ['-I', gw(subnet[1])]).received, 3);
  assert.is(ping(rig, 3, gw(subnet[1]), 3).received, 3);
  const later = (await weftStatus(w[1])).counters;
  assert.ok(later.tx_datagrams >= after[0].tx_datagrams + 3 && later.rx_datagrams >= after[0].rx_datagrams + 3, JSON.stringify(later));
});

test('DirectRouting: a lease whose PublicIP moves between segments switches path, and back', async () => {
  const sn = ['10.244.250.0/24', '10.244.251.0/24'].find((s) => !subnet.includes(s))!;
  const key = `${DR}/subnets/${sn.replace('/', '-')}`;
  const lease = (ip: string) => `{"PublicIP":"${ip}","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:dd:00:00:00:09"}}`;
  let from = w[1].stderr().length;
  etcd.put(key, lease('198.18.3.9'));
  await said(1, `lease ${sn} → vtep 02:dd:00:00:00:09 at 198.18.3.9`, from);
  await waitFor(() => route(1, sn).includes('dev weft0 onlink'), 5000, 'the tunnel route');
  from = w[1].stderr().length;
  etcd.put(key, lease('198.18.0.9'));
  await said(1, `lease ${sn} → direct via 198.18.0.9 (changed)`, from);
  await waitFor(() => route(1, sn) === `${sn} via 198.18.0.9 dev eth0`, 5000, 'the direct route');
  assert.not.match(rig.exec(1, ['ip', 'neigh', 'show', 'dev', 'weft0']), `${gw(sn)} `);
  assert.not.match(cli(1, ['fdb', 'show']).out, '02:dd:00:00:00:09');
  from = w[1].stderr().length;
  etcd.put(key, lease('198.18.3.9'));
  await said(1, `lease ${sn} → vtep 02:dd:00:00:00:09 at 198.18.3.9 (changed)`, from);
  await waitFor(() => route(1, sn).includes('dev weft0 onlink'), 5000, 'the tunnel route again');
  assert.match(cli(1, ['fdb', 'show']).out, '02:dd:00:00:00:09 dev weft0 dst 198.18.3.9');
  etcd.ctl(['del', key]);
  await waitFor(() => route(1, sn) === '', 5000, 'the route gone with the lease');
});

test('DirectRouting: stopped, weft removes its direct routes too', async () => {
  for (const i of [1, 2, 3]) assert.is(await stopWeft(w[i]), 0);
  assert.is(route(1, subnet[2]), '');
  assert.is(route(2, subnet[1]), '');
});

test('host-gw: the lease is flanneld\'s; h1 ↔ h2 by routes via each other; h3\'s lease refused with one line, and it refuses theirs', async () => {
  await startWefts(GW, 'gw');
  for (const i of [1, 2]) await said(i, `lease ${subnet[3 - i]} → direct via ${addr(3 - i)}`);
  for (const i of [1, 2]) await said(i, `lease ${subnet[3]} refused: PublicIP 198.18.3.3 is not on our segment (eth0 198.18.0.0/24)`);
  for (const j of [1, 2]) await said(3, `lease ${subnet[j]} refused: PublicIP ${addr(j)} is not on our segment (eth0 198.18.3.0/24)`);
  const own = etcd.list(`${GW}/subnets/`).find((kv) => kv.key.endsWith(subnet[1].replace('/', '-')))!;
  assert.is(own.value, '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}');
  assert.match(w[1].stderr(), /listening on no port: host-gw/);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft0']).status, 1, 'no TAP in host-gw');
  assert.is(route(1, subnet[2]), `${subnet[2]} via 198.18.0.2 dev eth0`);
  assert.is(route(1, subnet[3]), '');
  // Pods' addresses stand in as addresses of each host's subnet on lo.
  const pod = (i: number) => gw(subnet[i]).replace(/\.0$/, '.1');
  for (const i of [1, 2]) rig.exec(i, ['ip', 'addr', 'add', `${pod(i)}/32`, 'dev', 'lo']);
  assert.is(ping(rig, 1, pod(2), 3, ['-I', pod(1)]).received, 3);
  assert.is(ping(rig, 2, pod(1), 3, ['-I', pod(2)]).received, 3);
  const once = w[1].stderr().split('\n').filter((l) => l.includes(`lease ${subnet[3]} refused:`));
  assert.is(once.length, 1, w[1].stderr());
  const p = cli(1, ['peers']);
  assert.is(p.status, 0, p.err);
  assert.match(p.out, new RegExp(`^lease ${subnet[2]} public-ip 198\\.18\\.0\\.2 vtep-mac \\S+ path direct$`, 'm'));
  assert.match(p.out, new RegExp(`^lease ${subnet[3]} public-ip - vtep-mac - REFUSED off_segment: PublicIP 198\\.18\\.3\\.3 is not on our segment`, 'm'));
});

test('host-gw: a refused lease whose host moves onto our segment is taken; stopped, weft removes its routes', async () => {
  const sn = ['10.244.250.0/24', '10.244.251.0/24'].find((s) => !subnet.includes(s))!;
  const key = `${GW}/subnets/${sn.replace('/', '-')}`;
  const from = w[1].stderr().length;
  etcd.put(key, '{"PublicIP":"198.18.3.9","PublicIPv6":null,"BackendType":"host-gw"}');
  await said(1, `lease ${sn} refused: PublicIP 198.18.3.9 is not on our segment`, from);
  assert.is(route(1, sn), '');
  etcd.put(key, '{"PublicIP":"198.18.0.9","PublicIPv6":null,"BackendType":"host-gw"}');
  await said(1, `lease ${sn} is valid now: taken`, from);
  await waitFor(() => route(1, sn) === `${sn} via 198.18.0.9 dev eth0`, 5000, 'the route for the moved lease');
  for (const i of [1, 2, 3]) assert.is(await stopWeft(w[i]), 0);
  assert.is(route(1, subnet[2]), '');
  assert.is(route(1, sn), '');
});

test('dual-stack DirectRouting: each side by its host\'s address; ping6 h1 ↔ h2 carries no VXLAN, h1 ↔ h3 goes through weft', async () => {
  await startWefts(DR6, 'dr6', 'dual');
  for (const i of [1, 2]) await said(i, `lease ${both(3 - i)} → direct via ${addr(3 - i)}, direct via ${addr6(3 - i)}`);
  for (const i of [1, 2]) await said(i, `lease ${both(3)} → vtep `);
  assert.is(route6(1, subnet6[2]), `${subnet6[2]} via 2001:2::2 dev eth0`);
  assert.is(route(1, subnet[2]), `${subnet[2]} via 198.18.0.2 dev eth0`);
  assert.match(route6(1, subnet6[3]), `${subnet6[3]} via ${gw(subnet6[3])} dev weft0`);
  const p = cli(1, ['peers']);
  assert.is(p.status, 0, p.err);
  assert.match(p.out, new RegExp(`^lease ${subnet[2]} \\+ \\S+ public-ip 198\\.18\\.0\\.2 vtep-mac \\S+ public-ipv6 2001:2::2 vtep-mac6 \\S+ path direct path6 direct$`, 'm'));
  assert.match(p.out, new RegExp(`^lease ${subnet[3]} \\+ \\S+ public-ip 198\\.18\\.3\\.3 .* path vxlan path6 vxlan$`, 'm'));

  const before = [(await weftStatus(w[1])).counters, (await weftStatus(w[2])).counters];
  assert.is(ping(rig, 1, gw(subnet6[2]), 3, ['-I', gw(subnet6[1])]).received, 3);
  assert.is(ping(rig, 2, gw(subnet6[1]), 3, ['-I', gw(subnet6[2])]).received, 3);
  const after = [(await weftStatus(w[1])).counters, (await weftStatus(w[2])).counters];
  for (const k of [0, 1]) {
    for (const c of ['tx_datagrams', 'rx_datagrams']) assert.is(after[k][c], before[k][c], `h${k + 1} ${c}`);
  }
  assert.is(ping(rig, 1, gw(subnet6[3]), 3, ['-I', gw(subnet6[1])]).received, 3);
  const later = (await weftStatus(w[1])).counters;
  assert.ok(later.tx_datagrams >= after[0].tx_datagrams + 3 && later.rx_datagrams >= after[0].rx_datagrams + 3, JSON.stringify(later));
  for (const i of [1, 2, 3]) assert.is(await stopWeft(w[i]), 0);
  assert.is(route6(1, subnet6[2]), '');
});

test('dual-stack host-gw: both families by routes via the hosts; h3 refused with one line; ping6 between h1 and h2\'s pods', async () => {
  await startWefts(GW6, 'gw6', 'dual');
  for (const i of [1, 2]) await said(i, `lease ${both(3 - i)} → direct via ${addr(3 - i)}, direct via ${addr6(3 - i)}`);
  for (const i of [1, 2]) await said(i, `lease ${both(3)} refused: PublicIP 198.18.3.3 is not on our segment`);
  const own = etcd.list(`${GW6}/subnets/`).find((kv) => kv.key.includes(subnet[1].replace('/', '-')))!;
  assert.is(own.value, '{"PublicIP":"198.18.0.1","PublicIPv6":"2001:2::1","BackendType":"host-gw"}');
  assert.is(route6(1, subnet6[2]), `${subnet6[2]} via 2001:2::2 dev eth0`);
  assert.is(route6(1, subnet6[3]), '');
  const pod6 = (i: number) => `${gw(subnet6[i])}1`;
  for (const i of [1, 2]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${pod6(i)}/128`, 'dev', 'lo']);
  assert.is(ping(rig, 1, pod6(2), 3, ['-I', pod6(1)]).received, 3);
  assert.is(ping(rig, 2, pod6(1), 3, ['-I', pod6(2)]).received, 3);
  const p = cli(1, ['peers']);
  assert.match(p.out, new RegExp(`^lease ${subnet[2]} \\+ \\S+ public-ip 198\\.18\\.0\\.2 vtep-mac - public-ipv6 2001:2::2 vtep-mac6 - path direct path6 direct$`, 'm'));
  for (const i of [1, 2, 3]) assert.is(await stopWeft(w[i]), 0);
  assert.is(route6(1, subnet6[2]), '');
});

test('route check: direct routes removed by hand are put back within 10 s, said once each and counted', async () => {
  await startWefts(GW6, 'gw6-check', 'dual');
  for (const i of [1, 2]) await said(i, `lease ${both(3 - i)} → direct via ${addr(3 - i)}, direct via ${addr6(3 - i)}`);
  const restored = () => (JSON.parse(cli(1, ['stats', '--json']).out) as { leases: { routes: { checks: number; restored: number } } }).leases.routes;
  const was = restored();
  assert.is(was.restored, 0);
  const from = w[1].stderr().length;
  const t0 = Date.now();
  rig.exec(1, ['ip', 'route', 'del', subnet[2]]);
  rig.exec(1, ['ip', '-6', 'route', 'del', subnet6[2]]);
  assert.is(route(1, subnet[2]), '');
  await waitFor(() => route(1, subnet[2]) !== '' && route6(1, subnet6[2]) !== '', 12_000, 'the routes put back');
  const tookMs = Date.now() - t0;
  assert.is(route(1, subnet[2]), `${subnet[2]} via 198.18.0.2 dev eth0`);
  assert.is(route6(1, subnet6[2]), `${subnet6[2]} via 2001:2::2 dev eth0`);
  await said(1, `route ${subnet6[2]} via 2001:2::2 dev eth0 was missing from the kernel: put back`, from);
  const put = w[1].stderr().slice(from).split('\n').filter((l) => l.includes('was missing from the kernel: put back'));
  assert.is(put.length, 2, put.join('\n'));
  const now = restored();
  assert.is(now.restored, 2);
  assert.ok(now.checks > was.checks, JSON.stringify([was, now]));
  assert.ok(tookMs <= 11_000, `put back after ${tookMs} ms`);
  for (const i of [1, 2, 3]) assert.is(await stopWeft(w[i]), 0);
  assert.is(route6(1, subnet6[2]), '');
});

test('IPv6-only host-gw: the lease is flanneld\'s (PublicIP 0.0.0.0); h1 ↔ h2 by IPv6 routes alone; h3 refused by its PublicIPv6', async () => {
  await startWefts(GW6ONLY, 'gw6only', 'only');
  for (const i of [1, 2]) await said(i, `lease ${subnet[3 - i]} → direct via ${addr6(3 - i)}`);
  for (const i of [1, 2]) await said(i, `lease ${subnet[3]} refused: PublicIPv6 2001:2:3::3 is not on our segment`);
  const own = etcd.list(`${GW6ONLY}/subnets/`).find((kv) => kv.key.endsWith(`0.0.0.0-0&${subnet[1].replace('/', '-')}`));
  assert.is(own?.value, '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:2::1","BackendType":"host-gw"}');
  assert.match(w[1].stderr(), /leases via their hosts on eth0 [^"]*2001:2::\/64/);
  assert.is(route6(1, subnet[2]), `${subnet[2]} via 2001:2::2 dev eth0`);
  const pod6 = (i: number) => `${gw(subnet[i])}1`;
  for (const i of [1, 2]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${pod6(i)}/128`, 'dev', 'lo']);
  assert.is(ping(rig, 1, pod6(2), 3, ['-I', pod6(1)]).received, 3);
  for (const i of [1, 2, 3]) assert.is(await stopWeft(w[i]), 0);
  assert.is(route6(1, subnet[2]), '');
});

test.run();
