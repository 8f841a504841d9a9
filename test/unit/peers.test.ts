import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PeerTable } from '../../src/fdb/peers.js';
import { hex } from '../helpers/bytes.js';
import { rng } from '../helpers/rng.js';

// Text in → how the table stores and shows it.
const ADDRS: Array<{ ip: string; port: number; v4: boolean; words: number[]; bytes: string; shown: string }> = [
  // Plain IPv4: stored IPv4-mapped, written as 4 bytes.
  { ip: '198.18.0.2', port: 8472, v4: true, words: [0, 0, 0xffff, 0xc6120002], bytes: 'c6120002', shown: '198.18.0.2:8472' },
  // The top of the IPv4 space: word 3 above 2^31 must stay unsigned.
  { ip: '255.255.255.254', port: 4789, v4: true, words: [0, 0, 0xffff, 0xfffffffe], bytes: 'fffffffe', shown: '255.255.255.254:4789' },
  // IPv4-mapped IPv6 text is the same peer as the IPv4 text.
  { ip: '::ffff:198.18.0.3', port: 8472, v4: true, words: [0, 0, 0xffff, 0xc6120003], bytes: 'c6120003', shown: '198.18.0.3:8472' },
  // IPv6 with '::' in the middle; shown compressed and in brackets.
  { ip: 'fd00::2', port: 8472, v4: false, words: [0xfd000000, 0, 0, 2], bytes: 'fd000000000000000000000000000002', shown: '[fd00::2]:8472' },
  // Upper case and leading zeros in; RFC 5952 form out.
  { ip: 'FD00:0:0:0:0:0:0:00A', port: 1, v4: false, words: [0xfd000000, 0, 0, 0xa], bytes: 'fd00000000000000000000000000000a', shown: '[fd00::a]:1' },
  // All eight groups; no zero run to compress.
  { ip: '2001:db8:1:2:3:4:5:6', port: 65535, v4: false, words: [0x20010db8, 0x10002, 0x30004, 0x50006], bytes: '20010db8000100020003000400050006', shown: '[2001:db8:1:2:3:4:5:6]:65535' },
  // Trailing dotted quad (NAT64 prefix, RFC 6052).
  { ip: '64:ff9b::192.0.2.33', port: 8472, v4: false, words: [0x0064ff9b, 0, 0, 0xc0000221], bytes: '0064ff9b0000000000000000c0000221', shown: '[64:ff9b::c000:221]:8472' },
  // The longest zero run wins over an earlier shorter one.
  { ip: '2001:0:0:1:0:0:0:1', port: 8472, v4: false, words: [0x20010000, 1, 0, 1], bytes: '20010000000000010000000000000001', shown: '[2001:0:0:1::1]:8472' },
  // Loopback: a run at the start.
  { ip: '::1', port: 8472, v4: false, words: [0, 0, 0, 1], bytes: '00000000000000000000000000000001', shown: '[::1]:8472' },
];

for (const r of ADDRS) {
  test(`internIp ${r.ip} port ${r.port}`, () => {
    const t = new PeerTable(8);
    const id = t.internIp(r.ip, r.port);
    assert.is(t.isV4(id), r.v4);
    assert.is(t.port(id), r.port);
    assert.equal([0, 1, 2, 3].map((i) => t.word(id, i)), r.words);
    assert.is(t.toString(id), r.shown);
    // writeAddr at a non-zero offset touches only its own bytes.
    const buf = Buffer.alloc(20, 0xee);
    const n = t.writeAddr(id, buf, 2);
    assert.is(n, r.v4 ? 4 : 16);
    assert.is(hex(buf.subarray(2, 2 + n)), r.bytes);
    assert.is(hex(buf.subarray(0, 2)), 'eeee');
    assert.ok(buf.subarray(2 + n).every((b) => b === 0xee));
    // The hot-path form finds the same id.
    assert.is(t.find(r.words[0], r.words[1], r.words[2], r.words[3], r.port), id);
    assert.is(t.intern(r.words[0], r.words[1], r.words[2], r.words[3], r.port), id);
    assert.is(t.count, 1);
  });
}

// Bad config input → a message that names the problem.
const BAD: Array<{ ip: string; port: number; msg: RegExp }> = [
  { ip: '198.18.0', port: 8472, msg: /not an IPv4 or IPv6 address/ },     // three octets
  { ip: '198.18.0.256', port: 8472, msg: /not an IPv4 or IPv6 address/ }, // octet too big
  { ip: 'fd00::g', port: 8472, msg: /not an IPv4 or IPv6 address/ },      // not hex
  { ip: 'vtep1.example', port: 8472, msg: /not an IPv4 or IPv6 address/ }, // names are resolved elsewhere
  { ip: 'fe80::1%eth0', port: 8472, msg: /zone/ },                         // a zone cannot be stored
  { ip: '198.18.0.2', port: 0, msg: /port must be an integer 1\.\.65535/ },
  { ip: '198.18.0.2', port: 65536, msg: /port must be an integer 1\.\.65535/ },
  { ip: '198.18.0.2', port: 80.5, msg: /port must be an integer 1\.\.65535/ },
];

for (const r of BAD) {
  test(`internIp rejects ${r.ip} port ${r.port}`, () => {
    const t = new PeerTable(8);
    assert.throws(() => t.internIp(r.ip, r.port), r.msg);
    assert.is(t.count, 0);
  });
}

test('the port is part of the key; signed words find the same peer', () => {
  const t = new PeerTable(8);
  const a = t.intern(0, 0, 0xffff, 0xc6120002, 8472);
  const b = t.intern(0, 0, 0xffff, 0xc6120002, 4789);
  assert.is.not(a, b);
  // 0xffffffff passed as an int32 (-1), as a typed-array read might give it.
  const c = t.intern(0, 0, 0xffff, 0xffffffff, 8472);
  assert.is(t.find(0, 0, 0xffff, -1, 8472), c);
  assert.is(t.find(0, 0, 0xffff, 0xc6120004, 8472), -1);
  assert.is(t.count, 3);
});

test('full table: intern returns -1, internIp throws, existing peers still found', () => {
  const t = new PeerTable(4);
  for (let i = 0; i < 4; i++) assert.is(t.intern(0, 0, 0xffff, i + 1, 8472), i);
  assert.is(t.intern(0, 0, 0xffff, 99, 8472), -1);
  assert.throws(() => t.internIp('198.18.0.9', 8472), /peer table is full \(4 peers\)/);
  // An existing peer is found, not added, so it still works when full.
  assert.is(t.intern(0, 0, 0xffff, 3, 8472), 2);
  assert.is(t.count, 4);
});

test('refcounts: freed at 0, id reused; releaseIfUnused only frees unreferenced peers', () => {
  const t = new PeerTable(4);
  const a = t.internIp('198.18.0.2', 8472);
  const b = t.internIp('198.18.0.3', 8472);
  t.ref(a); t.ref(a);
  assert.is(t.refCount(a), 2);
  t.unref(a);
  assert.ok(t.has(a));                       // one reference left
  t.unref(a);
  assert.not.ok(t.has(a));                   // freed at 0
  assert.is(t.refCount(a), -1);
  assert.is(t.find(0, 0, 0xffff, 0xc6120002, 8472), -1);
  assert.is(t.count, 1);
  assert.throws(() => t.ref(a), /not a live peer/);
  assert.throws(() => t.unref(a), /not a live peer/);
  // The freed id comes back for the next new peer.
  const c = t.internIp('fd00::7', 8472);
  assert.is(c, a);
  assert.is(t.toString(c), '[fd00::7]:8472');
  // b was interned but never referenced: releaseIfUnused frees it…
  assert.ok(t.releaseIfUnused(b));
  assert.not.ok(t.has(b));
  // …but not a referenced peer, and unref below zero is a bug.
  t.ref(c);
  assert.not.ok(t.releaseIfUnused(c));
  t.unref(c);
  assert.is(t.count, 0);
  const d = t.internIp('198.18.0.4', 8472);
  assert.throws(() => t.unref(d), /without a reference/);
});

// Deletions in the index must not break other peers' probe runs. A model
// (a Map) and the table get the same random interns and releases; every 500
// operations every peer the model holds must be found under its id.
test('random intern/release against a Map model (seeded)', () => {
  const rnd = rng(7);
  const CAP = 200;
  const t = new PeerTable(CAP);
  const model = new Map<number, number>(); // address key → id
  for (let op = 0; op < 20_000; op++) {
    // 400 possible addresses, mostly IPv4 with a few IPv6, two ports.
    const k = Math.floor(rnd() * 400);
    const w0 = k % 7 === 0 ? 0xfd000000 : 0;
    const w2 = w0 === 0 ? 0xffff : 0;
    const port = k % 2 === 0 ? 8472 : 4789;
    if (rnd() < 0.55) {
      const id = t.intern(w0, 0, w2, k, port);
      if (model.has(k)) assert.is(id, model.get(k));
      else if (model.size === CAP) assert.is(id, -1);
      else {
        assert.ok(id >= 0 && id < CAP);
        model.set(k, id);
      }
    } else if (model.has(k)) {
      assert.ok(t.releaseIfUnused(model.get(k)!));
      model.delete(k);
    } else {
      assert.is(t.find(w0, 0, w2, k, port), -1);
    }
    assert.is(t.count, model.size);
    if (op % 500 === 0) {
      for (const [key, id] of model) {
        const v0 = key % 7 === 0 ? 0xfd000000 : 0;
        assert.is(t.find(v0, 0, v0 === 0 ? 0xffff : 0, key, key % 2 === 0 ? 8472 : 4789), id);
      }
    }
  }
});

test.run();
