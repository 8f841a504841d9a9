// checkLease (control/lease-check.ts): every rule a remote lease must pass
// before anything of it is programmed, one row each: the lease, and the
// reason it is refused (or null: taken).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLease, LEASE_VALUE_MAX, type LeaseCheckContext } from '../../src/control/lease-check.js';
import { parseCidr4 } from '../../src/control/ip4.js';

const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const CTX: LeaseCheckContext = {
  network: sn('10.244.0.0/16'), subnetLen: 24, backendType: 'vxlan', vni: 1,
  ownIps: ['198.18.0.1', '2001:2::1'], ownMac: 0x02cc829251a0,
};
const v = (o: Record<string, unknown>, bd: Record<string, unknown> | null = {}) =>
  JSON.stringify({ PublicIP: '198.18.0.2', BackendType: 'vxlan', ...o, ...(bd ? { BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:02', ...bd } } : {}) });

// [what, subnet, value, the reason (a pattern) or null when taken]
const ROWS: [string, string, string, RegExp | null][] = [
  ['a flannel vxlan lease', '10.244.2.0/24', v({}), null],
  ['VNI left out: 1, as flannel reads it', '10.244.2.0/24', JSON.stringify({ PublicIP: '198.18.0.2', BackendType: 'vxlan', BackendData: { VtepMAC: '02:00:00:00:00:02' } }), null],
  ['extra keys flannel may add are fine', '10.244.2.0/24', v({ Extra: [1] }), null],
  ['a unicast PublicIPv6', '10.244.2.0/24', v({ PublicIPv6: '2001:2::2' }), null],
  // the key
  ['not the SubnetLen', '10.244.2.0/25', v({}), /^the subnet is a \/25; the network's SubnetLen is 24$/],
  ['outside the network', '10.245.2.0/24', v({}), /^the subnet is outside the network 10\.244\.0\.0\/16$/],
  // size and JSON types
  ['too big', '10.244.2.0/24', v({ Pad: 'x'.repeat(LEASE_VALUE_MAX) }), /^the value is \d+ bytes, more than 4096$/],
  ['not JSON', '10.244.2.0/24', '{"PublicIP":', /^the value is not JSON$/],
  ['an array', '10.244.2.0/24', '[1,2]', /^the value is not a JSON object$/],
  ['null', '10.244.2.0/24', 'null', /^the value is not a JSON object$/],
  ['BackendType a number', '10.244.2.0/24', v({ BackendType: 7 }), /^BackendType 7 is not a string$/],
  ['another backend', '10.244.2.0/24', v({ BackendType: 'host-gw' }), /^BackendType "host-gw"; the network's is "vxlan"$/],
  ['PublicIP a number', '10.244.2.0/24', v({ PublicIP: 3323068418 }), /^PublicIP 3323068418 is not a string$/],
  ['PublicIP junk, quoted short', '10.244.2.0/24', v({ PublicIP: 'x'.repeat(200) }), /^PublicIP "x{47}… is not an IPv4 address$/],
  ['BackendData missing', '10.244.2.0/24', v({}, null), /^BackendData is missing$/],
  ['BackendData a string', '10.244.2.0/24', v({ BackendData: 'x' }, null), /^BackendData "x" is not a JSON object$/],
  ['VNI a string', '10.244.2.0/24', v({}, { VNI: '1' }), /^BackendData\.VNI "1" is not a whole number$/],
  ['VNI not ours', '10.244.2.0/24', v({}, { VNI: 2 }), /^BackendData\.VNI 2; the network's is 1$/],
  ['VtepMAC a number', '10.244.2.0/24', v({}, { VtepMAC: 2 }), /^BackendData\.VtepMAC 2 is not a string$/],
  ['VtepMAC junk', '10.244.2.0/24', v({}, { VtepMAC: 'zz' }), /^BackendData\.VtepMAC "zz" is not a MAC address$/],
  // addresses
  ['PublicIP unspecified', '10.244.2.0/24', v({ PublicIP: '0.0.0.0' }), /^PublicIP 0\.0\.0\.0 is unspecified$/],
  ['PublicIP loopback', '10.244.2.0/24', v({ PublicIP: '127.0.0.1' }), /^PublicIP 127\.0\.0\.1 is loopback$/],
  ['PublicIP multicast', '10.244.2.0/24', v({ PublicIP: '239.1.2.3' }), /^PublicIP 239\.1\.2\.3 is multicast$/],
  ['PublicIP broadcast', '10.244.2.0/24', v({ PublicIP: '255.255.255.255' }), /^PublicIP 255\.255\.255\.255 is broadcast$/],
  ['PublicIP reserved', '10.244.2.0/24', v({ PublicIP: '240.0.0.1' }), /^PublicIP 240\.0\.0\.1 is reserved$/],
  ['PublicIP ours', '10.244.2.0/24', v({ PublicIP: '198.18.0.1' }), /^PublicIP 198\.18\.0\.1 is ours$/],
  ['PublicIPv6 not an address', '10.244.2.0/24', v({ PublicIPv6: '198.18.0.2' }), /^PublicIPv6 "198\.18\.0\.2" is not an IPv6 address$/],
  ['PublicIPv6 unspecified', '10.244.2.0/24', v({ PublicIPv6: '::' }), /^PublicIPv6 :: is unspecified$/],
  ['PublicIPv6 loopback', '10.244.2.0/24', v({ PublicIPv6: '::1' }), /^PublicIPv6 ::1 is loopback$/],
  ['PublicIPv6 multicast', '10.244.2.0/24', v({ PublicIPv6: 'ff02::1' }), /^PublicIPv6 ff02::1 is multicast$/],
  ['PublicIPv6 ours, spelled otherwise', '10.244.2.0/24', v({ PublicIPv6: '2001:2:0::0001' }), /^PublicIPv6 2001:2:0::0001 is ours$/],
  // the VTEP MAC
  ['VtepMAC zero', '10.244.2.0/24', v({}, { VtepMAC: '00:00:00:00:00:00' }), /^BackendData\.VtepMAC 00:00:00:00:00:00 is all zeros$/],
  ['VtepMAC broadcast', '10.244.2.0/24', v({}, { VtepMAC: 'ff:ff:ff:ff:ff:ff' }), /^BackendData\.VtepMAC ff:ff:ff:ff:ff:ff is broadcast$/],
  ['VtepMAC multicast', '10.244.2.0/24', v({}, { VtepMAC: '01:00:5e:00:00:01' }), /^BackendData\.VtepMAC 01:00:5e:00:00:01 is multicast$/],
  ['VtepMAC ours', '10.244.2.0/24', v({}, { VtepMAC: '02:cc:82:92:51:a0' }), /^BackendData\.VtepMAC 02:cc:82:92:51:a0 is ours$/],
];

test('each rule, one row: taken, or refused with its one-line reason', () => {
  for (const [what, subnet, value, want] of ROWS) {
    const r = checkLease(sn(subnet), value, CTX);
    if (want === null) {
      assert.type(r, 'object', `${what}: ${String(r)}`);
    } else {
      assert.type(r, 'string', `${what}: taken`);
      assert.match(r as string, want, what);
      assert.not.ok((r as string).includes('\n'), `${what}: one line`);
    }
  }
});

test('what a good lease says comes out checked', () => {
  assert.equal(checkLease(sn('10.244.2.0/24'), v({ PublicIPv6: '2001:2::2' }, { VNI: 1 }), CTX),
    // An IPv4 network: PublicIPv6 is checked but not used (the key has no IPv6 half).
    { publicIp: '198.18.0.2', publicIpv6: null, backendType: 'vxlan', vni: 1, vtepMac: 0x020000000002, vtepMac6: null });
  // Another backend's network: no VXLAN fields asked for.
  assert.equal(checkLease(sn('10.244.2.0/24'), JSON.stringify({ PublicIP: '198.18.0.2', BackendType: 'udp' }), { ...CTX, backendType: 'udp' }),
    { publicIp: '198.18.0.2', publicIpv6: null, backendType: 'udp', vni: null, vtepMac: null, vtepMac6: null });
});

test.run();
