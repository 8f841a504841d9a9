// host-gw and vxlan's DirectRouting without root: the segment check and the
// path choice as pure functions (control/segment.ts), the lease host-gw
// writes, the tracker giving each lease its path or refusing a host-gw host
// off our segment, and the reconciler's kernel commands for each path,
// including a lease that moves between segments.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeSegment, leasePath, networkSegment, onSegment, segmentPrefixes, type Segment } from '../../src/control/segment.js';
import { LeaseTracker, Reconciler, type HostOps, type RemoteLease } from '../../src/control/reconcile.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { ipv4ToNumber } from '../../src/wire/ipv4.js';
import { RuntimeError } from '../../src/config/errors.js';
import type { StoredLease } from '../../src/control/store.js';

const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const SEG: Segment = { dev: 'eth0', prefixes: [sn('198.18.0.0/24'), sn('198.19.4.0/30')] };

test('onSegment: an address in one of the underlay\'s prefixes, and nothing without a segment', () => {
  for (const [ip, want] of [
    ['198.18.0.2', true], ['198.18.0.255', true], ['198.18.1.2', false],
    ['198.19.4.1', true], ['198.19.4.4', false], ['10.244.0.1', false],
  ] as const) assert.is(onSegment(ipv4ToNumber(ip), SEG), want, ip);
  assert.is(onSegment(ipv4ToNumber('198.18.0.2'), null), false);
  assert.is(describeSegment(SEG), 'eth0 198.18.0.0/24 198.19.4.0/30');
});

test('segmentPrefixes: IPv4 addresses to their prefixes, without /32s, IPv6 or repeats', () => {
  assert.equal(segmentPrefixes([
    { family: 'inet', local: '198.18.0.1', prefixlen: 24 },
    { family: 'inet', local: '198.18.0.9', prefixlen: 24 },
    { family: 'inet', local: '198.18.7.7', prefixlen: 32 },
    { family: 'inet6', local: 'fd00:198:18::1', prefixlen: 64 },
    { family: 'inet', local: '198.19.4.2', prefixlen: 30 },
  ]), [sn('198.18.0.0/24'), sn('198.19.4.0/30')]);
});

test('leasePath: each backend and DirectRouting, on and off the segment', () => {
  // [backend, directRouting, publicIp, path or refusal]
  const rows: [Parameters<typeof leasePath>[0], boolean, string | null, string][] = [
    ['vxlan', false, '198.18.0.2', 'vxlan'],        // no DirectRouting: always the tunnel
    ['vxlan', true, '198.18.0.2', 'direct'],        // on our segment: the route
    ['vxlan', true, '198.18.9.2', 'vxlan'],         // behind a router: the tunnel
    ['vxlan', true, null, 'vxlan'],                 // no IPv4 host: the tunnel
    ['udp', true, '198.18.0.2', 'udp'],             // udp has no direct path
    ['host-gw', false, '198.18.0.2', 'direct'],
    ['host-gw', false, '198.18.9.2', 'refused'],    // host-gw has nothing to fall back to
  ];
  for (const [backend, dr, ip, want] of rows) {
    const got = leasePath(backend, dr, ip, SEG);
    assert.is(typeof got === 'string' ? got : 'refused', want, `${backend} ${dr} ${ip}`);
  }
  const r = leasePath('host-gw', false, '198.18.9.2', SEG);
  assert.equal(r, { refused: 'PublicIP 198.18.9.2 is not on our segment (eth0 198.18.0.0/24 198.19.4.0/30); host-gw routes only to hosts on it: put the host on that segment, or use vxlan with "DirectRouting": true' });
});

test('networkSegment: read only for host-gw and DirectRouting; host-gw without our address on an interface is one line', () => {
  let reads = 0;
  const read = (ip: string) => { reads++; return ip === '198.18.0.1' ? SEG : null; };
  assert.is(networkSegment({ backend: 'vxlan', directRouting: false }, '198.18.0.1', read), null);
  assert.is(reads, 0);
  assert.is(networkSegment({ backend: 'vxlan', directRouting: true }, '198.18.0.1', read), SEG);
  assert.is(networkSegment({ backend: 'vxlan', directRouting: true }, '203.0.113.1', read), null);
  assert.throws(() => networkSegment({ backend: 'host-gw', directRouting: false }, '203.0.113.1', read),
    (e: Error) => e instanceof RuntimeError && /^host-gw: no interface here has the public IP 203.0.113.1;/.test(e.message));
});

test('net-conf and lease: host-gw takes Type alone and writes flanneld\'s host-gw lease byte for byte', () => {
  const c = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}', 'x');
  assert.equal([c.backend, c.directRouting], ['host-gw', false]);
  assert.is(parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "DirectRouting": true}}', 'x').directRouting, true);
  // Go's encoding/json of lease.LeaseAttrs{PublicIP, BackendType: "host-gw"}: the nil PublicIPv6 pointer as null.
  assert.is(encodeAttrs({ publicIp: '198.18.0.1', backendType: 'host-gw', vni: 1, vtepMac: 5 }), '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}');
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
  async ip(cmds: string[]) { this.log.push(...cmds); return []; }
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

test.run();
