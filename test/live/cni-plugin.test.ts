// weft-cni with the real reference plugins (Debian's containernetworking-
// plugins: bridge, host-local) on one host, with a dual-stack subnet.env
// written by the test: pods get both families, reach each other and the
// host, CHECK passes, DEL releases everything, GC releases what is stale,
// and every refusal is a CNI error that leaves nothing behind.
//
//   netns <rig>-h1 ("host"): cni0 10.244.7.1/24 fd00:244:0:7::1/64 ── veth ── pods p1 p2 p3 (netns <prefix>-pN), eth0 .2 .3 …
//   subnet.env, the plugin's dataDir and host-local's store: a temporary directory

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, ping } from '../helpers/rig.js';
import { tempDir } from '../helpers/paths.js';
import { Pods, requireCniPlugins, runCni, ipv6Settled, type CniRun } from '../helpers/pods.js';

const ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=fd00:244:0:7::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
let rig: Rig;
let pods: Pods;
let tmp: { dir: string; done: () => void };
let host: string;
const added: Record<string, CniRun> = {};

/** kube-flannel's network config with "type" changed, and the paths a test must own. */
function conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'cbr0', type: 'weft-cni',
    delegate: { hairpinMode: true, isDefaultGateway: true },
    subnetFile: join(tmp.dir, 'subnet.env'), dataDir: join(tmp.dir, 'data'), ipam: { dataDir: join(tmp.dir, 'ipam') },
    ...extra,
  };
}
const vars = (pod: string, netns = `/run/netns/${pods.ns(pod)}`) => ({ CNI_CONTAINERID: `ctr-${pod}`, CNI_NETNS: netns, CNI_IFNAME: 'eth0' });
/** host-local's reservations: address → container id. */
function reservations(net = 'cbr0'): Map<string, string> {
  const dir = join(tmp.dir, 'ipam', net);
  if (!existsSync(dir)) return new Map();
  return new Map(readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/.test(f) && /[.:]/.test(f))
    .map((f) => [f, readFileSync(join(dir, f), 'utf8').split(/\s/)[0]]));
}
const hostLinks = () => (JSON.parse(rig.exec(1, ['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).sort();
const podAddrs = (pod: string) => (JSON.parse(pods.exec(pod, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']))[0].addr_info as { family: string; local: string; prefixlen: number; scope: string }[])
  .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);

test.before(() => {
  requireCniPlugins();
  rig = Rig.up(1);
  host = rig.ns(1);
  pods = new Pods(`${rig.name}c`);
  tmp = tempDir('cni');
  writeFileSync(join(tmp.dir, 'subnet.env'), ENV);
});
test.after(() => {
  pods?.down();
  rig?.down();
  tmp?.done();
});

test('VERSION: the spec versions, in the version asked', () => {
  const r = runCni(host, 'VERSION', { cniVersion: '1.0.0' });
  assert.is(r.status, 0, r.out + r.err);
  assert.is(r.json!.cniVersion, '1.0.0');
  assert.ok((r.json!.supportedVersions as string[]).includes('1.0.0'), r.out);
  assert.ok((r.json!.supportedVersions as string[]).includes('0.4.0'), r.out);
});

test('ADD two pods: an address of each family from the host\'s subnets, routes to both networks, the bridge with the gateways', async () => {
  for (const [pod, v4, v6] of [['p1', '10.244.7.2/24', 'fd00:244:0:7::2/64'], ['p2', '10.244.7.3/24', 'fd00:244:0:7::3/64']]) {
    pods.add(pod);
    const r = runCni(host, 'ADD', conf(), vars(pod));
    assert.is(r.status, 0, r.out + r.err);
    added[pod] = r;
    assert.equal((r.json!.ips as { address: string }[]).map((i) => i.address), [v4, v6]);
    assert.equal(podAddrs(pod).sort(), [v4, v6].sort());
    const routes4 = pods.exec(pod, ['ip', 'route']);
    assert.match(routes4, '10.244.0.0/16 via 10.244.7.1 dev eth0');
    assert.match(routes4, 'default via 10.244.7.1 dev eth0');
    assert.match(pods.exec(pod, ['ip', '-6', 'route']), 'fd00:244::/48 via fd00:244:0:7::1 dev eth0');
    assert.is(JSON.parse(pods.exec(pod, ['ip', '-j', 'link', 'show', 'eth0']))[0].mtu, 1450);
    assert.ok(existsSync(join(tmp.dir, 'data', `ctr-${pod}`)), 'the delegate config is kept for DEL');
  }
  const br = JSON.parse(rig.exec(1, ['ip', '-j', 'addr', 'show', 'dev', 'cni0']))[0];
  const brAddrs = (br.addr_info as { local: string; prefixlen: number; scope: string }[]).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
  assert.equal(brAddrs.sort(), ['10.244.7.1/24', 'fd00:244:0:7::1/64']);
  assert.equal([...reservations().values()].sort(), ['ctr-p1', 'ctr-p1', 'ctr-p2', 'ctr-p2']);
  await ipv6Settled(host);
  for (const pod of ['p1', 'p2']) await ipv6Settled(pods.ns(pod));
});

test('pod ↔ pod and pod ↔ host over IPv4 and IPv6', () => {
  const pingFrom = (where: 'host' | string, dst: string) => where === 'host'
    ? ping(rig, 1, dst, 2).received
    : Number(/(\d+) received/.exec(pods.try(where, ['ping', '-c', '2', '-i', '0.2', '-W', '1', dst]).out)?.[1] ?? 0);
  // rows: from, to
  for (const [from, dst] of [['p1', '10.244.7.3'], ['p2', '10.244.7.2'], ['p1', 'fd00:244:0:7::3'], ['p2', 'fd00:244:0:7::2'],
    ['p1', '10.244.7.1'], ['p2', 'fd00:244:0:7::1'], ['host', '10.244.7.2'], ['host', 'fd00:244:0:7::3']]) {
    assert.is(pingFrom(from, dst), 2, `${from} → ${dst}`);
  }
});

test('CHECK with the ADD result passes; after the pod\'s address is taken away it fails', () => {
  for (const pod of ['p1', 'p2']) {
    const r = runCni(host, 'CHECK', conf({ prevResult: added[pod].json }), vars(pod));
    assert.is(r.status, 0, r.out + r.err);
  }
  pods.exec('p2', ['ip', 'addr', 'del', '10.244.7.3/24', 'dev', 'eth0']);
  const r = runCni(host, 'CHECK', conf({ prevResult: added.p2.json }), vars('p2'));
  assert.is(r.status, 1, r.out);
  assert.type(r.json!.code, 'number');
  pods.exec('p2', ['ip', 'addr', 'add', '10.244.7.3/24', 'dev', 'eth0']);
});

test('DEL releases the addresses and removes the veth and the kept config; a second DEL is fine', () => {
  const before = hostLinks();
  const r = runCni(host, 'DEL', conf({ prevResult: added.p1.json }), vars('p1'));
  assert.is(r.status, 0, r.out + r.err);
  assert.equal([...reservations().values()].sort(), ['ctr-p2', 'ctr-p2']);
  assert.is(hostLinks().length, before.length - 1, `host links: ${hostLinks().join(' ')}`);
  assert.is(pods.try('p1', ['ip', 'link', 'show', 'eth0']).status, 1, 'eth0 gone from the pod');
  assert.not.ok(existsSync(join(tmp.dir, 'data', 'ctr-p1')));
  assert.is(runCni(host, 'DEL', conf(), vars('p1')).status, 0, 'DEL is idempotent');
  pods.remove('p1');
});

test('DEL after subnet.env is gone still works: it uses the kept config', () => {
  pods.add('p3');
  assert.is(runCni(host, 'ADD', conf(), vars('p3')).status, 0);
  const env = join(tmp.dir, 'subnet.env');
  rig.exec(1, ['mv', env, `${env}.away`]);
  try {
    const r = runCni(host, 'DEL', conf(), vars('p3'));
    assert.is(r.status, 0, r.out + r.err);
    assert.not.ok([...reservations().values()].includes('ctr-p3'));
  } finally {
    rig.exec(1, ['mv', `${env}.away`, env]);
  }
  pods.remove('p3');
});

test('GC (spec 1.1): a pod gone without a DEL is released; valid attachments are kept', () => {
  pods.add('p4');
  assert.is(runCni(host, 'ADD', conf(), vars('p4')).status, 0);
  pods.remove('p4');
  const r = runCni(host, 'GC', conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'ctr-p2', ifname: 'eth0' }] }), {});
  assert.is(r.status, 0, r.out + r.err);
  assert.equal([...reservations().values()].sort(), ['ctr-p2', 'ctr-p2']);
  assert.equal(readdirSync(join(tmp.dir, 'data')), ['ctr-p2']);
});

test('refusals: a CNI error with the spec\'s code, and nothing made', () => {
  pods.add('bad');
  const links = hostLinks();
  const res = [...reservations().keys()].sort();
  // rows: what is wrong, the stdin, the variables, the expected code
  const rows: [string, unknown, Record<string, string>, number][] = [
    ['not JSON', '{"cniVersion": ', vars('bad'), 6],
    ['a delegate with "ipam"', conf({ delegate: { ipam: {} } }), vars('bad'), 7],
    ['a delegate with "name"', conf({ delegate: { name: 'x' } }), vars('bad'), 7],
    ['"subnetFile" not a string', conf({ subnetFile: 7 }), vars('bad'), 7],
    ['an unknown cniVersion', conf({ cniVersion: '9.9.9' }), vars('bad'), 1],
    ['no subnet.env', conf({ subnetFile: join(tmp.dir, 'nope.env') }), vars('bad'), 11],
    ['no CNI_CONTAINERID', conf(), { CNI_NETNS: '/run/netns/' + pods.ns('bad'), CNI_IFNAME: 'eth0' }, 4],
    ['a container id with a slash', conf(), { ...vars('bad'), CNI_CONTAINERID: '../etc' }, 4],
    ['a delegate not in CNI_PATH', conf({ delegate: { type: 'nosuchplugin' } }), vars('bad'), 101],
  ];
  for (const [what, stdin, v, code] of rows) {
    const r = runCni(host, 'ADD', stdin, v);
    assert.is(r.status, 1, `${what}: ${r.out}`);
    assert.is(r.json?.code, code, `${what}: ${r.out}`);
    assert.type(r.json?.msg, 'string', what);
  }
  const u = runCni(host, 'FROB', conf(), vars('bad'));
  assert.is(u.status, 1);
  assert.is(u.json?.code, 4, u.out);
  assert.match(u.json!.msg as string, 'CNI_COMMAND=FROB');
  assert.equal(hostLinks(), links, 'no link made');
  assert.is(pods.try('bad', ['ip', 'link', 'show', 'eth0']).status, 1, 'no eth0 in the pod');
  assert.equal([...reservations().keys()].sort(), res, 'no address reserved');
  assert.equal(readdirSync(join(tmp.dir, 'data')), ['ctr-p2'], 'no config kept');
});

test('ADD where CNI_IFNAME already exists: refused before the delegate runs, the interface left alone', () => {
  pods.add('taken');
  pods.exec('taken', ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
  const links = hostLinks();
  const r = runCni(host, 'ADD', conf(), vars('taken'));
  assert.is(r.status, 1, r.out);
  assert.is(r.json?.code, 104, r.out);
  assert.match(pods.exec('taken', ['ip', 'link', 'show', 'eth0']), 'eth0@other0', 'that eth0 is still there');
  assert.equal(hostLinks(), links);
  assert.not.ok(existsSync(join(tmp.dir, 'data', 'ctr-taken')));
  // A second ADD of an attachment that exists is refused the same way, and the pod keeps working.
  const again = runCni(host, 'ADD', conf(), vars('p2'));
  assert.is(again.json?.code, 104, again.out);
  assert.equal(podAddrs('p2').sort(), ['10.244.7.3/24', 'fd00:244:0:7::3/64']);
});

test('a delegate that fails half-way (no address left) is undone: no veth, no eth0, no kept config', () => {
  // A /30: the gateway and one pod address.
  writeFileSync(join(tmp.dir, 'tiny.env'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/30\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const tiny = conf({ name: 'tiny', subnetFile: join(tmp.dir, 'tiny.env'), delegate: { bridge: 'cni1' } });
  pods.add('t1');
  pods.add('t2');
  assert.is(runCni(host, 'ADD', tiny, vars('t1')).status, 0);
  const links = hostLinks();
  const r = runCni(host, 'ADD', tiny, vars('t2'));
  assert.is(r.status, 1, r.out);
  assert.match(r.json!.msg as string, /no IP addresses available/);
  assert.equal(hostLinks(), links, 'the veth made before the address ran out is gone');
  assert.is(pods.try('t2', ['ip', 'link', 'show', 'eth0']).status, 1, 'no eth0 in the pod');
  assert.not.ok(existsSync(join(tmp.dir, 'data', 'ctr-t2')));
  assert.equal([...reservations('tiny').values()], ['ctr-t1']);
  assert.is(runCni(host, 'DEL', tiny, vars('t1')).status, 0);
});

test('STATUS (spec 1.1): ready with subnet.env, code 50 without', () => {
  assert.is(runCni(host, 'STATUS', conf({ cniVersion: '1.1.0' })).status, 0);
  const r = runCni(host, 'STATUS', conf({ cniVersion: '1.1.0', subnetFile: join(tmp.dir, 'nope.env') }));
  assert.is(r.status, 1);
  assert.is(r.json?.code, 50, r.out);
});

test.run();
