import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  IcmpView, ICMP_HEADER_LEN, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMPV6_PACKET_TOO_BIG,
  isIcmpV4Error, isIcmpV6Error, type IcmpFields,
} from '../../src/wire/icmp.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// ICMPv4 "fragmentation needed and DF set", next-hop MTU 1400 (RFC 792,
// RFC 1191 §4), carrying a 28-byte piece of the invoking datagram (an IPv4
// header 10.244.0.1 → 10.244.0.2 and 8 bytes of echo request). Checksums
// computed by a separate Python script.
const FRAG_NEEDED = '030416b9 00000578' + '450005dc 00004000 40010000 0af40001 0af40002' + '0800f7ff 00010001';
// ICMPv6 Packet Too Big, MTU 1400 (RFC 4443 §3.2), from fd00::2 to fd00::1,
// carrying 8 bytes of the invoking packet; the pseudo-header is in PSEUDO6.
const TOO_BIG = '02005e48 00000578' + '60000000 05b03a40';
const PSEUDO6 = 'fd000000 00000000 00000000 00000002' + 'fd000000 00000000 00000000 00000001';

test('bytes → fields, ICMPv4 fragmentation needed', () => {
  const b = unhex(FRAG_NEEDED);
  const v = new IcmpView(b, 0);
  assert.ok(v.checkLen(b.length));
  assert.is(v.type(), ICMP_DEST_UNREACH);
  assert.is(v.code(), ICMP_FRAG_NEEDED);
  assert.is(v.checksum(), 0x16b9);
  assert.is(v.nextHopMtu(), 1400);
  assert.is(v.payloadOffset(), ICMP_HEADER_LEN);
  assert.equal(v.read(), { type: 3, code: 4, checksum: 0x16b9, rest: 1400 });
  assert.is(v.computeChecksumV4(b.length), 0x16b9);
  assert.ok(v.checksumOkV4(b.length));
  b[20] ^= 1;
  assert.is(v.checksumOkV4(b.length), false);
});

test('bytes → fields, ICMPv6 packet too big (pseudo-header in the same buffer)', () => {
  const b = unhex(PSEUDO6 + TOO_BIG);
  const v = new IcmpView(b, 32);
  assert.ok(v.checkLen(16));
  assert.is(v.type(), ICMPV6_PACKET_TOO_BIG);
  assert.is(v.code(), 0);
  assert.is(v.mtu(), 1400);
  assert.is(v.computeChecksumV6(16, 0, 16), 0x5e48);
  assert.ok(v.checksumOkV6(16, 0, 16));
  // The pseudo-header counts: change an address and it no longer verifies.
  b[0] ^= 0x80;
  assert.is(v.checksumOkV6(16, 0, 16), false);
});

test('fields → bytes, at a non-zero offset; fillChecksum gives the known values', () => {
  const want = unhex(FRAG_NEEDED);
  const buf = guarded(5, want.length);
  want.copy(buf, 5 + ICMP_HEADER_LEN, ICMP_HEADER_LEN);
  const v = new IcmpView(buf, 5);
  v.write({ type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, checksum: 0, rest: 0xffffffff });
  v.setNextHopMtu(1400);
  v.fillChecksumV4(want.length);
  assert.is(hex(buf.subarray(5, 5 + want.length)), hex(want));
  assert.is(outside(buf, 5, want.length), 'ee'.repeat(7));

  const six = unhex(PSEUDO6 + TOO_BIG);
  const w = new IcmpView(six, 32);
  w.setChecksum(0);
  w.fillChecksumV6(16, 0, 16);
  assert.is(w.checksum(), 0x5e48);
});

test('round trip', () => {
  const v = new IcmpView(Buffer.alloc(8), 0);
  const f: IcmpFields = { type: 2, code: 0, checksum: 0xbeef, rest: 0x80000001 };
  v.write(f);
  assert.equal(v.read(), f);
  assert.is(v.mtu(), 0x80000001);
  v.setMtu(9000);
  assert.is(v.mtu(), 9000);
});

test('impossible length', () => {
  assert.is(new IcmpView(Buffer.alloc(7), 0).checkLen(7), false);
  assert.is(new IcmpView(Buffer.alloc(8), 1).checkLen(8), false);
  assert.is(new IcmpView(Buffer.alloc(16), 0).checkLen(7), false);
});

test('error types: never an error about an error (RFC 1122 §3.2.2, RFC 4443 §2.4 e.1)', () => {
  for (const t of [3, 4, 5, 11, 12]) assert.ok(isIcmpV4Error(t), String(t));
  for (const t of [0, 8, 13, 14]) assert.is(isIcmpV4Error(t), false, String(t));
  assert.ok(isIcmpV6Error(1) && isIcmpV6Error(2) && isIcmpV6Error(127));
  assert.is(isIcmpV6Error(128) || isIcmpV6Error(135), false);
});

test.run();
