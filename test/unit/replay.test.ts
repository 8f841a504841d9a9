// Replay against captures of the Linux kernel's own vxlan device
// (scripts/capture-kernel-fixtures.sh): on each host, what the kernel sent on
// the underlay (outer) and what it was given to encapsulate (inner).
//
//  - decap(outer) must give back exactly the inner frames, byte for byte;
//  - encap(inner) must match the kernel's outer packets in every field that
//    is deterministic (VXLAN header, VNI, inner bytes, UDP destination port,
//    lengths) while weft's own checksums are valid (the kernel's are
//    "partial": left for an offload that never ran on veth).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { spawnSync, execFileSync } from 'node:child_process';
import { replayDecap, replayEncap } from '../../src/cli/replay-run.js';
import { readPcapFrames, readPcap, PcapFormatError } from '../../src/io/pcap-read.js';
import { PcapWriter } from '../../src/io/pcap-write.js';
import { sum16, fold, pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { SRC_PORT_MIN, SRC_PORT_MAX } from '../../src/datapath/flowhash.js';
import { PCAPS, WEFT, tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';

interface Fixture { fam: 'v4' | 'v6'; host: 'a' | 'b'; vni: number; local: string; peer: string }
const FIXTURES: Fixture[] = [
  { fam: 'v4', host: 'a', vni: 42, local: '198.18.0.1', peer: '198.18.0.2' },
  { fam: 'v4', host: 'b', vni: 42, local: '198.18.0.2', peer: '198.18.0.1' },
  { fam: 'v6', host: 'a', vni: 43, local: 'fd00:198:18::1', peer: 'fd00:198:18::2' },
  { fam: 'v6', host: 'b', vni: 43, local: 'fd00:198:18::2', peer: 'fd00:198:18::1' },
];
const outerOf = (f: Fixture) => join(PCAPS, `kernel-${f.fam}-${f.host}-outer.pcap`);
const innerOf = (f: Fixture) => join(PCAPS, `kernel-${f.fam}-${f.host}-inner.pcap`);

/** Offsets in an untagged outer frame. */
function layout(b: Buffer): { v6: boolean; l3: number; l4: number } {
  const v6 = b.readUInt16BE(12) === 0x86dd;
  const l3 = 14;
  return { v6, l3, l4: v6 ? l3 + 40 : l3 + (b[l3] & 15) * 4 };
}

for (const f of FIXTURES) {
  const tag = `${f.fam} host ${f.host}`;

  test(`decap of the kernel's outer packets gives its inner frames byte-exact (${tag})`, async () => {
    const t = tempDir('decap');
    try {
      const out = join(t.dir, 'out.pcap');
      const r = await replayDecap(outerOf(f), out, { vni: f.vni, port: 8472, peers: [], statics: [] });
      const got = await readPcapFrames(out);
      const want = await readPcapFrames(innerOf(f));
      assert.ok(want.length >= 20, `fixture has ${want.length} frames`);
      assert.is(got.length, want.length);
      for (let i = 0; i < want.length; i++) assert.ok(got[i].equals(want[i]), `frame ${i} differs`);
      // Every record was a VXLAN datagram from the peer; none dropped.
      assert.is(r.outer.vxlan_datagrams, r.recordsIn);
      assert.is(r.dp.counters.get('rx_frames'), want.length);
      // The capture is what this host sent: its VTEP MAC is learned, at its underlay address.
      const learned: string[] = [];
      r.dp.fdb.forEach((_v, _m, peer) => learned.push(r.dp.peers.ipString(peer)));
      assert.equal(learned, [f.local]);
    } finally { t.done(); }
  });

  test(`encap of the kernel's inner frames matches its outer packets (${tag})`, async () => {
    const t = tempDir('encap');
    try {
      const out = join(t.dir, 'out.pcap');
      await replayEncap(innerOf(f), out, { vni: f.vni, port: 8472, peers: [f.peer], statics: [], local: f.local });
      const got = await readPcapFrames(out);
      const want = await readPcapFrames(outerOf(f));
      assert.is(got.length, want.length);
      for (let i = 0; i < want.length; i++) {
        const g = got[i], w = want[i];
        const lg = layout(g), lw = layout(w);
        assert.is(lg.v6, f.fam === 'v6');
        assert.is(lg.v6, lw.v6);
        assert.is(g.length, w.length, `frame ${i}: length`);
        // IP lengths: IPv4 total length / IPv6 payload length.
        assert.is(g.readUInt16BE(lg.l3 + (lg.v6 ? 4 : 2)), w.readUInt16BE(lw.l3 + (lw.v6 ? 4 : 2)), `frame ${i}: IP length`);
        // UDP destination port and length.
        assert.is(g.readUInt16BE(lg.l4 + 2), 8472);
        assert.is(g.readUInt16BE(lg.l4 + 2), w.readUInt16BE(lw.l4 + 2));
        assert.is(g.readUInt16BE(lg.l4 + 4), w.readUInt16BE(lw.l4 + 4), `frame ${i}: UDP length`);
        // VXLAN header (flags, reserved, VNI) and the inner frame, byte for byte.
        assert.ok(g.subarray(lg.l4 + 8).equals(w.subarray(lw.l4 + 8)), `frame ${i}: VXLAN header + inner frame`);
        // Source port from the flow hash, in the documented range.
        const sp = g.readUInt16BE(lg.l4);
        assert.ok(sp >= SRC_PORT_MIN && sp <= SRC_PORT_MAX);
        // weft's checksums are valid: IPv4 header, and UDP (never zero).
        const ulen = g.readUInt16BE(lg.l4 + 4);
        const pseudo = lg.v6 ? pseudoSumV6(g, lg.l3 + 8, lg.l3 + 24, 17, ulen) : pseudoSumV4(g, lg.l3 + 12, lg.l3 + 16, 17, ulen);
        if (!lg.v6) assert.is(fold(sum16(g, lg.l3, 20)), 0xffff, `frame ${i}: IPv4 header checksum`);
        assert.is.not(g.readUInt16BE(lg.l4 + 6), 0);
        assert.is(fold(sum16(g, lg.l4, ulen, pseudo)), 0xffff, `frame ${i}: UDP checksum`);
      }
    } finally { t.done(); }
  });
}

test('the fixtures hold what the capture script promises: ARP, ICMP, ND, TCP super-frames, UDP, an 802.1Q frame', async () => {
  const inner = await readPcapFrames(innerOf(FIXTURES[0]));
  const types = new Set(inner.map((b) => b.readUInt16BE(12)));
  assert.ok(types.has(0x0806), 'ARP');
  assert.ok(types.has(0x0800), 'IPv4');
  assert.ok(types.has(0x86dd), 'IPv6');
  assert.ok(types.has(0x8100), '802.1Q-tagged frame');
  // TSO: the kernel handed the vxlan device TCP frames larger than the 1450 MTU.
  assert.ok(inner.some((b) => b.length > 1464), 'a GSO super-frame');
});

test('tshark dissects weft encap output as VXLAN with the original inner frames and good checksums', async () => {
  requireTool('tshark', 'tshark');
  const t = tempDir('tshark');
  try {
    const f = FIXTURES[0];
    const out = join(t.dir, 'out.pcap');
    await replayEncap(innerOf(f), out, { vni: f.vni, port: 8472, peers: [f.peer], statics: [], local: f.local });
    const text = execFileSync('tshark', ['-r', out, '-d', 'udp.port==8472,vxlan', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
      '-T', 'fields', '-E', 'separator=;', '-e', 'vxlan.vni', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'eth.src'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
    const inner = await readPcapFrames(innerOf(f));
    assert.is(text.length, inner.length);
    for (const line of text) {
      const [vni, ipOk, udpOk] = line.split(';');
      assert.is(vni, String(f.vni));
      // tshark's status 1 = "Good"; the first value is the outer header.
      assert.is(ipOk.split(',')[0], '1');
      assert.is(udpOk.split(',')[0], '1');
    }
  } finally { t.done(); }
});

test('encap floods one outer packet per peer; port 4789 works as well as 8472', async () => {
  const t = tempDir('flood');
  try {
    const f = FIXTURES[0];
    const out = join(t.dir, 'out.pcap');
    const r = await replayEncap(innerOf(f), out, { vni: 7, port: 4789, peers: ['198.18.0.2', '198.18.0.3'], statics: [], local: f.local });
    const got = await readPcapFrames(out);
    assert.is(got.length, 2 * r.recordsIn);
    const dsts = got.map((g) => `${g.readUInt32BE(30).toString(16)}:${g.readUInt16BE(36)}`);
    assert.is(dsts[0], 'c6120002:4789');
    assert.is(dsts[1], 'c6120003:4789');
    // And back: decap at 4789 takes them all (flood copies go to two peers; each decapped once).
    const back = join(t.dir, 'back.pcap');
    const d = await replayDecap(out, back, { vni: 7, port: 4789, peers: [], statics: [] });
    assert.is(d.recordsOut, got.length);
    // Decap at 8472 of the same file: nothing is ours, all counted.
    const none = await replayDecap(out, back, { vni: 7, port: 8472, peers: [], statics: [] });
    assert.is(none.recordsOut, 0);
    assert.is(none.outer.not_our_port, got.length);
  } finally { t.done(); }
});

test('a VNI mismatch carries nothing and is counted', async () => {
  const t = tempDir('vni');
  try {
    const f = FIXTURES[0];
    const r = await replayDecap(outerOf(f), join(t.dir, 'o.pcap'), { vni: 99, port: 8472, peers: [], statics: [] });
    assert.is(r.recordsOut, 0);
    assert.is(r.dp.counters.get('rx_drop_unknown_vni'), r.recordsIn);
  } finally { t.done(); }
});

test('pcap input that is not classic Ethernet pcap is refused with a way to convert it', async () => {
  const t = tempDir('fmt');
  try {
    const good = readFileSync(innerOf(FIXTURES[0]));
    const cases: [string, Buffer, RegExp][] = [
      ['pcapng', Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), Buffer.alloc(40)]), /pcapng.*editcap -F pcap/],
      ['nanosecond', Buffer.concat([Buffer.from('4d3cb2a1', 'hex'), good.subarray(4)]), /nanosecond.*editcap -F pcap/],
      ['garbage', Buffer.from('hello, world, not a pcap'), /not a pcap file/],
      ['tiny', Buffer.from('ab'), /too short/],
      ['truncated', good.subarray(0, good.length - 10), /truncated/],
      ['link type', Buffer.concat([good.subarray(0, 20), Buffer.from([113, 0, 0, 0]), good.subarray(24)]), /link type 113/],
    ];
    for (const [name, bytes, re] of cases) {
      const p = join(t.dir, `${name}.pcap`);
      writeFileSync(p, bytes);
      let err: unknown;
      try { await readPcap(p, () => {}); } catch (e) { err = e; }
      assert.ok(err instanceof PcapFormatError, `${name}: ${String(err)}`);
      assert.match((err as Error).message, re);
    }
  } finally { t.done(); }
});

test('our pcap writer round-trips through pcap-parser, timestamps included', async () => {
  const t = tempDir('pw');
  try {
    const p = join(t.dir, 'w.pcap');
    const w = new PcapWriter(p);
    const frames = [Buffer.alloc(60, 1), Buffer.alloc(1514, 2), Buffer.alloc(9000, 3)];
    frames.forEach((f, i) => w.write(f, 0, f.length, 1700000000 + i, 1000 * i));
    w.close();
    const seen: [number, number, number][] = [];
    await readPcap(p, (d, s, u) => seen.push([d.length, s, u]));
    assert.equal(seen, [[60, 1700000000, 0], [1514, 1700000001, 1000], [9000, 1700000002, 2000]]);
  } finally { t.done(); }
});

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8' });
}

test('weft replay: help, usage errors (exit 2) and unreadable input (exit 1), each one line', () => {
  const h = weft('replay', '--help');
  assert.is(h.status, 0);
  assert.match(h.stdout, /--decap IN\.pcap OUT\.pcap/);
  const usage: string[][] = [
    ['replay'],
    ['replay', '--decap', 'a.pcap'],
    ['replay', '--decap', '--encap', 'a', 'b'],
    ['replay', '--decap', 'a', 'b', '--vni', '16777216'],
    ['replay', '--decap', 'a', 'b', '--port', 'x'],
    ['replay', '--encap', 'a', 'b', '--peer', '198.18.0.2'],
    ['replay', '--encap', 'a', 'b', '--local', '198.18.0.1', '--peer', 'fd00::2'],
    ['replay', '--decap', 'a', 'b', '--bogus'],
    ['nosuchcommand'],
  ];
  for (const a of usage) {
    const r = weft(...a);
    assert.is(r.status, 2, `${a.join(' ')}: status ${r.status} ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, `${a.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^weft: /);
  }
  const missing = weft('replay', '--decap', '/nonexistent/in.pcap', '/tmp/out.pcap');
  assert.is(missing.status, 1);
  assert.is(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  assert.not.match(missing.stderr, /    at /);
});

test('weft replay end to end: decap summary on stderr names outcomes and the learned table', () => {
  const t = tempDir('cli');
  try {
    const f = FIXTURES[1];
    const r = weft('replay', '--decap', outerOf(f), join(t.dir, 'o.pcap'), '--vni', String(f.vni));
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /rx_frames\s+\d+/);
    assert.match(r.stderr, new RegExp(`02:00:0a:f4:02:01 dst ${f.local.replace(/\./g, '\\.')} vni ${f.vni} learned`));
  } finally { t.done(); }
});

test.run();
