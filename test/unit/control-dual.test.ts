// Dual-stack and IPv6-only networks without a network: net-conf.json's IPv6
// defaults, flannel's dual-stack key and lease value, allocation of both
// halves (reuse, the subnet file, racing hosts never sharing an IPv6
// subnet), subnet.env, and what the reconciler programs per family.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { MemoryStore } from '../../src/control/store.js';
import { acquireLease } from '../../src/control/allocate.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { formatSubnet, parseSubnetKey, subnetKey, type Subnet } from '../../src/control/ip4.js';
import { formatIpv6, parseCidr6 } from '../../src/control/ip6.js';
import { encodeAttrs, decodeAttrs, type LeaseAttrs } from '../../src/control/lease.js';
import { readPreviousSubnet, subnetEnv } from '../../src/control/subnet-env.js';
import { LeaseTracker, addCmds, fdbEntries, type RemoteLease } from '../../src/control/reconcile.js';
import { hostAddresses } from '../../src/control/control-plane.js';
import { UsageError } from '../../src/config/errors.js';
import { tempDir } from '../helpers/paths.js';

const vx = { Type: 'vxlan' };
const DUAL = parseNetConf(JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:244::/48', Backend: vx }), 'test');
const V6ONLY = parseNetConf(JSON.stringify({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:244::/48', Backend: vx }), 'test');
const dual = (key: string): Subnet => parseSubnetKey(key)!;
const attrs = (i: number, mac6 = 0x020000000000 + i): LeaseAttrs =>
  ({ publicIp: `198.18.0.${i}`, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000000 + i, publicIpv6: `2001:2::${i}`, vtepMac6: mac6 });

test('net-conf.json: flannel\'s IPv6 defaults (IPv6SubnetLen 64, or prefix + 2; min the second subnet, max the last)', () => {
  assert.is(DUAL.ipv4, true);
  assert.is(DUAL.ipv6!.subnetLen, 64);
  assert.is(formatIpv6(DUAL.ipv6!.subnetMin), 'fd00:244:0:1::');
  assert.is(formatIpv6(DUAL.ipv6!.subnetMax), 'fd00:244:0:ffff::');
  const small = parseNetConf(JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:244::/120', Backend: vx }), 'test');
  assert.is(small.ipv6!.subnetLen, 122);
  assert.is(formatIpv6(small.ipv6!.subnetMin), 'fd00:244::40');
  assert.is(V6ONLY.ipv4, false);
  assert.is(formatSubnet(V6ONLY.network), '0.0.0.0/0');
  assert.is(parseNetConf(JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: false, Backend: vx }), 't').ipv6, null);
});

test('keys: flannel\'s dual-stack and IPv6-only spellings, both ways', () => {
  for (const k of ['10.244.5.0-24&fd00:244:0:5::-64', '0.0.0.0-0&fd00:244:0:5::-64', '10.244.5.0-24']) assert.is(subnetKey(parseSubnetKey(k)!), k);
  assert.is(parseSubnetKey('10.244.5.0-24&fd00:244:0:5::1-64'), null, 'host bits in the IPv6 half');
  assert.is(formatSubnet(dual('10.244.5.0-24&fd00:244:0:5::-64')), '10.244.5.0/24 + fd00:244:0:5::/64');
  assert.is(formatSubnet(dual('0.0.0.0-0&fd00:244:0:5::-64')), 'fd00:244:0:5::/64');
});

test('the lease value: flannel\'s LeaseAttrs, dual-stack and IPv6-only, key for key', () => {
  const both = encodeAttrs(attrs(1, 0x020000000061));
  assert.is(both, '{"PublicIP":"198.18.0.1","PublicIPv6":"2001:2::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:00:61"}}');
  assert.equal(decodeAttrs(both), attrs(1, 0x020000000061));
  const only6 = encodeAttrs({ ...attrs(2), publicIp: null, vtepMac: null });
  assert.is(only6, '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:2::2","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:00:02"}}');
  assert.equal(decodeAttrs(only6), { ...attrs(2), publicIp: null, vtepMac: null });
  assert.match(String(decodeAttrs('{"PublicIP":"198.18.0.1","PublicIPv6":"2001:2::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}}')), /PublicIPv6 but without BackendV6Data/);
  assert.match(String(decodeAttrs('{"PublicIP":"198.18.0.1","PublicIPv6":"198.18.0.1","BackendType":"vxlan"}')), /PublicIPv6 "198.18.0.1" is not an IPv6 address/);
});

test('allocation: both halves in range; a restart keeps the lease with our PublicIP (IPv6-only: PublicIPv6)', async () => {
  const store = new MemoryStore();
  const l = await acquireLease(store, { conf: DUAL, attrs: attrs(1) });
  assert.ok(l.subnet.v6 && l.subnet.v6.len === 64 && l.subnet.len === 24, subnetKey(l.subnet));
  assert.is(subnetKey((await acquireLease(store, { conf: DUAL, attrs: attrs(1) })).subnet), subnetKey(l.subnet));
  const s6 = new MemoryStore();
  const a = { ...attrs(3), publicIp: null, vtepMac: null };
  const m = await acquireLease(s6, { conf: V6ONLY, attrs: a });
  assert.match(subnetKey(m.subnet), /^0\.0\.0\.0-0&fd00:244:[0-9a-f:]+-64$/);
  assert.is(subnetKey((await acquireLease(s6, { conf: V6ONLY, attrs: a })).subnet), subnetKey(m.subnet));
  assert.is((await s6.list()).leases.length, 1);
});

test('allocation: the subnet file names both halves, and they are asked for again', async () => {
  const t = tempDir('dual-env');
  try {
    const f = join(t.dir, 'subnet.env');
    writeFileSync(f, subnetEnv(DUAL, dual('10.244.9.0-24&fd00:244:0:9::-64'), 1430, false));
    const prev = readPreviousSubnet(f)!;
    assert.is(subnetKey(prev), '10.244.9.0-24&fd00:244:0:9::-64');
    const l = await acquireLease(new MemoryStore(), { conf: DUAL, attrs: attrs(1), previous: prev });
    assert.is(subnetKey(l.subnet), '10.244.9.0-24&fd00:244:0:9::-64');
  } finally {
    t.done();
  }
});

test('allocation: hosts racing for three IPv6 subnets never share one; the rest are told none is left', async () => {
  const conf = parseNetConf(JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:244::/124', Backend: vx }), 'test');
  const store = new MemoryStore();
  // Every host picks the lowest free subnet of each family: all collide, and the stores' create decides.
  const r = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => acquireLease(store, { conf, attrs: attrs(i), random: () => 0 })));
  const won = r.filter((x) => x.status === 'fulfilled').map((x) => (x as PromiseFulfilledResult<{ subnet: Subnet }>).value.subnet);
  assert.is(won.length, 3);
  assert.is(new Set(won.map((s) => s.v6!.ip)).size, 3, 'an IPv6 subnet given twice');
  assert.is(new Set(won.map((s) => s.ip)).size, 3, 'an IPv4 subnet given twice');
  for (const x of r.filter((y) => y.status === 'rejected')) assert.match(String((x as PromiseRejectedResult).reason), /no free IPv6 subnet left in fd00:244::\/124/);
});

test('subnet.env: the IPv6 pair after the IPv4 one, as flannel writes it; IPv6-only without the IPv4 pair', () => {
  assert.is(subnetEnv(DUAL, dual('10.244.5.0-24&fd00:244:0:5::-64'), 1430, false),
    'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.5.1/24\nFLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=fd00:244:0:5::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n');
  assert.is(subnetEnv(V6ONLY, dual('0.0.0.0-0&fd00:244:0:5::-64'), 1430, false),
    'FLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=fd00:244:0:5::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n');
});

test('programming: a flanneld lease is two sides, each its own MAC to its own underlay; a weft lease\'s one MAC goes to its IPv4 address', () => {
  const flanneld: RemoteLease = { subnet: dual('10.244.7.0-24&fd00:244:0:7::-64'), publicIp: '198.18.0.7', vtepMac: 0x020000000007, publicIpv6: '2001:2::7', vtepMac6: 0x020000000067, revision: 1 };
  assert.equal(fdbEntries(flanneld), [{ mac: 0x020000000007, ip: '198.18.0.7' }, { mac: 0x020000000067, ip: '2001:2::7' }]);
  assert.equal(addCmds(flanneld, 'weft0'), [
    'neigh replace 10.244.7.0 lladdr 02:00:00:00:00:07 dev weft0 nud permanent',
    'route replace 10.244.7.0/24 via 10.244.7.0 dev weft0 onlink',
    'neigh replace fd00:244:0:7:: lladdr 02:00:00:00:00:67 dev weft0 nud permanent',
    'route replace fd00:244:0:7::/64 via fd00:244:0:7:: dev weft0 onlink',
  ]);
  assert.equal(fdbEntries({ ...flanneld, vtepMac6: 0x020000000007 }), [{ mac: 0x020000000007, ip: '198.18.0.7' }]);
});

test('the tracker takes the families our network carries: a dual lease in an IPv4 network is its IPv4 side', () => {
  const net6 = parseCidr6('fd00:244::/48')!;
  const lease = { subnet: dual('10.244.7.0-24&fd00:244:0:7::-64'), value: encodeAttrs(attrs(7)), revision: 1, expiresMs: 0 };
  const only4 = new LeaseTracker(dual('10.244.1.0-24'), dual('10.244.0.0-16'), 1).apply({ type: 'put', lease });
  assert.equal(only4.map((c) => [c.lease.publicIp, c.lease.publicIpv6]), [['198.18.0.7', null]]);
  const both = new LeaseTracker(dual('10.244.1.0-24&fd00:244:0:1::-64'), dual('10.244.0.0-16'), 1, () => {}, { ip: net6.ip, len: net6.len }).apply({ type: 'put', lease });
  assert.equal(both.map((c) => [c.lease.publicIp, c.lease.publicIpv6]), [['198.18.0.7', '2001:2::7']]);
  const log: string[] = [];
  const clash = { ...lease, subnet: dual('10.244.8.0-24&fd00:244:0:1::-64') };
  assert.equal(new LeaseTracker(dual('10.244.1.0-24&fd00:244:0:1::-64'), dual('10.244.0.0-16'), 1, (l) => log.push(l), { ip: net6.ip, len: net6.len }).apply({ type: 'put', lease: clash }), []);
  assert.match(log.join('\n'), /overlaps our subnet/);
});

test('addresses: dual-stack binds :: (one socket, both underlays); an IPv4 --local in an IPv6-only network is a usage error', () => {
  const ctl = { store: { kind: 'file' as const, path: 'x' }, netConfigPath: null, publicIp: null, publicIpv6: '2001:2::1', iface: null, subnetFile: 'x', renewMarginMs: 1 };
  assert.equal(hostAddresses(DUAL, ctl, '198.18.0.1'), { publicIp: '198.18.0.1', publicIpv6: '2001:2::1', bindIp: null, family: 6 });
  assert.equal(hostAddresses(V6ONLY, ctl, '2001:2::1'), { publicIp: null, publicIpv6: '2001:2::1', bindIp: '2001:2::1', family: 6 });
  assert.throws(() => hostAddresses(V6ONLY, ctl, '198.18.0.1'), (e: unknown) => e instanceof UsageError && /IPv6-only/.test((e as Error).message));
});

test.run();
