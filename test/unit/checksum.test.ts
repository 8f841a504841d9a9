import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  finish, fold, ipv4HeaderChecksum, l4Checksum, pseudoSumV4, pseudoSumV6, sum16, udpChecksumField, verifies,
} from '../../src/wire/checksum.js';
import { unhex } from '../helpers/bytes.js';

// An independent checksum to cross-check against: BigInt, carry folded back
// after every word instead of once at the end, odd byte padded explicitly.
function naiveChecksum(...parts: Uint8Array[]): number {
  const bytes: number[] = [];
  for (const p of parts) bytes.push(...p);
  if (bytes.length % 2) bytes.push(0);
  let s = 0n;
  for (let i = 0; i < bytes.length; i += 2) {
    s += BigInt((bytes[i] << 8) | bytes[i + 1]);
    if (s > 0xffffn) s -= 0xffffn;
  }
  return Number(~s & 0xffffn);
}

// Pseudo-headers spelled out byte by byte (RFC 768; RFC 8200 §8.1).
function pseudoV4(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  return Buffer.concat([src, dst, Buffer.from([0, proto, len >>> 8, len & 0xff])]);
}
function pseudoV6(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(len, 0);
  tail[7] = proto;
  return Buffer.concat([src, dst, tail]);
}

// A deterministic byte source, so a failure reproduces.
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x >>> 24;
  };
}

// UDP over IPv4, 198.18.0.1:40000 → 198.18.0.2:4789, carrying a VXLAN header
// (VNI 100) and 'hello': an odd 21-byte datagram. Both checksums were computed
// with a separate Python script and agree with naiveChecksum below.
const UDP4 =
  '45000029 1c464000 40119256 c6120001 c6120002' + // IPv4, DF, TTL 64, csum 0x9256
  '9c4012b5 001514d4' + //                                UDP, len 21, csum 0x14d4
  '08000000 00006400 68656c6c 6f';
// The same datagram over IPv6, fd00::1 → fd00::2.
const UDP6 =
  '60000000 00151140' +
  'fd000000 00000000 00000000 00000001' +
  'fd000000 00000000 00000000 00000002' +
  '9c4012b5 0015a6f7' + //                                UDP, len 21, csum 0xa6f7
  '08000000 00006400 68656c6c 6f';

test('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2', () => {
  const b = unhex('0001 f203 f4f5 f6f7');
  assert.is(fold(sum16(b, 0, 8)), 0xddf2);
  assert.is(finish(sum16(b, 0, 8)), 0x220d);
  assert.is(naiveChecksum(b), 0x220d);
  // The same bytes inside a larger buffer: only the range counts.
  const framed = unhex('ffff 0001 f203 f4f5 f6f7 ffff');
  assert.is(fold(sum16(framed, 2, 8)), 0xddf2);
});

test('odd length pads the last byte with zero on the right, not with the next byte', () => {
  const b = unhex('0102 03ff');
  assert.is(fold(sum16(b, 0, 3)), 0x0402);
  assert.is(finish(sum16(b, 0, 3)), naiveChecksum(b.subarray(0, 3)));
  assert.is(fold(sum16(b, 0, 1)), 0x0100);
  assert.is(fold(sum16(b, 0, 0)), 0);
});

test('partial sums chain: two halves with an initial equal the whole', () => {
  const rnd = prng(1);
  const b = Buffer.alloc(1001);
  for (let i = 0; i < b.length; i++) b[i] = rnd();
  assert.is(fold(sum16(b, 500, 501, sum16(b, 0, 500))), fold(sum16(b, 0, 1001)));
});

test('agrees with the naive sum on random data up to the 64 KiB limit', () => {
  const rnd = prng(7);
  for (const n of [1, 2, 3, 64, 1499, 9001, 65535]) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = rnd();
    assert.is(finish(sum16(b, 0, n)), naiveChecksum(b), `length ${n}`);
  }
  // All ones is the worst case for carries.
  const ones = Buffer.alloc(65535, 0xff);
  assert.is(finish(sum16(ones, 0, ones.length)), naiveChecksum(ones));
});

test('fold carries end around until 16 bits remain', () => {
  assert.is(fold(0x1fffe), 0xffff);
  assert.is(fold(0xffff0001), 0x0001);
  assert.is(fold(0x2ffff), 0x0002); // needs a second round
});

test('IPv4 header checksum ignores the stored field (RFC 791 §3.1)', () => {
  const h = unhex('45000073 00004000 4011b861 c0a80001 c0a800c7');
  assert.is(ipv4HeaderChecksum(h, 0, 20), 0xb861);
  h[10] = 0x12; h[11] = 0x34;
  assert.is(ipv4HeaderChecksum(h, 0, 20), 0xb861);
  h[8] = 63; // TTL decremented: now the sum must change
  assert.is(ipv4HeaderChecksum(h, 0, 20), 0xb961);
});

test('UDP over IPv4: pseudo-header sum and l4Checksum give the known 0x14d4', () => {
  const p = unhex(UDP4);
  assert.is(ipv4HeaderChecksum(p, 0, 20), 0x9256);
  const udpLen = p.length - 20;
  const pseudo = pseudoSumV4(p, 12, 16, 17, udpLen);
  assert.is(l4Checksum(p, 20, udpLen, 26, pseudo), 0x14d4);

  const zeroed = Buffer.from(p.subarray(20));
  zeroed[6] = 0; zeroed[7] = 0;
  assert.is(naiveChecksum(pseudoV4(p.subarray(12, 16), p.subarray(16, 20), 17, udpLen), zeroed), 0x14d4);

  assert.ok(verifies(p, 20, udpLen, pseudo));
  p[p.length - 1] ^= 1;
  assert.is(verifies(p, 20, udpLen, pseudo), false);
});

test('UDP over IPv6: pseudo-header sum and l4Checksum give the known 0xa6f7', () => {
  const p = unhex(UDP6);
  const udpLen = p.length - 40;
  const pseudo = pseudoSumV6(p, 8, 24, 17, udpLen);
  assert.is(l4Checksum(p, 40, udpLen, 46, pseudo), 0xa6f7);

  const zeroed = Buffer.from(p.subarray(40));
  zeroed[6] = 0; zeroed[7] = 0;
  assert.is(naiveChecksum(pseudoV6(p.subarray(8, 24), p.subarray(24, 40), 17, udpLen), zeroed), 0xa6f7);

  assert.ok(verifies(p, 40, udpLen, pseudo));
  p[9] ^= 0x80; // a different source address
  assert.is(verifies(p, 40, udpLen, pseudoSumV6(p, 8, 24, 17, udpLen)), false);
});

test('IPv6 pseudo-header carries lengths above 64 KiB in two words', () => {
  const addrs = Buffer.alloc(32);
  // RFC 8200 §8.1's length field is 32 bits; both halves must count.
  assert.is(pseudoSumV6(addrs, 0, 16, 17, 0x12345), 1 + 0x2345 + 17);
});

test('zero → 0xffff: a UDP checksum that computes to zero is sent as all ones (RFC 768)', () => {
  // 198.18.0.1:1234 → 198.18.0.2:5678, 2 bytes of data chosen so the sum is all ones.
  const p = unhex('c6120001 c6120002' + '04d2162e 000a0000 58b2');
  const pseudo = pseudoSumV4(p, 0, 4, 17, 10);
  assert.is(l4Checksum(p, 8, 10, 14, pseudo), 0);
  assert.is(naiveChecksum(pseudoV4(p.subarray(0, 4), p.subarray(4, 8), 17, 10), p.subarray(8)), 0);
  assert.is(udpChecksumField(0), 0xffff);
  assert.is(udpChecksumField(0x14d4), 0x14d4);
  assert.is(udpChecksumField(0xffff), 0xffff);
  // All ones is the other zero of one's complement, so it verifies.
  p[14] = 0xff; p[15] = 0xff;
  assert.ok(verifies(p, 8, 10, pseudo));
});

test.run();
