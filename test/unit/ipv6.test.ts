import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ipv6View, IPV6_HEADER_LEN, bytesToIpv6, ipToWords, ipv6ToBytes, wordsToIp, type Ipv6Fields } from '../../src/wire/ipv6.js';
import { IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// A VXLAN datagram's outer header: fd00::1 → fd00::2, UDP, 21 payload bytes,
// hop limit 64, traffic class 0xb8 (DSCP 46), flow label 0xabcde.
const HEADER =
  '6b8abcde 00151140' +
  'fd000000 00000000 00000000 00000001' +
  'fd000000 00000000 00000000 00000002';

const FIELDS: Ipv6Fields = {
  version: 6, trafficClass: 0xb8, flowLabel: 0xabcde, payloadLength: 21,
  nextHeader: IPPROTO_UDP, hopLimit: 64, src: 'fd00::1', dst: 'fd00::2',
};

test('bytes → fields', () => {
  const buf = Buffer.concat([Buffer.alloc(2), unhex(HEADER)]);
  const v = new Ipv6View(buf, 2);
  assert.ok(v.checkLen(IPV6_HEADER_LEN));
  assert.is(v.version(), 6);
  assert.is(v.trafficClass(), 0xb8);
  assert.is(v.flowLabel(), 0xabcde);
  assert.is(v.payloadLength(), 21);
  assert.is(v.nextHeader(), IPPROTO_UDP);
  assert.is(v.hopLimit(), 64);
  assert.is(v.srcOff(), 2 + 8);
  assert.is(v.dstOff(), 2 + 24);
  assert.is(v.payloadOffset(), 2 + 40);
  // Unsigned words: fd00… has the top bit set.
  assert.is(v.srcWord(0), 0xfd000000);
  assert.is(v.srcWord(1), 0);
  assert.is(v.srcWord(3), 1);
  assert.is(v.dstWord(3), 2);
  // Out-of-range indexes wrap instead of reading past the address.
  assert.is(v.srcWord(4), 0xfd000000);
  assert.is(v.dstWord(-1), 2);
  assert.equal(v.read(), FIELDS);
});

test('fields → bytes, at a non-zero offset', () => {
  const buf = guarded(3, 40);
  const v = new Ipv6View(buf, 3);
  v.write(FIELDS);
  assert.is(hex(buf.subarray(3, 43)), hex(unhex(HEADER)));
  assert.is(outside(buf, 3, 40), 'ee'.repeat(5));
});

test('write throws on a bad address before touching the buffer', () => {
  const buf = guarded(0, 40, 0);
  assert.throws(() => new Ipv6View(buf, 0).write({ ...FIELDS, dst: 'fd00::1::2' }), /fd00::1::2/);
  assert.is(hex(buf), 'ee'.repeat(40));
});

test('round trip', () => {
  const f: Ipv6Fields = {
    version: 6, trafficClass: 0xff, flowLabel: 0xfffff, payloadLength: 0xffff,
    nextHeader: 0, hopLimit: 255, src: '2001:db8::1:0:0:1', dst: '::ffff:192.0.2.1',
  };
  const v = new Ipv6View(Buffer.alloc(41), 1);
  v.write(f);
  assert.equal(v.read(), f);
});

test('setters touch only their bits', () => {
  const v = new Ipv6View(unhex(HEADER), 0);
  v.setTrafficClass(0x01);
  assert.is(v.version(), 6);
  assert.is(v.flowLabel(), 0xabcde);
  assert.is(hex(v.buf.subarray(0, 4)), '601abcde');
  v.setFlowLabel(0x12345);
  assert.is(v.trafficClass(), 0x01);
  assert.is(hex(v.buf.subarray(0, 4)), '60112345');
  v.setVersion(4);
  assert.is(v.trafficClass(), 0x01);
  assert.is(hex(v.buf.subarray(0, 1)), '40');
  v.setPayloadLength(0x1234); v.setNextHeader(58); v.setHopLimit(1);
  assert.is(hex(v.buf.subarray(4, 8)), '12343a01');
});

test('address setters copy 16 bytes from another buffer', () => {
  const v = new Ipv6View(Buffer.alloc(40), 0);
  const from = Buffer.concat([Buffer.from([0xaa]), ipv6ToBytes('2001:db8::42'), Buffer.from([0xbb])]);
  v.setSrc(from, 1);
  v.setDst(v.buf, v.srcOff());
  assert.is(bytesToIpv6(v.buf, v.srcOff()), '2001:db8::42');
  assert.is(bytesToIpv6(v.buf, v.dstOff()), '2001:db8::42');
  assert.is(v.dstWord(3), 0x42);
});

test('isValid: version and Payload Length against the bytes at hand', () => {
  const b = Buffer.concat([unhex(HEADER), Buffer.alloc(21)]);
  const v = new Ipv6View(b, 0);
  assert.ok(v.isValid(61));
  assert.is(v.isValid(60), false);
  v.setVersion(4);
  assert.is(v.isValid(61), false);
});

test('impossible length', () => {
  const b = unhex(HEADER);
  assert.is(new Ipv6View(b, 0).checkLen(39), false);
  assert.is(new Ipv6View(b.subarray(0, 39), 0).checkLen(40), false);
  assert.is(new Ipv6View(b, 1).checkLen(40), false);
  assert.is(new Ipv6View().checkLen(40), false);
});

test('text form: RFC 5952 output for any RFC 4291 input', () => {
  const rows: [string, string][] = [
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],                   // §4.3 lower case, §4.2.1 shortest
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // §4.1 no leading zeros
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],       // §4.2.3 first run on a tie
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'],         // §4.2.3 longest run wins
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],   // §4.2.2 one zero group stays
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],             // §5 IPv4-mapped keeps the dotted quad
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],          // not mapped: plain hex
  ];
  for (const [input, out] of rows) {
    const b = ipv6ToBytes(input);
    assert.is(b.length, 16);
    assert.is(bytesToIpv6(b, 0), out, input);
  }
  assert.is(hex(ipv6ToBytes('2001:db8::ff00:42:8329')), '20010db8000000000000ff0000428329');
});

test('text form agrees with the WHATWG URL serializer on random addresses', () => {
  // URL's host serializer also compresses per RFC 5952 §4 (it does not apply §5's
  // dotted form, so IPv4-mapped addresses are left out).
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16;
  for (let n = 0; n < 2000; n++) {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 8; i++) {
      // Mostly zeros, so runs of every length and position show up.
      const g = rnd() % 3 === 0 ? rnd() : 0;
      b.writeUInt16BE(g, 2 * i);
    }
    if (b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0xffff) continue;
    const text = bytesToIpv6(b, 0);
    assert.is(`[${text}]`, new URL(`http://[${text}]/`).hostname, hex(b));
    assert.is(hex(ipv6ToBytes(text)), hex(b));
  }
});

test('text form: bad input throws a message naming it', () => {
  for (const bad of ['', 'fd00::1::2', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::1', 'fe80::1%eth0', '198.18.0.1', ' ::1']) {
    assert.throws(() => ipv6ToBytes(bad), (e: Error) => e.message.includes(JSON.stringify(bad)) && /IPv6/.test(e.message), bad);
  }
});

test('address words: IPv4 and IPv4-mapped text give the same words; words print back', () => {
  assert.equal(ipToWords('198.18.0.2'), [0, 0, 0xffff, 0xc6120002]);
  assert.equal(ipToWords('::ffff:198.18.0.2'), [0, 0, 0xffff, 0xc6120002]);
  assert.equal(ipToWords('fd00::2'), [0xfd000000, 0, 0, 2]);
  assert.is(wordsToIp([0, 0, 0xffff, 0xc6120002]), '198.18.0.2');
  assert.is(wordsToIp(Uint32Array.of(9, 0xfd000000, 0, 0, 2), 1), 'fd00::2');
  assert.is(wordsToIp([0x20010db8, 0, 1, 0x10001]), '2001:db8::1:1:1');
  for (const bad of ['', '198.18.0', 'fe80::1%eth0', 'vtep1.example', '0198.18.0.1']) assert.is(ipToWords(bad), null, bad);
});

test.run();
