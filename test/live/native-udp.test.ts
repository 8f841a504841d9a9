// The native addon's UDP calls against the real kernel: batches of
// datagrams through loopback, both families, truncation, refused datagrams
// and what udpOpen says when it cannot open. Runs in the private network
// namespace test/run.ts made (unshare --net): only lo, which it brings up.
// Needs root; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openErrorLine } from '../../src/cli/run.js';
import { inNetns, thrown, pack, slots, whileReadable, v4 } from '../helpers/native-io.js';

/** 100 datagrams of sizes 0…1400 through loopback in one udpSend, received in batches. */
async function udpRoundTrip(family: 4 | 6, address: string, words: number[]): Promise<void> {
  const n = inNetns();
  const rx = n.udpOpen(family, address, 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(family, address, 0, { sndbuf: 4 << 20 });
  try {
    assert.ok(rx.port > 0 && tx.port > 0 && rx.port !== tx.port);
    const COUNT = 100;
    const sent = Array.from({ length: COUNT }, (_, i) => {
      const b = Buffer.alloc(i === 0 ? 0 : (i * 97) % 1400 + 1);
      for (let j = 0; j < b.length; j++) b[j] = (i * 7 + j) & 0xff;
      return b;
    });
    const w = pack(sent);
    const dstAddr = new Uint32Array(COUNT * 4);
    const dstPort = new Uint16Array(COUNT).fill(rx.port);
    for (let i = 0; i < COUNT; i++) dstAddr.set(words, 4 * i);
    const errors = new Int32Array(1);
    assert.is(n.udpSend(tx.fd, family, w.slab, w.offs, w.lens, dstAddr, dstPort, COUNT, errors), COUNT);
    assert.is(errors[0], 0);

    const BATCH = 32;
    const r = slots(BATCH, 2048);
    const srcAddr = new Uint32Array(BATCH * 4);
    const srcPort = new Uint16Array(BATCH);
    const got: Buffer[] = [];
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 2048, srcAddr, srcPort, BATCH);
      assert.ok(k <= BATCH);
      for (let i = 0; i < k; i++) {
        assert.equal([...srcAddr.subarray(4 * i, 4 * i + 4)], words, `datagram ${got.length}: source address`);
        assert.is(srcPort[i], tx.port, `datagram ${got.length}: source port`);
        got.push(Buffer.from(r.slab.subarray(r.offs[i], r.offs[i] + r.lens[i])));
      }
      return got.length >= COUNT;
    });
    assert.is(got.length, COUNT);
    got.forEach((b, i) => {
      assert.is(b.length, sent[i].length, `datagram ${i}: length`);
      assert.ok(b.equals(sent[i]), `datagram ${i}: payload`);
    });
    assert.is(n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 2048, srcAddr, srcPort, BATCH), 0, 'nothing more waiting');
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
}

test('UDP over 127.0.0.1: 100 datagrams in one udpSend, received in batches with their source', async () => {
  await udpRoundTrip(4, '127.0.0.1', [0, 0, 0xffff, 0x7f000001]);
});

test('UDP over ::1: 100 datagrams in one udpSend, received in batches with their source', async () => {
  await udpRoundTrip(6, '::1', [0, 0, 0, 1]);
});

test('udpRecv marks a datagram longer than maxLen with length -1', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, {});
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    const w = pack([Buffer.alloc(3000, 1), Buffer.alloc(1500, 2)]);
    const addr = new Uint32Array([0, 0, 0xffff, v4('127.0.0.1'), 0, 0, 0xffff, v4('127.0.0.1')]);
    const errors = new Int32Array(1);
    assert.is(n.udpSend(tx.fd, 4, w.slab, w.offs, w.lens, addr, new Uint16Array([rx.port, rx.port]), 2, errors), 2);
    const r = slots(4, 1600);
    const lens: number[] = [];
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 1500, new Uint32Array(16), new Uint16Array(4), 4);
      for (let i = 0; i < k; i++) lens.push(r.lens[i]);
      return lens.length >= 2;
    });
    assert.equal(lens, [-1, 1500]);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSend skips and counts datagrams the kernel refuses, and sends the rest', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, {});
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    const lo = [0, 0, 0xffff, v4('127.0.0.1')];
    // [payload, destination words, port, refused?]
    const rows: [Buffer, number[], number, boolean][] = [
      [Buffer.from('one'), lo, rx.port, false],
      [Buffer.from('port zero'), lo, 0, true],                                   // EINVAL
      [Buffer.from('two'), lo, rx.port, false],
      [Buffer.from('no route'), [0, 0, 0xffff, v4('198.18.0.9')], 4789, true],   // ENETUNREACH: only lo here
      [Buffer.from('v6 on a v4 socket'), [0xfd000000, 0, 0, 1], 4789, true],
      [Buffer.alloc(70000), lo, rx.port, true],                                  // EMSGSIZE
      [Buffer.from('three'), lo, rx.port, false],
    ];
    const w = pack(rows.map((r) => r[0]));
    const addr = new Uint32Array(rows.length * 4);
    rows.forEach((r, i) => addr.set(r[1], 4 * i));
    const port = new Uint16Array(rows.map((r) => r[2]));
    const errors = new Int32Array([10]);
    assert.is(n.udpSend(tx.fd, 4, w.slab, w.offs, w.lens, addr, port, rows.length, errors), 3);
    assert.is(errors[0], 14, 'four refused, added to what errors[0] held');

    const r = slots(8, 2048);
    const got: string[] = [];
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 2048, new Uint32Array(32), new Uint16Array(8), 8);
      for (let i = 0; i < k; i++) got.push(r.slab.toString('utf8', r.offs[i], r.offs[i] + r.lens[i]));
      return got.length >= 3;
    });
    assert.equal(got, ['one', 'two', 'three']);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpOpen: a port in use, shared with reusePort, and addresses not of this host', () => {
  const n = inNetns();
  const a = n.udpOpen(4, '127.0.0.1', 0, {});
  const open = [a.fd];
  try {
    const inUse = thrown(() => n.udpOpen(4, '127.0.0.1', a.port, {}));
    assert.is(inUse.code, 'EADDRINUSE');
    assert.is(inUse.syscall, 'bind');
    assert.is(inUse.message, `UDP port ${a.port} on 127.0.0.1 is in use: another VTEP (weft or a kernel vxlan device) may be bound to it`);

    const b = n.udpOpen(4, '127.0.0.1', 0, { reusePort: true });
    open.push(b.fd);
    const c = n.udpOpen(4, '127.0.0.1', b.port, { reusePort: true });
    open.push(c.fd);
    assert.is(c.port, b.port);

    const far = thrown(() => n.udpOpen(4, '198.18.0.1', 8472, {}));
    assert.is(far.code, 'EADDRNOTAVAIL');
    assert.is(far.message, '198.18.0.1 is not an address of this host');
    assert.is(openErrorLine(far), '198.18.0.1 is not an address of this host: check --local', "weft run's line names the flag");

    const bad = thrown(() => n.udpOpen(4, 'fd00::1', 8472, {}));
    assert.is(bad.code, 'EINVAL');
    assert.is(bad.message, "'fd00::1' is not an IPv4 address");
  } finally {
    for (const fd of open) n.close(fd);
  }
});

test.run();
