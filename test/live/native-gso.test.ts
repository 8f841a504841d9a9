// The native addon's UDP GSO and GRO against the real kernel, over loopback
// in the private network namespace test/run.ts made (unshare --net).
// Needs root; never skips.
//
// Loopback takes GSO messages whole: to a socket without GRO the kernel cuts
// them into datagrams on delivery, to one with GRO it hands the message over
// as it is, with its segment size.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inNetns, thrown, pack, slots, whileReadable, GSO_SEG, pattern, segments, recvMessages, dests, sendWhole } from '../helpers/native-io.js';

test('udpGsoSupported and udpSetGro: this kernel has both, on IPv4 and IPv6 sockets', () => {
  const n = inNetns();
  const a = n.udpOpen(4, '127.0.0.1', 0, {});
  const b = n.udpOpen(6, '::1', 0, {});
  try {
    for (const fd of [a.fd, b.fd]) {
      assert.is(n.udpGsoSupported(fd), true);
      assert.is(n.udpSetGro(fd, true), true);
      assert.is(n.udpSetGro(fd, false), true);
    }
    assert.is(thrown(() => n.udpGsoSupported(100000)).code, 'EBADF');
    assert.is(thrown(() => n.udpSetGro(100000, true)).code, 'EBADF');
    assert.instance(thrown(() => (n as unknown as { udpSetGro(fd: number, on: unknown): boolean }).udpSetGro(a.fd, 1)), TypeError);
  } finally {
    n.close(a.fd);
    n.close(b.fd);
  }
});

for (const [family, address, words] of [[4, '127.0.0.1', [0, 0, 0xffff, 0x7f000001]], [6, '::1', [0, 0, 0, 1]]] as const) {
  test(`udpSendGsoV over ${address}, one piece a message: one 65000-byte message arrives as 1400-byte datagrams, in order`, async () => {
    const n = inNetns();
    const rx = n.udpOpen(family, address, 0, { rcvbuf: 4 << 20 });
    const tx = n.udpOpen(family, address, 0, {});
    try {
      const msg = pattern(65000, 1);
      const w = pack([msg]);
      const d = dests(1, [...words], rx.port);
      const errors = new Int32Array(1);
      assert.is(sendWhole(n, tx.fd, family, w.slab, w.offs, w.lens, new Int32Array([GSO_SEG]), d.addr, d.port, 1, errors), 1,
        'one message sent');
      assert.is(errors[0], 0);
      const want = Math.ceil(msg.length / GSO_SEG);   // 47: 46 of 1400, one of 600
      const got = await recvMessages(n, rx.fd, want, 2048, tx.port, true);
      got.msgs.forEach((b, i) => assert.is(b.length, i < want - 1 ? GSO_SEG : msg.length - (want - 1) * GSO_SEG, `datagram ${i}: length`));
      assert.ok(Buffer.concat(got.msgs).equals(msg), 'the datagrams are the message, in order');
      assert.equal(got.segs, new Array(want).fill(0), 'without GRO every message is one datagram');
    } finally {
      n.close(rx.fd);
      n.close(tx.fd);
    }
  });
}

test('udpSendGsoV: messages gathered from pieces (a header and a payload per datagram) arrive as the datagrams they make; bad piece lists throw', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    // Message 0: 10 datagrams of 100 + 1300 bytes (a head, then a payload elsewhere) as one GSO send;
    // message 1: a single datagram of one piece.
    const heads = Array.from({ length: 10 }, (_, k) => pattern(100, 10 + k));
    const bodies = Array.from({ length: 10 }, (_, k) => pattern(k === 9 ? 700 : 1300, 30 + k));
    const single = pattern(333, 99);
    const pieces = [...heads.flatMap((h, k) => [h, bodies[k]]), single];
    const w = pack(pieces, 5);
    const pstart = new Int32Array([0, 20, 21]);
    const d = dests(2, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array(1);
    assert.is(n.udpSendGsoV(tx.fd, 4, w.slab, w.offs, w.lens, pstart, new Int32Array([1400, 0]), d.addr, d.port, 2, errors), 2);
    assert.is(errors[0], 0);
    const got = await recvMessages(n, rx.fd, 11, 2048, tx.port, true);
    const want = [...heads.map((h, k) => Buffer.concat([h, bodies[k]])), single];
    assert.is(got.msgs.length, 11);
    got.msgs.forEach((b, i) => assert.ok(b.equals(want[i]), `datagram ${i}`));
    // A message without pieces, pieces running backwards, one outside the slab: RangeError before sending.
    assert.is(thrown(() => n.udpSendGsoV(tx.fd, 4, w.slab, w.offs, w.lens, new Int32Array([0, 0]), new Int32Array([0]), d.addr, d.port, 1, errors)).name, 'RangeError');
    assert.is(thrown(() => n.udpSendGsoV(tx.fd, 4, w.slab, w.offs, w.lens, new Int32Array([3, 1]), new Int32Array([0]), d.addr, d.port, 1, errors)).name, 'RangeError');
    const outside = Int32Array.from(w.offs); outside[1] = w.slab.length - 10;
    assert.is(thrown(() => n.udpSendGsoV(tx.fd, 4, w.slab, outside, w.lens, pstart, new Int32Array([1400, 0]), d.addr, d.port, 2, errors)).name, 'RangeError');
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSendGsoV to a GRO socket: fewer, coalesced messages with segs 1400 that split back into the bytes sent', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    assert.is(n.udpSetGro(rx.fd, true), true);
    const sent = [pattern(65000, 2), pattern(30000, 3)];
    const w = pack(sent);
    const d = dests(2, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array(1);
    assert.is(sendWhole(n, tx.fd, 4, w.slab, w.offs, w.lens, new Int32Array([GSO_SEG, GSO_SEG]), d.addr, d.port, 2, errors), 2);
    assert.is(errors[0], 0);

    const datagrams = sent.reduce((k, m) => k + Math.ceil(m.length / GSO_SEG), 0);   // 47 + 22
    const got: Buffer[] = [];
    const msgs: Buffer[] = [];
    const segs: number[] = [];
    const BATCH = 4;
    const r = slots(BATCH, 65535);
    const seg = new Int32Array(BATCH);
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 65535, new Uint32Array(4 * BATCH), new Uint16Array(BATCH), BATCH, seg);
      for (let i = 0; i < k; i++) {
        const m = Buffer.from(r.slab.subarray(r.offs[i], r.offs[i] + r.lens[i]));
        msgs.push(m);
        segs.push(seg[i]);
        got.push(...segments(m, seg[i]));
      }
      return got.length >= datagrams;
    });
    assert.ok(msgs.length < datagrams, `${msgs.length} messages for ${datagrams} datagrams`);
    assert.equal(segs, new Array(msgs.length).fill(GSO_SEG), 'each message says it holds 1400-byte datagrams');
    assert.is(got.length, datagrams);
    assert.ok(Buffer.concat(got).equals(Buffer.concat(sent)), 'split, they are the bytes sent, in order');
    got.forEach((b, i) => assert.ok(b.length <= GSO_SEG, `datagram ${i}: ${b.length} bytes`));
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSendGsoV: a batch mixing GSO and plain messages, and a GSO message the kernel refuses', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    // [payload, segs, refused?]
    const rows: [Buffer, number, boolean][] = [
      [pattern(10000, 10), 1000, false],   // GSO: 10 datagrams of 1000
      [pattern(500, 11), 0, false],        // plain
      [pattern(800, 12), 800, false],      // segs = length: one datagram, no GSO
      [pattern(300, 13), 1400, false],     // segs > length: one datagram
      [pattern(20000, 14), 50, true],      // 400 segments: past UDP_MAX_SEGMENTS (EINVAL)
      [pattern(3000, 15), 1400, false],    // GSO: 1400, 1400, 200
      [Buffer.alloc(0), 0, false],         // an empty datagram
      [pattern(1401, 16), 1400, false],    // GSO: 1400, 1
    ];
    const w = pack(rows.map((r) => r[0]));
    const d = dests(rows.length, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array([5]);
    const sent = sendWhole(n, tx.fd, 4, w.slab, w.offs, w.lens, new Int32Array(rows.map((r) => r[1])), d.addr, d.port, rows.length, errors);
    assert.is(sent, rows.filter((r) => !r[2]).length, 'messages sent');
    assert.is(errors[0], 6, 'one refused, added to what errors[0] held');

    const want = rows.filter((r) => !r[2]).flatMap((r) => segments(r[0], r[1]));
    const got = await recvMessages(n, rx.fd, want.length, 2048, tx.port, false);
    got.msgs.forEach((b, i) => assert.ok(b.equals(want[i]), `datagram ${i}: ${b.length} bytes, want ${want[i].length}`));
    assert.is(n.udpRecv(rx.fd, Buffer.alloc(2048), new Int32Array(1), new Int32Array(1), 2048, new Uint32Array(4), new Uint16Array(1), 1), 0,
      'nothing more waiting');

    // With no segs set it is udpSend.
    const one = pack([Buffer.from('plain')]);
    assert.is(sendWhole(n, tx.fd, 4, one.slab, one.offs, one.lens, new Int32Array(1), d.addr, d.port, 1, errors), 1);
    const last = await recvMessages(n, rx.fd, 1, 2048, tx.port, true);
    assert.is(last.msgs[0].toString(), 'plain');
    assert.equal(last.segs, [0]);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSendGsoV and udpRecv segs: bad segment sizes and short arrays throw before any system call', () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, {});
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    const slab = Buffer.alloc(4000, 0x5a);
    const offs = new Int32Array([0, 2000]);
    const lens = new Int32Array([2000, 2000]);
    const d = dests(2, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array(1);
    const send = (segs: Int32Array, count = 2) => () => sendWhole(n, tx.fd, 4, slab, offs, lens, segs, d.addr, d.port, count, errors);
    const cases: [string, () => unknown][] = [
      ['segs -1', send(new Int32Array([1000, -1]))],
      ['segs 65536', send(new Int32Array([65536, 1000]))],
      ['segs shorter than count', send(new Int32Array([1000]))],
      ['lens past the slab', () => sendWhole(n, tx.fd, 4, slab, offs, new Int32Array([2000, 2001]), new Int32Array(2), d.addr, d.port, 2, errors)],
      ['udpRecv segs shorter than max', () => n.udpRecv(rx.fd, slab, offs, lens, 2000, new Uint32Array(8), new Uint16Array(2), 2, new Int32Array(1))],
    ];
    for (const [name, fn] of cases) {
      const e = thrown(fn);
      assert.instance(e, RangeError, name);
      assert.is(e.code, 'ERR_OUT_OF_RANGE', name);
    }
    assert.is(thrown(send(new Int32Array([1000, 70000]))).message,
      'udpSendGsoV: segs[1] is 70000: a segment size is from 1 to 65535, or 0 to send the message as one datagram');
    // The segs entries past count are not looked at; 65535 is a size.
    assert.is(sendWhole(n, tx.fd, 4, slab, offs, lens, new Int32Array([65535, -1]), d.addr, d.port, 1, errors), 1);

    const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.instance(thrown(() => any.udpSendGsoV(tx.fd, 4, slab, offs, lens, Int32Array.of(0, 1, 2), new Uint16Array(2), d.addr, d.port, 2, errors)), TypeError);
    assert.instance(thrown(() => any.udpRecv(rx.fd, slab, offs, lens, 2000, new Uint32Array(8), new Uint16Array(2), 2, new Uint32Array(2))), TypeError);
    assert.instance(thrown(() => any.udpRecv(rx.fd, slab, offs, lens, 2000, new Uint32Array(8), new Uint16Array(2), 2, null)), TypeError);
    assert.ok(slab.every((b) => b === 0x5a), 'the slab was not touched');
    assert.is(errors[0], 0);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test.run();
