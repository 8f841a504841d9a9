import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Ipv4View, IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_FLAG_RESERVED, IPV4_HEADER_LEN, IPPROTO_UDP,
  ipv4ToNumber, numberToIpv4, type Ipv4Fields,
} from '../../src/wire/ipv4.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// A UDP datagram's header, 192.168.0.1 → 192.168.0.199, DF, TTL 64, 115 bytes.
// The checksum by hand (RFC 1071), the field itself left out:
//   4500 + 0073 + 0000 + 4000 + 4011 + c0a8 + 0001 + c0a8 + 00c7 = 0x2479c
//   fold: 0x479c + 0x2 = 0x479e;  complement: 0xb861
const HEADER = '45000073 00004000 4011b861 c0a80001 c0a800c7';

const FIELDS: Ipv4Fields = {
  version: 4, ihl: 20, dscp: 0, ecn: 0, totalLength: 115, id: 0, flags: IPV4_FLAG_DF,
  fragmentOffset: 0, ttl: 64, protocol: IPPROTO_UDP, checksum: 0xb861,
  src: '192.168.0.1', dst: '192.168.0.199',
};

test('bytes → fields', () => {
  const v = new Ipv4View(unhex(HEADER), 0);
  assert.ok(v.checkLen(IPV4_HEADER_LEN));
  assert.is(v.version(), 4);
  assert.is(v.ihl(), 20);
  assert.ok(v.dontFragment());
  assert.is(v.moreFragments(), false);
  assert.is(v.isFragment(), false);
  assert.is(v.src(), 0xc0a80001);
  assert.is(v.dst(), 0xc0a800c7);
  assert.is(v.srcOff(), 12);
  assert.is(v.dstOff(), 16);
  assert.is(v.payloadOffset(), 20);
  assert.is(v.payloadLength(), 95);
  assert.is(v.computeChecksum(), 0xb861);
  assert.ok(v.checksumOk());
  assert.equal(v.read(), FIELDS);
});

test('DSCP/ECN, fragments and options', () => {
  // EF (46) with ECT(0), MF set, offset 185 * 8 = 1480, ihl 24 with a Router Alert option.
  const b = unhex('4 6 ba 0030 abcd 20b9 01 11 0000 0a000001 0a000002 94040000');
  const v = new Ipv4View(b, 0);
  assert.ok(v.checkLen(24));
  assert.is(v.ihl(), 24);
  assert.is(v.dscp(), 46);
  assert.is(v.ecn(), 2);
  assert.is(v.flags(), IPV4_FLAG_MF);
  assert.ok(v.moreFragments());
  assert.is(v.fragmentOffset(), 1480);
  assert.ok(v.isFragment());
  assert.is(v.payloadOffset(), 24);
  // The checksum covers the options too.
  assert.is(v.checksumOk(), false);
  v.fillChecksum();
  assert.ok(v.checksumOk());
  b[22] ^= 1;
  assert.is(v.checksumOk(), false);
  // A last fragment: MF clear, offset non-zero.
  v.setFlags(0);
  assert.ok(v.isFragment());
  v.setFragmentOffset(0);
  assert.is(v.isFragment(), false);
});

test('fields → bytes, at a non-zero offset', () => {
  const buf = guarded(3, 20);
  const v = new Ipv4View(buf, 3);
  v.write(FIELDS);
  assert.is(hex(buf.subarray(3, 23)), hex(unhex(HEADER)));
  assert.is(outside(buf, 3, 20), 'ee'.repeat(5));
  // Computing it again from scratch gives the same checksum.
  v.setChecksum(0);
  v.fillChecksum();
  assert.is(hex(buf.subarray(3, 23)), hex(unhex(HEADER)));
});

test('write leaves option bytes alone and throws on a bad address before writing', () => {
  const buf = guarded(0, 24, 0);
  const v = new Ipv4View(buf, 0);
  v.write({ ...FIELDS, ihl: 24 });
  assert.is(v.ihl(), 24);
  assert.is(hex(buf.subarray(20)), 'eeeeeeee');

  const fresh = guarded(0, 20, 0);
  assert.throws(() => new Ipv4View(fresh, 0).write({ ...FIELDS, dst: '192.168.0.1999' }), /192\.168\.0\.1999/);
  assert.is(hex(fresh), 'ee'.repeat(20));
});

test('round trip', () => {
  const f: Ipv4Fields = {
    version: 4, ihl: 60, dscp: 63, ecn: 3, totalLength: 65535, id: 0xfedc,
    flags: IPV4_FLAG_RESERVED | IPV4_FLAG_DF | IPV4_FLAG_MF, fragmentOffset: 0x1fff * 8,
    ttl: 255, protocol: 255, checksum: 0xffff, src: '255.255.255.255', dst: '0.0.0.0',
  };
  const v = new Ipv4View(Buffer.alloc(61), 1);
  v.write(f);
  assert.equal(v.read(), f);
  assert.ok(v.checkLen(60));
});

test('setters touch only their bits', () => {
  const v = new Ipv4View(unhex(HEADER), 0);
  v.setVersion(6);
  assert.is(v.ihl(), 20);
  v.setIhl(24);
  assert.is(v.version(), 6);
  assert.is(hex(v.buf.subarray(0, 1)), '66');
  v.setDscp(46);
  v.setEcn(1);
  assert.is(v.dscp(), 46);
  assert.is(hex(v.buf.subarray(1, 2)), 'b9');
  v.setFragmentOffset(8);
  assert.ok(v.dontFragment());
  v.setFlags(IPV4_FLAG_MF);
  assert.is(v.fragmentOffset(), 8);
  assert.is(hex(v.buf.subarray(6, 8)), '2001');
  v.setSrc(0xc6120001);
  v.setDst(ipv4ToNumber('198.18.0.2'));
  assert.is(hex(v.buf.subarray(12, 20)), 'c6120001c6120002');
});

test('isValid: version and Total Length against the bytes at hand (RFC 1812 §5.2.2)', () => {
  const b = Buffer.concat([unhex(HEADER), Buffer.alloc(95 + 4)]); // 4 bytes of Ethernet padding
  const v = new Ipv4View(b, 0);
  assert.ok(v.isValid(115));
  assert.ok(v.isValid(119));
  assert.is(v.isValid(114), false); // datagram longer than what arrived
  v.setTotalLength(19);
  assert.is(v.isValid(119), false); // shorter than its own header
  v.setTotalLength(115);
  v.setVersion(6);
  assert.is(v.isValid(119), false);
});

test('impossible length', () => {
  const b = unhex(HEADER);
  assert.is(new Ipv4View(b, 0).checkLen(19), false);
  assert.is(new Ipv4View(b.subarray(0, 19), 0).checkLen(20), false);
  assert.is(new Ipv4View(b, 1).checkLen(20), false);
  // IHL below the 5-word minimum (RFC 791 §3.1).
  for (const first of [0x40, 0x41, 0x44]) {
    const bad = Buffer.from(b);
    bad[0] = first;
    assert.is(new Ipv4View(bad, 0).checkLen(20), false, `first byte ${first.toString(16)}`);
  }
  // IHL 24 but only 20 bytes: the options would be out of range.
  const opt = Buffer.from(b);
  opt[0] = 0x46;
  assert.is(new Ipv4View(opt, 0).checkLen(20), false);
  assert.is(new Ipv4View(opt, 0).checkLen(24), false); // caller's len says 24, buffer holds 20
  assert.ok(new Ipv4View(Buffer.concat([opt, Buffer.alloc(4)]), 0).checkLen(24));
  // IHL 60 with 59 bytes.
  const max = Buffer.concat([b, Buffer.alloc(40)]);
  max[0] = 0x4f;
  assert.ok(new Ipv4View(max, 0).checkLen(60));
  assert.is(new Ipv4View(max, 0).checkLen(59), false);
});

test('ipv4ToNumber / numberToIpv4', () => {
  assert.is(ipv4ToNumber('198.18.0.1'), 0xc6120001);
  assert.is(ipv4ToNumber('255.255.255.255'), 0xffffffff);
  assert.is(ipv4ToNumber('0.0.0.0'), 0);
  assert.is(numberToIpv4(0xc6120001), '198.18.0.1');
  assert.is(numberToIpv4(0xffffffff), '255.255.255.255');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.4 ', 'fd00::1', '1.2.3.-4']) {
    assert.throws(() => ipv4ToNumber(bad), (e: Error) => e.message.includes(JSON.stringify(bad)) && /IPv4/.test(e.message), bad);
  }
  for (const bad of [-1, 2 ** 32, 1.5, NaN]) assert.throws(() => numberToIpv4(bad), RangeError);
});

test.run();
