// host-gw and vxlan's DirectRouting without root: the segment check and the
// path choice per family as pure functions (control/segment.ts), the lease
// host-gw writes, the tracker giving each side of a lease its path or
// refusing a host-gw host off our segment, and the reconciler's kernel
// commands for each path, including a lease that moves between segments and
// a dual-stack lease whose sides take different paths.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeSegment, leasePaths, missingRoutes, networkSegment, onSegment, segmentPrefixes, type Segment, type ShownRoute } from '../../src/control/segment.js';
import { LeaseTracker, Reconciler, type HostOps, type RemoteLease } from '../../src/control/reconcile.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { RouteCheck } from '../../src/control/route-check.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { parseCidr6 } from '../../src/control/ip6.js';
import { RuntimeError } from '../../src/config/errors.js';
import type { StoredLease } from '../../src/control/store.js';

const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const sn6 = (s: string) => { const c = parseCidr6(s)!; return { ip: c.ip, len: c.len }; };
const SEG: Segment = { dev: 'eth0', prefixes: [sn('198.18.0.0/24'), sn('198.19.4.0/30')], prefixes6: [sn6('2001:2::/64')] };

test('onSegment: an address in one of the underlay\'s prefixes of its family, and nothing without a segment', () => {
  for (const [ip, want] of [
    ['198.18.0.2', true], ['198.18.0.255', true], ['198.18.1.2', false],
    ['198.19.4.1', true], ['198.19.4.4', false], ['10.244.0.1', false],
    ['2001:2::2', true], ['2001:2:0:0:ffff::9', true], ['2001:2:0:1::2', false], ['fe80::2', false], ['not an address', false],
  ] as const) assert.is(onSegment(ip, SEG), want, ip);
  assert.is(onSegment('198.18.0.2', null), false);
  assert.is(describeSegment(SEG), 'eth0 198.18.0.0/24 198.19.4.0/30 2001:2::/64');
});

test('segmentPrefixes: addresses to their prefixes per family, without /32s, /128s, link-local IPv6 or repeats', () => {
  assert.equal(segmentPrefixes([
    { family: 'inet', local: '198.18.0.1', prefixlen: 24 },
    { family: 'inet', local: '198.18.0.9', prefixlen: 24 },
    { family: 'inet', local: '198.18.7.7', prefixlen: 32 },
    { family: 'inet6', local: 'fd00:198:18::1', prefixlen: 64, scope: 'global' },
    { family: 'inet6', local: 'fd00:198:18::2', prefixlen: 64, scope: 'global' },
    { family: 'inet6', local: '2001:2:9::9', prefixlen: 128, scope: 'global' },
    { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    { family: 'inet', local: '198.19.4.2', prefixlen: 30 },
  ]), { prefixes: [sn('198.18.0.0/24'), sn('198.19.4.0/30')], prefixes6: [sn6('fd00:198:18::/64')] });
});

test('leasePaths: each backend and DirectRouting, each family on and off the segment', () => {
  // [backend, directRouting, publicIp, publicIpv6, IPv4 side's path, IPv6 side's path; or 'refused']
  const rows: [Parameters<typeof leasePaths>[0], boolean, string | null, string | null, string][] = [
    ['vxlan', false, '198.18.0.2', '2001:2::2', 'vxlan vxlan'],     // no DirectRouting: always the tunnel
    ['vxlan', true, '198.18.0.2', null, 'direct -'],                // on our segment: the route
    ['vxlan', true, '198.18.9.2', null, 'vxlan -'],                 // behind a router: the tunnel
    ['vxlan', true, null, '2001:2::2', '- direct'],                 // IPv6-only, on our segment
    ['vxlan', true, null, '2001:2:9::2', '- vxlan'],                // IPv6-only, behind a router
    ['vxlan', true, '198.18.0.2', '2001:2:9::2', 'direct vxlan'],   // each family decided on its own
    ['vxlan', true, '198.18.9.2', '2001:2::2', 'vxlan direct'],
    ['udp', true, '198.18.0.2', null, 'udp -'],                     // udp has no direct path
    ['host-gw', false, '198.18.0.2', null, 'direct -'],
    ['host-gw', false, '198.18.0.2', '2001:2::2', 'direct direct'],
    ['host-gw', false, null, '2001:2::2', '- direct'],
    ['host-gw', false, '198.18.9.2', null, 'refused'],              // host-gw has nothing to fall back to
    ['host-gw', false, '198.18.0.2', '2001:2:9::2', 'refused'],     // one side off the segment is enough
    ['host-gw', false, null, '2001:2:9::2', 'refused'],
  ];
  for (const [backend, dr, ip, ip6, want] of rows) {
    const got = leasePaths(backend, dr, ip, ip6, SEG);
    assert.is('refused' in got ? 'refused' : `${got.path4 ?? '-'} ${got.path6 ?? '-'}`, want, `${backend} ${dr} ${ip} ${ip6}`);
  }
  assert.equal(leasePaths('host-gw', false, '198.18.9.2', null, SEG), { refused: 'PublicIP 198.18.9.2 is not on our segment (eth0 198.18.0.0/24 198.19.4.0/30 2001:2::/64); host-gw routes only to hosts on it: put the host on that segment, or use vxlan with "DirectRouting": true' });
  assert.match((leasePaths('host-gw', false, '198.18.0.2', '2001:2:9::2', SEG) as { refused: string }).refused, /^PublicIPv6 2001:2:9::2 is not on our segment \(eth0 /);
});

test('networkSegment: read only for host-gw and DirectRouting; host-gw without our address on an interface is one line', () => {
  let reads = 0;
  const read = (ip: string) => { reads++; return ip === '198.18.0.1' ? SEG : null; };
  assert.is(networkSegment({ backend: 'vxlan', directRouting: false }, '198.18.0.1', read), null);
  assert.is(reads, 0);
  // The prefixes of the families the network carries.
  assert.equal(networkSegment({ backend: 'vxlan', directRouting: true }, '198.18.0.1', read), { ...SEG, prefixes6: [] });
  assert.equal(networkSegment({ backend: 'vxlan', directRouting: true, ipv4: true, ipv6: {} }, '198.18.0.1', read), SEG);
  assert.equal(networkSegment({ backend: 'vxlan', directRouting: true, ipv4: false, ipv6: {} }, '198.18.0.1', read), { ...SEG, prefixes: [] });
  assert.is(networkSegment({ backend: 'vxlan', directRouting: true }, '203.0.113.1', read), null);
  assert.throws(() => networkSegment({ backend: 'host-gw', directRouting: false }, '203.0.113.1', read),
    (e: Error) => e instanceof RuntimeError && /^host-gw: no interface here has the public IP 203.0.113.1;/.test(e.message));
  // Dual-stack host-gw: our PublicIPv6 must be on the same interface, as the others route our IPv6 subnet via it.
  assert.equal(networkSegment({ backend: 'host-gw', directRouting: false, ipv6: {} }, '198.18.0.1', read, '2001:2::1'), SEG);
  assert.throws(() => networkSegment({ backend: 'host-gw', directRouting: false, ipv6: {} }, '198.18.0.1', read, '2001:2:9::1'),
    (e: Error) => e instanceof RuntimeError && /^host-gw: the public IPv6 2001:2:9::1 is not on eth0 /.test(e.message));
});

test('net-conf and lease: host-gw takes Type alone and writes flanneld\'s host-gw lease byte for byte', () => {
  const c = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}', 'x');
  assert.equal([c.backend, c.directRouting], ['host-gw', false]);
  assert.is(parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "DirectRouting": true}}', 'x').directRouting, true);
  // IPv6, dual-stack and IPv6-only, with both direct backends.
  const six = '"EnableIPv6": true, "IPv6Network": "fd00:244::/48"';
  assert.is(parseNetConf(`{"Network": "10.244.0.0/16", ${six}, "Backend": {"Type": "host-gw"}}`, 'x').ipv6?.subnetLen, 64);
  assert.is(parseNetConf(`{"EnableIPv4": false, ${six}, "Backend": {"Type": "host-gw"}}`, 'x').backend, 'host-gw');
  assert.is(parseNetConf(`{"Network": "10.244.0.0/16", ${six}, "Backend": {"Type": "vxlan", "DirectRouting": true}}`, 'x').directRouting, true);
  // Go's encoding/json of lease.LeaseAttrs{PublicIP, BackendType: "host-gw"}: the nil PublicIPv6 pointer as null.
  assert.is(encodeAttrs({ publicIp: '198.18.0.1', backendType: 'host-gw', vni: 1, vtepMac: 5 }), '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}');
  // With EnableIPv6: the IPv6 host in PublicIPv6; IPv6-only, Go's zero IP4 in PublicIP.
  assert.is(encodeAttrs({ publicIp: '198.18.0.1', publicIpv6: '2001:2::1', backendType: 'host-gw', vni: 1, vtepMac: 5 }), '{"PublicIP":"198.18.0.1","PublicIPv6":"2001:2::1","BackendType":"host-gw"}');
  assert.is(encodeAttrs({ publicIp: null, publicIpv6: '2001:2::1', backendType: 'host-gw', vni: 1, vtepMac: 5 }), '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:2::1","BackendType":"host-gw"}');
});

let rev = 0;
const stored = (subnet: string, value: string): StoredLease => ({ subnet: sn(subnet), value, revision: ++rev, expiresMs: 0 });
const hostGw = (ip: string) => `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"host-gw"}`;
const vxlan = (ip: string, mac: string) => `{"PublicIP":"${ip}","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}`;
const ctx = (backendType: string) => ({ network: sn('10.244.0.0/16'), subnetLen: 24, backendType, vni: 1, ownIps: ['198.18.0.1'], ownMac: 1 });

test('tracker (host-gw): a host on our segment takes the direct path; one off it is refused once, counted, and taken when it moves on', () => {
  const lines: string[] = [];
  const t = new LeaseTracker(sn('10.244.1.0/24'), ctx('host-gw'), (l) => lines.push(l), { directRouting: false, segment: SEG });
  const first = t.apply({ type: 'snapshot', revision: 1, leases: [stored('10.244.2.0/24', hostGw('198.18.0.2')), stored('10.244.3.0/24', hostGw('198.18.9.3'))] });
  assert.equal(first.map((c) => `${c.type} ${c.lease.publicIp} ${c.lease.path}`), ['add 198.18.0.2 direct']);
  assert.is(lines.length, 1);
  assert.match(lines[0], /^weft: lease 10.244.3.0\/24 refused: PublicIP 198.18.9.3 is not on our segment .*weft_leases_refused\{reason="off_segment"\}/);
  assert.equal([t.invalid.get('10.244.3.0-24')!.reason, t.offSegmentTotal, t.invalidTotal], ['off_segment', 1, 0]);
  // The same value again is not said again.
  t.apply({ type: 'put', lease: stored('10.244.3.0/24', hostGw('198.18.9.3')) });
  assert.is(lines.length, 1);
  // Its host moves onto our segment: taken.
  const moved = t.apply({ type: 'put', lease: stored('10.244.3.0/24', hostGw('198.18.0.3')) });
  assert.equal(moved.map((c) => `${c.type} ${c.lease.publicIp} ${c.lease.path}`), ['add 198.18.0.3 direct']);
  assert.is(t.invalid.size, 0);
  // And off it again: refused, and what was programmed goes.
  const away = t.apply({ type: 'put', lease: stored('10.244.3.0/24', hostGw('198.18.9.3')) });
  assert.equal(away.map((c) => c.type), ['remove']);
  assert.is(t.offSegmentTotal, 2);
});

test('tracker (vxlan + DirectRouting): the path follows the lease\'s PublicIP between segments', () => {
  const t = new LeaseTracker(sn('10.244.1.0/24'), ctx('vxlan'), () => {}, { directRouting: true, segment: SEG });
  const a = t.apply({ type: 'put', lease: stored('10.244.2.0/24', vxlan('198.18.0.2', '02:00:00:00:00:02')) });
  assert.equal(a.map((c) => c.type === 'add' && [c.lease.path, c.old]), [['direct', null]]);
  const b = t.apply({ type: 'put', lease: stored('10.244.2.0/24', vxlan('198.18.9.2', '02:00:00:00:00:02')) });
  assert.equal(b.map((c) => c.type === 'add' && [c.lease.path, c.old?.path]), [['vxlan', 'direct']]);
});

class Recorder implements HostOps {
  readonly log: string[] = [];
  fdbAdd(mac: number, ip: string) { this.log.push(`fdb add ${mac} ${ip}`); return null; }
  fdbRemove(mac: number): void { this.log.push(`fdb del ${mac}`); }
  async ip(cmds: string[]): Promise<{ cmd: string; error: string }[]> { this.log.push(...cmds); return []; }
  ipSync(cmds: string[]) { this.log.push(...cmds); return []; }
}

test('reconciler: a direct lease is one route via its host on the underlay, no forwarding entry or neighbour; a move between paths replaces the route', async () => {
  const ops = new Recorder();
  const r = new Reconciler(ops, 'weft0', () => {}, 'eth0');
  const near: RemoteLease = { subnet: sn('10.244.2.0/24'), publicIp: '198.18.0.2', vtepMac: 2, revision: 1, path: 'direct' };
  await r.apply([{ type: 'add', lease: near, old: null }]);
  assert.equal(ops.log, ['route replace 10.244.2.0/24 via 198.18.0.2 dev eth0']);

  // Moved behind a router: the tunnel's entry, neighbour and onlink route; the route replace takes the place of the direct one.
  ops.log.length = 0;
  const far: RemoteLease = { ...near, publicIp: '198.18.9.2', path: 'vxlan' };
  await r.apply([{ type: 'add', lease: far, old: near }]);
  assert.equal(ops.log, [
    'fdb add 2 198.18.9.2',
    'neigh replace 10.244.2.0 lladdr 00:00:00:00:00:02 dev weft0 nud permanent',
    'route replace 10.244.2.0/24 via 10.244.2.0 dev weft0 onlink',
  ]);

  // Back on our segment: the neighbour and the forwarding entry go, the route is replaced by the direct one.
  ops.log.length = 0;
  await r.apply([{ type: 'add', lease: near, old: far }]);
  assert.equal(ops.log, ['neigh del 10.244.2.0 dev weft0', 'route replace 10.244.2.0/24 via 198.18.0.2 dev eth0', 'fdb del 2']);

  ops.log.length = 0;
  await r.apply([{ type: 'remove', lease: near }]);
  assert.equal(ops.log, ['route del 10.244.2.0/24 via 198.18.0.2 dev eth0']);
});

const dual = (s4: string, s6: string) => ({ ...sn(s4), v6: sn6(s6) });
const ctx6 = (backendType: string) => ({ ...ctx(backendType), network6: sn6('fd00:244::/48'), subnetLen6: 64, ownIps: ['198.18.0.1', '2001:2::1'] });
const storedDual = (s4: string, s6: string, value: string): StoredLease => ({ subnet: dual(s4, s6), value, revision: ++rev, expiresMs: 0 });

test('tracker (dual-stack): host-gw takes both sides direct or refuses the lease; DirectRouting decides each side on its own', () => {
  const lines: string[] = [];
  const gw = new LeaseTracker(dual('10.244.1.0/24', 'fd00:244:0:1::/64'), ctx6('host-gw'), (l) => lines.push(l), { directRouting: false, segment: SEG });
  const hostGw6 = (ip: string, ip6: string) => `{"PublicIP":"${ip}","PublicIPv6":"${ip6}","BackendType":"host-gw"}`;
  const got = gw.apply({ type: 'snapshot', revision: 1, leases: [
    storedDual('10.244.2.0/24', 'fd00:244:0:2::/64', hostGw6('198.18.0.2', '2001:2::2')),
    storedDual('10.244.3.0/24', 'fd00:244:0:3::/64', hostGw6('198.18.0.3', '2001:2:9::3')),
  ] });
  assert.equal(got.map((c) => `${c.type} ${c.lease.path} ${c.lease.path6} ${c.lease.publicIpv6}`), ['add direct direct 2001:2::2']);
  assert.is(lines.length, 1);
  assert.match(lines[0], /lease 10\.244\.3\.0\/24 \+ fd00:244:0:3::\/64 refused: PublicIPv6 2001:2:9::3 is not on our segment/);

  const dr = new LeaseTracker(dual('10.244.1.0/24', 'fd00:244:0:1::/64'), ctx6('vxlan'), () => {}, { directRouting: true, segment: SEG });
  const vx6 = (ip: string, ip6: string) => `{"PublicIP":"${ip}","PublicIPv6":"${ip6}","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:02"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:00:02"}}`;
  const a = dr.apply({ type: 'put', lease: storedDual('10.244.2.0/24', 'fd00:244:0:2::/64', vx6('198.18.0.2', '2001:2:9::2')) });
  assert.equal(a.map((c) => `${c.lease.path} ${c.lease.path6}`), ['direct vxlan']);
  // Only the IPv6 host moves onto our segment: a change, both sides direct now.
  const b = dr.apply({ type: 'put', lease: storedDual('10.244.2.0/24', 'fd00:244:0:2::/64', vx6('198.18.0.2', '2001:2::2')) });
  assert.equal(b.map((c) => c.type === 'add' && `${c.lease.path} ${c.lease.path6} ${c.old?.path6}`), ['direct direct vxlan']);
});

test('reconciler (dual-stack): each side by its own path; the IPv6 route via PublicIPv6 on the underlay; a side that changes path is replaced alone', async () => {
  const ops = new Recorder();
  const r = new Reconciler(ops, 'weft0', () => {}, 'eth0');
  const both: RemoteLease = { subnet: dual('10.244.2.0/24', 'fd00:244:0:2::/64'), publicIp: '198.18.0.2', vtepMac: null, publicIpv6: '2001:2::2', vtepMac6: null, revision: 1, path: 'direct', path6: 'direct' };
  await r.apply([{ type: 'add', lease: both, old: null }]);
  assert.equal(ops.log, ['route replace 10.244.2.0/24 via 198.18.0.2 dev eth0', 'route replace fd00:244:0:2::/64 via 2001:2::2 dev eth0']);

  // DirectRouting with one MAC for both sides (a weft host): IPv4 direct, IPv6 through the tunnel to its IPv6 host.
  ops.log.length = 0;
  const mixed: RemoteLease = { ...both, vtepMac: 2, vtepMac6: 2, publicIpv6: '2001:2:9::2', path6: 'vxlan' };
  await r.apply([{ type: 'add', lease: mixed, old: both }]);
  assert.equal(ops.log, [
    'fdb add 2 2001:2:9::2',
    'route replace 10.244.2.0/24 via 198.18.0.2 dev eth0',
    'neigh replace fd00:244:0:2:: lladdr 00:00:00:00:00:02 dev weft0 nud permanent',
    'route replace fd00:244:0:2::/64 via fd00:244:0:2:: dev weft0 onlink',
  ]);

  ops.log.length = 0;
  await r.apply([{ type: 'remove', lease: mixed }]);
  assert.equal(ops.log, [
    'route del 10.244.2.0/24 via 198.18.0.2 dev eth0',
    'route del fd00:244:0:2::/64 via fd00:244:0:2:: dev weft0',
    'neigh del fd00:244:0:2:: dev weft0',
    'fdb del 2',
  ]);
});

/** A host whose kernel table is `table`: each `route replace` lands in it unless `refuse` names its destination. */
class KernelTwin extends Recorder {
  table: ShownRoute[] = [];
  refuse: string | null = null;
  dumps = 0;
  async routeTable(family: 4 | 6) { this.dumps++; return this.table.filter((r) => r.dst!.includes(':') === (family === 6)); }
  override async ip(cmds: string[]) {
    this.log.push(...cmds);
    const failed: { cmd: string; error: string }[] = [];
    for (const c of cmds) {
      const m = /^route replace (\S+) via (\S+) dev (\S+)$/.exec(c);
      if (!m) continue;
      if (m[1] === this.refuse) failed.push({ cmd: c, error: 'Nexthop has invalid gateway' });
      else this.table.push({ dst: m[1], gateway: m[2], dev: m[3] });
    }
    return failed;
  }
}

test('missingRoutes: told by destination, gateway and interface; a host route as ip prints it', () => {
  const owned = [{ dst: '10.244.2.0/24', via: '198.18.0.2', dev: 'eth0' }, { dst: '10.244.3.5/32', via: '198.18.0.3', dev: 'eth0' }, { dst: 'fd00:244:0:2::/64', via: '2001:2::2', dev: 'eth0' }];
  assert.equal(missingRoutes(owned, [
    { dst: '10.244.2.0/24', gateway: '198.18.0.2', dev: 'eth0' },
    { dst: '10.244.3.5', gateway: '198.18.0.3', dev: 'eth0' },
    { dst: 'fd00:244:0:2::/64', gateway: '2001:2::9', dev: 'eth0' },   // another gateway: not ours
    { dst: 'default', gateway: '198.18.0.254', dev: 'eth0' },
  ]), [owned[2]]);
  assert.equal(missingRoutes(owned, [{ dst: '10.244.2.0/24', gateway: '198.18.0.2', dev: 'eth1' }]), owned);
});

test('route check: a direct route gone from the kernel is put back, said and counted once per put-back; one that cannot be is said once', async () => {
  const ops = new KernelTwin();
  const lines: string[] = [];
  const r = new Reconciler(ops, 'weft0', (l) => lines.push(l), 'eth0');
  const check = new RouteCheck(ops, (l) => lines.push(l));
  const lease: RemoteLease = { subnet: dual('10.244.2.0/24', 'fd00:244:0:2::/64'), publicIp: '198.18.0.2', vtepMac: null, publicIpv6: '2001:2::2', vtepMac6: null, revision: 1, path: 'direct', path6: 'direct' };
  const far: RemoteLease = { subnet: sn('10.244.3.0/24'), publicIp: '198.18.9.3', vtepMac: 3, revision: 1, path: 'vxlan' };
  await r.apply([{ type: 'add', lease, old: null }, { type: 'add', lease: far, old: null }]);
  assert.equal(ops.table.length, 2);
  lines.length = 0;
  ops.log.length = 0;
  await check.run(r.ownedRoutes());
  assert.equal([check.checks, check.restored, ops.dumps, ops.log, lines], [1, 0, 2, [], []]);

  // Someone removes the IPv6 route: the next check puts it back, in one batch, and says so.
  ops.table = ops.table.filter((x) => !x.dst!.includes(':'));
  await check.run(r.ownedRoutes());
  assert.equal(ops.log, ['route replace fd00:244:0:2::/64 via 2001:2::2 dev eth0']);
  assert.is(check.restored, 1);
  assert.equal(lines, ['weft: route fd00:244:0:2::/64 via 2001:2::2 dev eth0 was missing from the kernel: put back (weft_direct_routes_restored_total)']);

  // One the kernel refuses: said once over two checks, not counted; put back once it can be.
  ops.table = ops.table.filter((x) => x.dst !== '10.244.2.0/24');
  ops.refuse = '10.244.2.0/24';
  lines.length = 0;
  await check.run(r.ownedRoutes());
  await check.run(r.ownedRoutes());
  assert.is(lines.length, 1);
  assert.match(lines[0], /^weft: route 10\.244\.2\.0\/24 via 198\.18\.0\.2 dev eth0 is missing from the kernel and could not be put back: Nexthop has invalid gateway; trying again every 10 s$/);
  assert.is(check.restored, 1);
  ops.refuse = null;
  await check.run(r.ownedRoutes());
  assert.is(check.restored, 2);

  // Many at once (a link that bounced): twenty lines by name, then one for the rest; all counted.
  const many: RemoteLease[] = Array.from({ length: 25 }, (_, i) => ({ subnet: sn(`10.244.${100 + i}.0/24`), publicIp: `198.18.0.${100 + i}`, vtepMac: null, revision: 1, path: 'direct' }));
  await r.apply(many.map((lease) => ({ type: 'add' as const, lease, old: null })));
  ops.table = ops.table.filter((x) => !x.dst!.startsWith('10.244.1'));
  lines.length = 0;
  const before = check.restored;
  await check.run(r.ownedRoutes());
  assert.is(check.restored - before, 25);
  assert.is(lines.length, 21);
  assert.is(lines[20], 'weft: and 5 more direct routes were missing from the kernel: put back (weft_direct_routes_restored_total)');

  // Without direct routes, no dump at all.
  await r.apply([{ type: 'remove', lease }, ...many.map((l) => ({ type: 'remove' as const, lease: l }))]);
  const dumps = ops.dumps;
  await check.run(r.ownedRoutes());
  assert.is(ops.dumps, dumps);
});

test.run();
