import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UdpView, UDP_HEADER_LEN, type UdpFields } from '../../src/wire/udp.js';
import { Ipv4View } from '../../src/wire/ipv4.js';
import { Ipv6View } from '../../src/wire/ipv6.js';
import { VXLAN_PORT_IANA } from '../../src/wire/vxlan.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// A VXLAN datagram (VNI 100, then 'hello'; 21 bytes, odd on purpose) from
// port 40000 to 4789, over IPv4 198.18.0.1 → 198.18.0.2 and over IPv6
// fd00::1 → fd00::2. Checksums computed by a separate Python script; the
// checksum tests cross-check them with a naive sum.
const DATA = '08000000 00006400 68656c6c 6f';
const UDP4 = '45000029 1c464000 40119256 c6120001 c6120002' + '9c4012b5 001514d4' + DATA;
const UDP6 =
  '60000000 00151140' +
  'fd000000 00000000 00000000 00000001' +
  'fd000000 00000000 00000000 00000002' +
  '9c4012b5 0015a6f7' + DATA;

test('bytes → fields, over IPv4', () => {
  const p = unhex(UDP4);
  const ip = new Ipv4View(p, 0);
  const v = new UdpView(p, ip.payloadOffset());
  assert.ok(v.checkLen(UDP_HEADER_LEN));
  assert.ok(v.isValid(ip.payloadLength()));
  assert.is(v.srcPort(), 40000);
  assert.is(v.dstPort(), VXLAN_PORT_IANA);
  assert.is(v.length(), 21);
  assert.is(v.checksum(), 0x14d4);
  assert.is(v.payloadOffset(), 28);
  assert.is(v.payloadLength(), 13);
  assert.equal(v.read(), { srcPort: 40000, dstPort: 4789, length: 21, checksum: 0x14d4 });
  assert.is(v.computeChecksumV4(ip.srcOff(), ip.dstOff()), 0x14d4);
  assert.ok(v.checksumOkV4(ip.srcOff(), ip.dstOff()));
});

test('bytes → fields, over IPv6', () => {
  const p = unhex(UDP6);
  const ip = new Ipv6View(p, 0);
  const v = new UdpView(p, ip.payloadOffset());
  assert.ok(v.isValid(ip.payloadLength()));
  assert.equal(v.read(), { srcPort: 40000, dstPort: 4789, length: 21, checksum: 0xa6f7 });
  assert.is(v.computeChecksumV6(ip.srcOff(), ip.dstOff()), 0xa6f7);
  assert.ok(v.checksumOkV6(ip.srcOff(), ip.dstOff()));
});

test('fields → bytes, at a non-zero offset', () => {
  const buf = guarded(3, 8);
  new UdpView(buf, 3).write({ srcPort: 40000, dstPort: 4789, length: 21, checksum: 0x14d4 });
  assert.is(hex(buf.subarray(3, 11)), '9c4012b5001514d4');
  assert.is(outside(buf, 3, 8), 'ee'.repeat(5));
});

test('fillChecksum computes the known values over both pseudo-headers', () => {
  const p4 = unhex(UDP4);
  const ip4 = new Ipv4View(p4, 0);
  const u4 = new UdpView(p4, 20);
  u4.setChecksum(0);
  u4.fillChecksumV4(ip4.srcOff(), ip4.dstOff());
  assert.is(u4.checksum(), 0x14d4);
  // Garbage in the field does not leak into the result.
  u4.setChecksum(0xdead);
  assert.is(u4.computeChecksumV4(ip4.srcOff(), ip4.dstOff()), 0x14d4);

  const p6 = unhex(UDP6);
  const ip6 = new Ipv6View(p6, 0);
  const u6 = new UdpView(p6, 40);
  u6.setChecksum(0);
  u6.fillChecksumV6(ip6.srcOff(), ip6.dstOff());
  assert.is(u6.checksum(), 0xa6f7);
  assert.is(hex(p6), hex(unhex(UDP6)));
});

test('a computed zero is sent as 0xffff (RFC 768)', () => {
  // 198.18.0.1:1234 → 198.18.0.2:5678 with 2 data bytes chosen to make the sum all ones.
  const p = unhex('c6120001 c6120002' + '04d2162e 000a0000 58b2');
  const v = new UdpView(p, 8);
  assert.is(v.computeChecksumV4(0, 4), 0xffff);
  v.fillChecksumV4(0, 4);
  assert.is(hex(p.subarray(14, 16)), 'ffff');
  assert.ok(v.checksumOkV4(0, 4));
});

test('over IPv6 too; and there a zero field fails even when the sum would verify', () => {
  // fd00::1:1234 → fd00::2:5678, data chosen the same way.
  const p = unhex(
    'fd000000 00000000 00000000 00000001' +
    'fd000000 00000000 00000000 00000002' +
    '04d2162e 000a0000 ead5');
  const v = new UdpView(p, 32);
  assert.is(v.computeChecksumV6(0, 16), 0xffff);
  v.fillChecksumV6(0, 16);
  assert.ok(v.checksumOkV6(0, 16));
  // With this data a zero field sums to all ones, so only RFC 8200 §8.1's rule rejects it.
  v.setChecksum(0);
  assert.is(v.checksumOkV6(0, 16), false);
});

test('checksum verification: corruption, and the zero field over IPv4 vs IPv6', () => {
  const p4 = unhex(UDP4);
  const u4 = new UdpView(p4, 20);
  p4[p4.length - 1] ^= 0x20; // 'o' → 'O'
  assert.is(u4.checksumOkV4(12, 16), false);
  u4.setChecksum(0); // "no checksum" is acceptable over IPv4 (RFC 768)
  assert.ok(u4.checksumOkV4(12, 16));

  const p6 = unhex(UDP6);
  const u6 = new UdpView(p6, 40);
  p6[23] = 3; // a different source address: the pseudo-header no longer matches
  assert.is(u6.checksumOkV6(8, 24), false);
  p6[23] = 1;
  assert.ok(u6.checksumOkV6(8, 24));
  u6.setChecksum(0); // but not over IPv6 (RFC 8200 §8.1)
  assert.is(u6.checksumOkV6(8, 24), false);
});

test('round trip', () => {
  const f: UdpFields = { srcPort: 65535, dstPort: 0, length: 0xfffe, checksum: 0x8001 };
  const v = new UdpView(Buffer.alloc(9), 1);
  v.write(f);
  assert.equal(v.read(), f);
  v.setSrcPort(1); v.setDstPort(2); v.setLength(3); v.setChecksum(4);
  assert.is(hex(v.buf.subarray(1)), '0001000200030004');
});

test('impossible length', () => {
  const h = unhex('9c4012b5 001514d4');
  assert.is(new UdpView(h, 0).checkLen(7), false);
  assert.is(new UdpView(h.subarray(0, 7), 0).checkLen(8), false);
  assert.is(new UdpView(h, 1).checkLen(8), false);
  // Length claims 21 bytes; only the header arrived.
  const v = new UdpView(h, 0);
  assert.ok(v.checkLen(8));
  assert.is(v.isValid(8), false);
  // The caller's len says 21, but the buffer ends first.
  assert.is(v.isValid(21), false);
  // Length below the header's own 8 bytes (RFC 768).
  const p = unhex(UDP4);
  const u = new UdpView(p, 20);
  assert.ok(u.isValid(21));
  u.setLength(7);
  assert.is(u.isValid(21), false);
  u.setLength(22);
  assert.is(u.isValid(21), false);
});

test.run();
