// Pods across weft hosts: two hosts lease their subnets of a dual-stack
// network through a real etcd, each attaches two pods with weft-cni (bridge
// + host-local from the subnet.env weft wrote), and every pod reaches every
// other over IPv4 and IPv6, on its own host and across the overlay; a 20 MB
// transfer pod to pod across hosts arrives intact over each family.
//
//   pods 1a 1b ── cni0 (h1) ── weft0 ═╗                               ╔═ weft0 ── cni0 (h2) ── pods 2a 2b
//                                     ╚═ 198.18.0.0/24 + 2001:2::/64 ═╝
//                          etcd 198.18.0.254 (switch namespace)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Rig, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { ROOT, tempDir } from '../helpers/paths.js';
import { Pods, requireCniPlugins, runCni, ipv6Settled } from '../helpers/pods.js';

const NETCONF = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "EnableIPv6": true, "IPv6Network": "fd00:244::/48", "Backend": {"Type": "vxlan", "VNI": 1}}';
const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
let rig: Rig;
let etcd: Etcd;
let pods: Pods;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
/** Pod name ('1a') → its address. */
const addr = new Map<string, string>();
/** Pod name → its IPv6 address. */
const addr6 = new Map<string, string>();
const v6 = (i: number) => `2001:2::${i}`;
const POD_NAMES = ['1a', '1b', '2a', '2b'];

test.before(async () => {
  requireCniPlugins();
  rig = Rig.up(2);
  pods = new Pods(`${rig.name}p`);
  tmp = tempDir('cni-pods');
  for (const i of [1, 2]) rig.exec(i, ['ip', '-6', 'addr', 'add', `${v6(i)}/64`, 'dev', 'eth0', 'nodad']);
  etcd = await Etcd.start(rig);
  etcd.put('/coreos.com/network/config', NETCONF);
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--public-ipv6', v6(i), '--subnet-file', join(tmp.dir, `h${i}.env`)], 20_000);
    subnet[i] = /"msg":"lease (\S+) \+ \S+ in /.exec(w[i].stderr())![1];
  }
  await routesConverged(rig, [1, 2], subnet);
});
test.after(async () => {
  pods?.down();
  rig?.down();
  await etcd?.done();
  tmp?.done();
});

test('each host attaches two pods with weft-cni: addresses of both families from its own lease', async () => {
  for (const name of POD_NAMES) {
    const i = Number(name[0]);
    const netns = pods.add(name);
    const conf = {
      cniVersion: '1.0.0', name: 'weftnet', type: 'weft-cni',
      subnetFile: join(tmp.dir, `h${i}.env`), dataDir: join(tmp.dir, `data${i}`), ipam: { dataDir: join(tmp.dir, `ipam${i}`) },
    };
    const r = runCni(rig.ns(i), 'ADD', conf, { CNI_CONTAINERID: `pod-${name}`, CNI_NETNS: netns, CNI_IFNAME: 'eth0' });
    assert.is(r.status, 0, r.out + r.err);
    const ip = (r.json!.ips as { address: string }[])[0].address;
    const prefix = subnet[i].split('.').slice(0, 3).join('.');
    assert.ok(ip.startsWith(`${prefix}.`) && ip.endsWith('/24'), `${name}: ${ip} in ${subnet[i]}`);
    addr.set(name, ip.split('/')[0]);
    assert.match(pods.exec(name, ['ip', 'route']), `10.244.0.0/16 via ${prefix}.1 dev eth0`);
    const ip6 = (r.json!.ips as { address: string }[])[1].address;
    assert.match(ip6, /^fd00:244:[0-9a-f:]+\/64$/);
    addr6.set(name, ip6.split('/')[0]);
    assert.match(pods.exec(name, ['ip', '-6', 'route']), 'fd00:244::/48 via');
  }
  for (const name of POD_NAMES) await ipv6Settled(pods.ns(name));
  for (const i of [1, 2]) await ipv6Settled(rig.ns(i));
  // What weft wrote is what the plugin read: the lease's MTU on the pods' side.
  assert.match(readFileSync(join(tmp.dir, 'h1.env'), 'utf8'), 'FLANNEL_MTU=1430');
  assert.is(JSON.parse(pods.exec('1a', ['ip', '-j', 'link', 'show', 'eth0']))[0].mtu, 1430);
});

test('every pod reaches every other pod over IPv4 and IPv6, on its host and across the overlay', () => {
  for (const a of [addr, addr6]) {
    for (const from of POD_NAMES) {
      for (const to of POD_NAMES) {
        if (from === to) continue;
        const r = pods.try(from, ['ping', '-c', '2', '-i', '0.2', '-W', '2', a.get(to)!]);
        assert.match(r.out, ' 2 received', `${from} → ${to} (${a.get(to)}): ${r.out}${r.err}`);
      }
    }
  }
});

/** The source address pod `to` sees on a datagram from pod `from`. */
async function sourceSeen(from: string, to: string, port: number): Promise<string> {
  const dst = addr.get(to)!;
  const srv = rig.spawn(Number(to[0]), ['ip', 'netns', 'exec', pods.ns(to), process.execPath, '-e',
    `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => { console.log(r.address); process.exit(0); }); s.bind(${port}, '${dst}', () => console.error('bound'));`]);
  await waitFor(() => /bound/.test(srv.stderr()), 5000, 'udp listener');
  // A few datagrams, as the first may meet a neighbour entry still resolving.
  for (let k = 0; k < 5 && srv.child.exitCode === null; k++) {
    pods.try(from, [process.execPath, '-e', `const c = require('dgram').createSocket('udp4'); c.send('x', ${port}, '${dst}', () => c.close());`]);
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.race([srv.exited, new Promise((r) => setTimeout(r, 3000))]);
  return srv.stdout().trim();
}

test('across hosts a pod is seen at the sending host\'s weft0 address (bridge ipMasq: weft writes FLANNEL_IPMASQ=false); on its host at its own', async () => {
  assert.is(await sourceSeen('1a', '2a', 5021), subnet[1].split('/')[0]);
  assert.is(await sourceSeen('1a', '1b', 5022), addr.get('1a'));
});

for (const [family, port] of [['IPv4', 5011], ['IPv6', 5013]] as const) {
  test(`a 20 MB TCP transfer from a pod on h1 to a pod on h2 arrives intact over ${family}`, async () => {
    const dst = (family === 'IPv4' ? addr : addr6).get('2a')!;
    const srv = rig.spawn(2, ['ip', 'netns', 'exec', pods.ns('2a'), process.execPath, XFER, 'serve', dst, String(port)]);
    await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
    const t0 = Date.now();
    const sent = pods.try('1b', [process.execPath, XFER, 'send', dst, String(port), String(20 << 20)], 90_000);
    assert.is(sent.status, 0, sent.err);
    await Promise.race([srv.exited, new Promise((r) => setTimeout(r, 10_000))]);
    assert.is(srv.stdout().trim(), sent.out.trim());
    assert.match(sent.out, /^20971520 [0-9a-f]{64}/);
    console.log(`  20 MB pod 1b → pod 2a across hosts over ${family}: ${((20 * 8) / ((Date.now() - t0) / 1000)).toFixed(0)} Mbit/s`);
  });
}

test('DEL detaches every pod: no veth left on either host', () => {
  for (const name of POD_NAMES) {
    const i = Number(name[0]);
    const conf = { cniVersion: '1.0.0', name: 'weftnet', type: 'weft-cni', subnetFile: join(tmp.dir, `h${i}.env`), dataDir: join(tmp.dir, `data${i}`) };
    const r = runCni(rig.ns(i), 'DEL', conf, { CNI_CONTAINERID: `pod-${name}`, CNI_NETNS: `/run/netns/${pods.ns(name)}`, CNI_IFNAME: 'eth0' });
    assert.is(r.status, 0, r.out + r.err);
  }
  for (const i of [1, 2]) assert.not.match(rig.exec(i, ['ip', 'link']), 'veth');
});

test.run();
