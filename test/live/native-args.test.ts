// The native addon's argument checks: every offset and length is checked
// against its buffer, and every argument's type, before any system call, so
// JavaScript can never make the kernel write outside a slab. Runs in the
// private network namespace test/run.ts made (a TAP and a UDP socket to
// call with). Needs root; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inNetns, thrown, writeFrames } from '../helpers/native-io.js';

const TAP = 'wt0';

test('offsets and lengths outside the slab throw RangeError before any system call', () => {
  const n = inNetns();
  const u = n.udpOpen(4, '127.0.0.1', 0, {});
  const t = n.tapOpen(TAP, 0);
  try {
    const slab = Buffer.alloc(1000, 0x5a);
    const offs = new Int32Array([0, 900]);
    const lens = new Int32Array([100, 100]);
    const addr = new Uint32Array(8);
    const port = new Uint16Array(2);
    const errors = new Int32Array(1);
    const cases: [string, () => unknown][] = [
      ['tapRead: maxLen past the end', () => n.tapRead(t.fd, slab, offs, lens, 2, 101)],
      ['tapRead: negative offset', () => n.tapRead(t.fd, slab, new Int32Array([-1]), lens, 1, 10)],
      ['tapRead: max beyond offs', () => n.tapRead(t.fd, slab, offs, lens, 3, 10)],
      ['tapWritev: length past the end', () => writeFrames(n, t.fd, slab, offs, new Int32Array([100, 101]), 2)],
      ['tapWritev: negative length', () => writeFrames(n, t.fd, slab, offs, new Int32Array([-5, 1]), 2)],
      ['udpRecv: maxLen past the end', () => n.udpRecv(u.fd, slab, offs, lens, 101, addr, port, 2)],
      ['udpRecv: srcAddr too short', () => n.udpRecv(u.fd, slab, offs, lens, 10, new Uint32Array(7), port, 2)],
      ['udpSend: length past the end', () => n.udpSend(u.fd, 4, slab, offs, new Int32Array([1, 101]), addr, port, 2, errors)],
      ['udpSend: count beyond dstPort', () => n.udpSend(u.fd, 4, slab, offs, lens, addr, new Uint16Array(1), 2, errors)],
      ['udpSend: no room in errors', () => n.udpSend(u.fd, 4, slab, offs, lens, addr, port, 2, new Int32Array(0))],
    ];
    for (const [name, fn] of cases) {
      const e = thrown(fn);
      assert.instance(e, RangeError, name);
      assert.is(e.code, 'ERR_OUT_OF_RANGE', name);
    }
    assert.ok(slab.every((b) => b === 0x5a), 'the slab was not touched');
    // Nothing was sent by the refused udpSend calls.
    assert.is(n.udpRecv(u.fd, slab, offs, lens, 100, addr, port, 2), 0);
    // A RangeError names what does not fit.
    assert.is(thrown(() => n.tapRead(t.fd, slab, offs, lens, 2, 101)).message,
      'tapRead: frame 1 (offset 900, 101 bytes) does not fit in the 1000-byte slab');
  } finally {
    n.close(u.fd);
    n.close(t.fd);
  }
});

test('wrong argument types throw TypeError', () => {
  const n = inNetns();
  const slab = Buffer.alloc(100);
  const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
  const cases: [string, () => unknown][] = [
    ['tapOpen name', () => any.tapOpen(42, 0)],
    ['tapRead offs', () => any.tapRead(0, slab, new Uint32Array(1), new Int32Array(1), 1, 10)],
    ['tapRead slab', () => any.tapRead(0, 'slab', new Int32Array(1), new Int32Array(1), 1, 10)],
    ['udpSend dstAddr', () => any.udpSend(0, 4, slab, new Int32Array(1), new Int32Array(1), new Int32Array(4), new Uint16Array(1), 1, new Int32Array(1))],
    ['pollStart cb', () => any.pollStart(0, 'cb')],
    ['pollStop handle', () => any.pollStop({})],
  ];
  for (const [name, fn] of cases) assert.instance(thrown(fn), TypeError, name);
  assert.instance(thrown(() => n.close(-1)), RangeError);
  assert.is(thrown(() => n.close(100000)).code, 'EBADF');
});

test.run();
