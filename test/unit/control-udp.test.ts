// The control plane for Backend.Type "udp": net-conf.json's udp keys, the
// lease JSON flanneld's udp backend writes (and weft writes the same), the
// tracker taking such leases, and the reconciler turning them into routes in
// weft's own table with no kernel command per lease.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseNetConf, UDP_BACKEND_PORT } from '../../src/control/net-conf.js';
import { decodeAttrs, encodeAttrs } from '../../src/control/lease.js';
import { LeaseTracker, Reconciler, type HostOps } from '../../src/control/reconcile.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import type { Subnet } from '../../src/control/ip4.js';
import { UsageError } from '../../src/config/errors.js';

const sn = (s: string): Subnet => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };

test('net-conf: Type "udp" takes Port (default 8285, flannel\'s) and nothing else of the vxlan backend', () => {
  const c = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "udp"}}', 'x');
  assert.is(c.backend, 'udp');
  assert.is(c.port, UDP_BACKEND_PORT);
  assert.is(c.port, 8285);
  assert.is(parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "udp", "Port": 9000}}', 'x').port, 9000);
  assert.is(parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'x').backend, 'vxlan');
  assert.throws(() => parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "udp", "VNI": 1}}', 'x'),
    (e: Error) => e instanceof UsageError && /Backend.VNI: not a key of the udp backend \(it takes Type, Port\)/.test(e.message));
  assert.throws(() => parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "udp", "Port": 0}}', 'x'), /Backend.Port/);
});

test('net-conf: Type "udp" with EnableIPv6 is refused in one line (flannel\'s udp backend carries bare IPv4 only)', () => {
  assert.throws(() => parseNetConf('{"Network": "10.244.0.0/16", "EnableIPv6": true, "IPv6Network": "fd00:244::/48", "Backend": {"Type": "udp"}}', 'x'),
    (e: Error) => e instanceof UsageError && e.message === 'x: Backend.Type: "udp" carries IPv4 only (as flannel\'s udp backend); remove "EnableIPv6" or use "vxlan"');
});

test('lease: weft writes what flanneld\'s udp backend writes, byte for byte, and reads it back as no backend type', () => {
  const text = encodeAttrs({ publicIp: '198.18.0.1', backendType: 'udp', vni: 1, vtepMac: 0x02ccaabbccdd });
  // Go's encoding/json of lease.LeaseAttrs{PublicIP: …}: PublicIPv6 (a nil pointer, no omitempty) as null, the empty rest left out.
  assert.is(text, '{"PublicIP":"198.18.0.1","PublicIPv6":null}');
  assert.equal(decodeAttrs(text), { publicIp: '198.18.0.1', backendType: '', vni: null, vtepMac: null });
});

const lease = (subnet: string, value: string, revision = 1) => ({ subnet: sn(subnet), value, revision, expiresMs: 0 });
const ctx = (backendType: string) => ({ network: sn('10.244.0.0/16'), subnetLen: 24, backendType, vni: 1, ownIps: ['198.18.0.1'], ownMac: 1 });

test('tracker (udp): flanneld\'s udp leases and weft\'s are taken, with no MAC; vxlan leases are refused, said once', () => {
  const lines: string[] = [];
  const t = new LeaseTracker(sn('10.244.1.0/24'), ctx('udp'), (l) => lines.push(l));
  const ch = t.apply({ type: 'snapshot', revision: 5, leases: [
    lease('10.244.1.0/24', '{"PublicIP":"198.18.0.1","PublicIPv6":null}'),
    lease('10.244.2.0/24', '{"PublicIP":"198.18.0.2","PublicIPv6":null}'),
    lease('10.244.3.0/24', '{"PublicIP":"198.18.0.3","BackendType":"udp"}'),
    lease('10.244.4.0/24', '{"PublicIP":"198.18.0.4","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:04"}}'),
  ] });
  assert.equal(ch.map((c) => `${c.type} ${c.lease.publicIp} ${c.lease.vtepMac}`), ['add 198.18.0.2 0', 'add 198.18.0.3 0']);
  assert.is(lines.length, 1);
  assert.match(lines[0], /^weft: lease 10.244.4.0\/24 refused: BackendType "vxlan"; the network's is "udp"/);
  assert.equal([...t.invalid.keys()].length, 1);
  // And the vxlan tracker skips a udp lease.
  const v = new LeaseTracker(sn('10.244.1.0/24'), ctx('vxlan'));
  assert.equal(v.apply({ type: 'put', lease: lease('10.244.2.0/24', '{"PublicIP":"198.18.0.2","PublicIPv6":null}') }), []);
});

/** Records what the reconciler asks of the host. */
class Recorder implements HostOps {
  readonly log: string[] = [];
  fdbAdd(mac: number, ip: string, subnet: Subnet) { this.log.push(`add ${subnet.ip >>> 8 & 0xff} ${ip} mac ${mac}`); return null; }
  fdbRemove(mac: number, subnet: Subnet): void { this.log.push(`remove ${subnet.ip >>> 8 & 0xff} mac ${mac}`); }
  async ip(cmds: string[]) { this.log.push(...cmds.map((c) => `ip ${c}`)); return []; }
  ipSync(cmds: string[]) { this.log.push(...cmds.map((c) => `ip ${c}`)); return []; }
}

test('reconciler (udp): a lease is a route by subnet in weft\'s table; moved, it is replaced; no ip command at all', async () => {
  const ops = new Recorder();
  const r = new Reconciler(ops, 'flannel0', () => {});
  const l2 = { subnet: sn('10.244.2.0/24'), publicIp: '198.18.0.2', vtepMac: 0, revision: 1, path: 'udp' as const };
  await r.apply([{ type: 'add', lease: l2, old: null }]);
  await r.apply([{ type: 'add', lease: { ...l2, publicIp: '198.18.0.9' }, old: l2 }]);
  await r.apply([{ type: 'remove', lease: { ...l2, publicIp: '198.18.0.9' } }]);
  assert.equal(ops.log, ['add 2 198.18.0.2 mac 0', 'add 2 198.18.0.9 mac 0', 'remove 2 mac 0']);
});

test.run();
