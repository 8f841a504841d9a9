// The native Internet checksum (csum, csumRanges) against the TypeScript
// one it replaces (src/wire/checksum.ts): no device, no namespace, no root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../src/io/native.js';
import { sum16, fold } from '../../src/wire/checksum.js';
import { thrown } from '../helpers/native-io.js';

/** xorshift32: the same cases on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

test('csum: RFC 1071 §3 example, odd last byte, chaining, and the fold of all ones and all zeros', () => {
  const n = native();
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
  const rfc = Buffer.from('0001f203f4f5f6f7', 'hex');
  assert.is(n.csum(rfc, 0, 8, 0), 0xddf2);
  // Words count from `off`: at offset 1 they are 01f2 03f4 f5f6, then f7 00.
  assert.is(n.csum(rfc, 1, 7, 0), fold(0x01f2 + 0x03f4 + 0xf5f6 + 0xf700));
  // Chaining two pieces (even first length) is the sum of the whole.
  assert.is(n.csum(rfc, 4, 4, n.csum(rfc, 0, 4, 0)), 0xddf2);
  assert.is(n.csum(rfc, 0, 0, 0x1234), 0x1234);
  assert.is(n.csum(rfc, 0, 0, 0xffffffff), 0xffff);
  // The IPv4 header of RFC 1071's cousin example: its checksum field is b861.
  const ip4 = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
  assert.is(~n.csum(ip4, 0, 20, 0) & 0xffff, 0xb861);
  // All zeros stay 0 (not 0xffff); all ones fold to 0xffff, however long;
  // an odd last 0xff is the word ff00, which adds nothing else.
  assert.is(n.csum(Buffer.alloc(70001), 0, 70001, 0), 0);
  assert.is(n.csum(Buffer.alloc(70001, 0xff), 1, 70000, 0), 0xffff);
  assert.is(n.csum(Buffer.alloc(70001, 0xff), 0, 70000, 0xffffffff), 0xffff);
  assert.is(n.csum(Buffer.alloc(70001, 0xff), 0, 70001, 0), 0xff00);
});

test('csum equals fold(sum16(…)) on 10,000 random ranges: odd offsets, empty, 64 KiB and more', () => {
  const n = native();
  const next = rng(0x5eed);
  const buf = Buffer.alloc(140_000);
  for (let i = 0; i < buf.length; i++) buf[i] = next() & 0xff;
  // Runs of 0xff here and there: the most carries.
  buf.fill(0xff, 1000, 5000);
  buf.fill(0xff, 70_000, 140_000);
  const lengths = [0, 1, 2, 3, 4, 5, 7, 31, 32, 33, 1500, 65535, 65536, 65537, 70000];
  let odd = 0, big = 0;
  for (let c = 0; c < 10_000; c++) {
    const pick = next() % 100;
    const len = c < lengths.length * 4 ? lengths[c % lengths.length]
      : pick < 40 ? next() % 65
      : pick < 80 ? next() % 2000
      : pick < 95 ? next() % 9001
      : 65535 + next() % 5000;
    const off = c < lengths.length ? 0 : next() % (buf.length - len + 1);
    const kind = next() % 3;
    const initial = kind === 0 ? 0 : kind === 1 ? next() & 0xffff : next();
    const want = fold(sum16(buf, off, len, initial));
    const got = n.csum(buf, off, len, initial);
    if (got !== want) assert.unreachable(`case ${c}: off ${off} len ${len} initial ${initial}: ${got} != ${want}`);
    if (off & 1) odd++;
    if (len >= 65535) big++;
  }
  assert.ok(odd > 4000 && big > 300, `odd offsets: ${odd}, 64 KiB and more: ${big}`);
});

test('csum: a range outside the buffer or a bad initial throws RangeError', () => {
  const n = native();
  const b = Buffer.alloc(100);
  const cases: [string, () => unknown][] = [
    ['past the end', () => n.csum(b, 50, 51, 0)],
    ['offset past the end', () => n.csum(b, 101, 0, 0)],
    ['negative offset', () => n.csum(b, -1, 10, 0)],
    ['negative length', () => n.csum(b, 0, -1, 0)],
    ['fractional length', () => n.csum(b, 0, 1.5, 0)],
    ['initial ≥ 2^32', () => n.csum(b, 0, 10, 2 ** 32)],
    ['negative initial', () => n.csum(b, 0, 10, -1)],
  ];
  for (const [name, fn] of cases) {
    const e = thrown(fn);
    assert.instance(e, RangeError, name);
    assert.is(e.code, 'ERR_OUT_OF_RANGE', name);
  }
  assert.is(thrown(() => n.csum(b, 50, 51, 0)).message, 'csum: 51 bytes at offset 50 do not fit in the 100-byte buffer');
  assert.is(n.csum(b, 100, 0, 7), 7, 'an empty range at the very end is fine');
  const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.instance(thrown(() => any.csum('not a buffer', 0, 2, 0)), TypeError);
  assert.instance(thrown(() => any.csum(b, '0', 2, 0)), TypeError);
});

test('csumRanges: one call gives each range the sum csum gives it; short arrays and ranges outside the buffer throw', () => {
  const n = native();
  const buf = Buffer.alloc(70_000);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 151 + (i >>> 9)) & 0xff;
  let seed = 3;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const count = 500;
  const offs = new Int32Array(count), lens = new Int32Array(count), sums = new Uint32Array(count + 1).fill(0xdead);
  for (let i = 0; i < count; i++) {
    lens[i] = i % 50 === 0 ? 0 : Math.floor(rand() * (i % 7 === 0 ? 65_536 : 1_600));
    offs[i] = Math.floor(rand() * (buf.length - lens[i]));
  }
  assert.is(n.csumRanges(buf, offs, lens, count, sums), count);
  for (let i = 0; i < count; i++) assert.is(sums[i], fold(sum16(buf, offs[i], lens[i])), `range ${i}: ${lens[i]} bytes at ${offs[i]}`);
  assert.is(sums[count], 0xdead, 'nothing past count is written');
  const b = Buffer.alloc(100), o = Int32Array.of(0, 50), l = Int32Array.of(10, 51), sm = new Uint32Array(2);
  const e = thrown(() => n.csumRanges(b, o, l, 2, sm));
  assert.instance(e, RangeError);
  assert.is(e.message, 'csumRanges: range 1 (offset 50, 51 bytes) does not fit in the 100-byte slab');
  assert.instance(thrown(() => n.csumRanges(b, o, l, 3, new Uint32Array(3))), RangeError, 'count past offs');
  assert.instance(thrown(() => n.csumRanges(b, o, Int32Array.of(1, 1), 2, new Uint32Array(1))), RangeError, 'count past sums');
  assert.instance(thrown(() => n.csumRanges(b, o, Int32Array.of(1, -1), 2, sm)), RangeError, 'negative length');
  const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.instance(thrown(() => any.csumRanges(b, o, l, 1, new Int32Array(2))), TypeError, 'sums must be a Uint32Array');
});

test.run();
