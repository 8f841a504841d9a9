// `weft replay --udp-backend` against captures of two wefts running flannel's
// udp backend (scripts/capture-udp-fixtures.sh): per host, the packets its
// kernel handed its TUN (tun), the datagrams its weft sent (wire) and the
// packets its weft wrote into the TUN (tun-in).
//
//  - decap(x's wire) must give exactly what y's weft wrote into its TUN,
//    byte for byte: the real loop, run by replay, does what the live one did;
//  - encap(x's tun) must give x's datagrams: the same payloads byte for
//    byte (the packet, TTL − 1), to y on port 8285 from port 8285, with
//    valid checksums (the capture's are partial: veth offloads them).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { spawnSync, execFileSync } from 'node:child_process';
import { replayUdpDecap, replayUdpEncap, type UdpReplayEndpoints } from '../../src/cli/replay-run.js';
import { readPcapFrames, RAW_IP_LINKS, LINKTYPE_RAW } from '../../src/io/pcap-read.js';
import { sum16, fold, pseudoSumV4 } from '../../src/wire/checksum.js';
import { ipv4ToNumber as ip4 } from '../../src/wire/ipv4.js';
import { PCAPS, WEFT, tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';

interface Host { x: 'a' | 'b'; ip: string; subnet: string }
const A: Host = { x: 'a', ip: '198.18.0.1', subnet: '10.244.1.0' };
const B: Host = { x: 'b', ip: '198.18.0.2', subnet: '10.244.2.0' };
const fixture = (h: Host, k: 'tun' | 'wire' | 'tun-in') => join(PCAPS, `udp-${h.x}-${k}.pcap`);
const route = (h: Host) => ({ net: ip4(h.subnet), len: 24, ip: h.ip });
/** The lease table of host `at`: the other host's subnet. */
const endpoints = (at: Host, other: Host, local = false): UdpReplayEndpoints => ({ port: 8285, routes: [route(other)], local: local ? at.ip : undefined });
/** Offset of the UDP payload in an untagged IPv4 outer frame. */
const payloadAt = (f: Buffer) => 14 + (f[14] & 15) * 4 + 8;

for (const [x, y] of [[A, B], [B, A]] as const) {
  const tag = `${x.x} → ${y.x}`;

  test(`decap of ${x.x}'s datagrams gives what ${y.x}'s weft wrote into its TUN, byte-exact (${tag})`, async () => {
    const t = tempDir('udp-decap');
    try {
      const out = join(t.dir, 'out.pcap');
      const r = await replayUdpDecap(fixture(x, 'wire'), out, endpoints(y, x));
      assert.is(readFileSync(out).readUInt32LE(20), LINKTYPE_RAW);
      const got = await readPcapFrames(out, RAW_IP_LINKS);
      const want = await readPcapFrames(fixture(y, 'tun-in'), RAW_IP_LINKS);
      assert.ok(want.length >= 25, `fixture has ${want.length} packets`);
      assert.is(got.length, want.length);
      for (let i = 0; i < want.length; i++) assert.ok(got[i].equals(want[i]), `packet ${i} differs`);
      // Every record was a datagram to 8285 from a host with a lease; the capture's checksums partial (veth).
      assert.is(r.outer.ipv4_datagrams, r.recordsIn);
      assert.is(r.outer.udp_csum_partial, r.recordsIn);
      assert.is(r.dp.counters.get('rx_frames'), want.length);
      assert.equal(r.dp.counters.nonZero(), { rx_datagrams: r.recordsIn, rx_frames: want.length, rx_bytes: want.reduce((n, p) => n + p.length, 0) });
    } finally { t.done(); }
  });

  test(`encap of what ${x.x}'s kernel handed its TUN gives ${x.x}'s datagrams (${tag})`, async () => {
    const t = tempDir('udp-encap');
    try {
      const out = join(t.dir, 'out.pcap');
      const r = await replayUdpEncap(fixture(x, 'tun'), out, endpoints(x, y, true));
      const got = await readPcapFrames(out);
      const want = await readPcapFrames(fixture(x, 'wire'));
      assert.is(got.length, want.length);
      assert.is(r.toTap, 0);
      for (let i = 0; i < want.length; i++) {
        const g = got[i], w = want[i], p = payloadAt(g);
        assert.is(g.length, w.length, `frame ${i}: length`);
        assert.ok(g.subarray(p).equals(w.subarray(payloadAt(w))), `frame ${i}: the packet carried`);
        // Addresses and ports: x to y, 8285 to 8285 (a bound socket, as flannel's).
        assert.ok(g.subarray(26, 38).equals(w.subarray(26, 38)), `frame ${i}: addresses and ports`);
        assert.equal([g.readUInt16BE(34), g.readUInt16BE(36)], [8285, 8285]);
        const ulen = g.readUInt16BE(38);
        assert.is(fold(sum16(g, 14, 20)), 0xffff, `frame ${i}: IPv4 header checksum`);
        assert.is(fold(sum16(g, 34, ulen, pseudoSumV4(g, 26, 30, 17, ulen))), 0xffff, `frame ${i}: UDP checksum`);
      }
      assert.is(r.dp.counters.get('tx_unicast'), want.length);
    } finally { t.done(); }
  });
}

test('tshark reads replay\'s output: datagrams as IPv4 in UDP 8285 carrying the pings, the TUN side as raw IPv4', async () => {
  requireTool('tshark', 'tshark');
  const t = tempDir('udp-tshark');
  try {
    const wire = join(t.dir, 'wire.pcap'), tun = join(t.dir, 'tun.pcap');
    await replayUdpEncap(fixture(A, 'tun'), wire, endpoints(A, B, true));
    await replayUdpDecap(wire, tun, endpoints(B, A));
    const fields = (file: string, ...args: string[]) => execFileSync('tshark', ['-r', file, ...args, '-T', 'fields', '-E', 'occurrence=l', '-e', 'udp.dstport', '-e', 'ip.ttl', '-e', 'icmp.type'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd().split('\n');
    // Outer on 8285, inner TTL 63 (64 less this host's hop); the first three are the echo requests.
    const w = fields(wire, '-d', 'udp.port==8285,ip');
    assert.equal(w.slice(0, 3), ['8285\t63\t8', '8285\t63\t8', '8285\t63\t8']);
    const n = fields(tun);
    assert.equal(n.slice(0, 3), ['\t62\t8', '\t62\t8', '\t62\t8']);
    assert.is(n.length, w.length);
  } finally { t.done(); }
});

test('drops are counted by name: datagrams from a host without a lease, packets without a route (answered into OUT)', async () => {
  const t = tempDir('udp-drops');
  try {
    const out = join(t.dir, 'o.pcap');
    // Host b knows only some other host: a's datagrams are from a stranger.
    const d = await replayUdpDecap(fixture(A, 'wire'), out, { port: 8285, routes: [{ net: ip4('10.244.9.0'), len: 24, ip: '198.18.0.9' }] });
    assert.is(d.recordsOut, 0);
    assert.is(d.dp.counters.get('rx_drop_unknown_source'), d.recordsIn);
    // With no route at all, decap takes any host's datagrams.
    const any = await replayUdpDecap(fixture(A, 'wire'), out, { port: 8285, routes: [] });
    assert.is(any.recordsOut, any.recordsIn);
    // Another port: nothing is ours.
    const port = await replayUdpDecap(fixture(A, 'wire'), out, { port: 8286, routes: [] });
    assert.is(port.outer.not_our_port, port.recordsIn);
    // Encap where a's lease table lacks b's subnet: each packet dropped, answered with net unreachable within the ICMP budget.
    const e = await replayUdpEncap(fixture(A, 'tun'), out, { port: 8285, routes: [{ net: ip4('10.244.9.0'), len: 24, ip: '198.18.0.9' }], local: A.ip });
    assert.is(e.dp.counters.get('tx_drop_no_route'), e.recordsIn);
    const sent = e.dp.counters.get('icmp_unreachable_sent');
    assert.ok(sent >= 10 && sent === e.toTap && e.recordsOut === e.toTap, JSON.stringify(e.dp.counters.nonZero()));
    // Each answer: Ethernet to this host, IPv4 ICMP 3/0 from the destination back to the sender.
    const first = (await readPcapFrames(out))[0];
    assert.equal([first.readUInt16BE(12), first[14 + 9], first[34], first[35]], [0x0800, 1, 3, 0]);
    assert.equal([...first.subarray(26, 34)], [10, 244, 2, 0, 10, 244, 1, 0]);
  } finally { t.done(); }
});

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8' });
}

test('weft replay --udp-backend: help, the summary with the routes, usage errors in one line', () => {
  const t = tempDir('udp-cli');
  try {
    const h = weft('replay', '--help');
    assert.match(h.stdout, /--udp-backend --decap IN\.pcap OUT\.pcap/);
    assert.match(h.stdout, /--route SUBNET=IP/);
    const out = join(t.dir, 'o.pcap');
    const r = weft('replay', '--udp-backend', '--decap', fixture(A, 'wire'), out, '--route', '10.244.1.0/24=198.18.0.1');
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /^replay udp-backend decap: 31 records from .*, 31 written to /);
    assert.match(r.stderr, /ipv4_datagrams\s+31/);
    assert.match(r.stderr, /routes \(1\):\n {4}10\.244\.1\.0\/24 → 198\.18\.0\.1:8285/);
    const e = weft('replay', '--udp-backend', '--encap', fixture(A, 'tun'), out, '--local', '198.18.0.1', '--route', '10.244.2.0/24=198.18.0.2');
    assert.is(e.status, 0, e.stderr);
    assert.match(e.stderr, /tx_unicast\s+31/);
    const usage: [string[], RegExp][] = [
      [['--encap', fixture(A, 'tun'), out, '--route', '10.244.2.0/24=198.18.0.2'], /--local IP is required/],
      [['--encap', fixture(A, 'tun'), out, '--local', '198.18.0.1'], /at least one --route/],
      [['--decap', 'a', 'b', '--route', '10.244.2.1/24=198.18.0.2'], /bits set past the prefix; the subnet is 10\.244\.2\.0\/24/],
      [['--decap', 'a', 'b', '--route', '10.244.2.0/24=fd00::2'], /IPv4 PublicIPs/],
      [['--decap', 'a', 'b', '--route', 'nonsense'], /should be SUBNET=IP/],
      [['--decap', 'a', 'b', '--vni', '3'], /--vni is VXLAN's/],
      [['--decap', 'a', 'b', '--mtu', '1400'], /--local and --mtu are for --encap/],
    ];
    for (const [a, re] of usage) {
      const u = weft('replay', '--udp-backend', ...a);
      assert.is(u.status, 2, `${a.join(' ')}: ${u.stderr}`);
      assert.is(u.stderr.trim().split('\n').length, 1, u.stderr);
      assert.match(u.stderr, re);
    }
    const vx = weft('replay', '--decap', 'a', 'b', '--route', '10.244.2.0/24=198.18.0.2');
    assert.is(vx.status, 2);
    assert.match(vx.stderr, /--route is for --udp-backend/);
    // An Ethernet capture where raw IPv4 is read: refused, with the way to convert it.
    const eth = weft('replay', '--udp-backend', '--encap', fixture(A, 'wire'), out, '--local', '198.18.0.1', '--route', '10.244.2.0/24=198.18.0.2');
    assert.is(eth.status, 1);
    assert.match(eth.stderr, /link type Ethernet \(1\) is not supported here, only raw IP \(101\) or IPv4 \(228\); convert it with: editcap -C 14 -T rawip/);
  } finally { t.done(); }
});

test.run();
