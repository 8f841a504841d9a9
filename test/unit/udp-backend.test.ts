// flannel's udp backend through the loop that ships (datapath/udp-loop.ts)
// over in-memory twins of the TUN and the socket: table-driven rows, one
// packet each, with the one outcome it must have; the ICMP answers read
// back field by field; the lease routes' hold on the source allow-list.
//
// Every row runs on a fresh data path: leases 10.244.2.0/24 → 198.18.0.2
// and 10.244.3.0/24 → 198.18.0.3, port 8285, TUN MTU 1472.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import { UdpRoutes, udpBackendMtu } from '../../src/datapath/udp-routes.js';
import { UdpLoop } from '../../src/datapath/udp-loop.js';
import type { CounterName } from '../../src/datapath/counters.js';
import { Ipv4View, ipv4ToNumber as ip4 } from '../../src/wire/ipv4.js';
import { IcmpView } from '../../src/wire/icmp.js';
import { MemoryTap, MemoryUdp } from '../helpers/memory-ports.js';
import { icmp4Echo, ipv4, udp4, udp6, v4words, type Ip4Opts } from '../helpers/packets.js';
import { counterImbalances } from '../helpers/proc-stats.js';
import { CaptureSession } from '../../src/capture/capture.js';
import { OuterParser } from '../../src/io/outer.js';
import { DatagramBatch } from '../../src/io/batch.js';
import { readPcapFrames, LINKTYPE_RAW, RAW_IP_LINKS } from '../../src/io/pcap-read.js';
import { tempDir } from '../helpers/paths.js';
import { replayUdpDecap } from '../../src/cli/replay-run.js';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';

const MTU = udpBackendMtu(1500);

function world(opts: { icmpRate?: number } = {}) {
  const dp = new Datapath({ knownSourcesOnly: true, peerCapacity: 16, icmpRate: opts.icmpRate });
  const r = new UdpRoutes(dp, 8285, MTU);
  assert.is(r.tryAdd(ip4('10.244.2.0'), 24, '198.18.0.2'), null);
  assert.is(r.tryAdd(ip4('10.244.3.0'), 24, '198.18.0.3'), null);
  const tun = new MemoryTap(), udp = new MemoryUdp();
  const loop = new UdpLoop(r, tun, udp, { batch: 16, now: () => 0 });
  return { dp, r, tun, udp, loop };
}

const from1 = (o: Ip4Opts = {}): Ip4Opts => ({ src: '10.244.1.5', dst: '10.244.2.7', ...o });
const ttlOf = (p: Buffer) => new Ipv4View().bind(p, 0).ttl();
const csumOk = (p: Buffer) => new Ipv4View().bind(p, 0).checksumOk();

test('MTU: underlay less the outer IPv4 and UDP headers, as flannel (28)', () => {
  assert.is(MTU, 1472);
  assert.is(udpBackendMtu(9000), 8972);
});

interface Out { name: string; pkt: Buffer; counter: CounterName; to?: string; answer?: [number, number] }

const outRows: Out[] = [
  // An ordinary packet: to its lease's host on the backend's port, TTL − 1.
  { name: 'routed', pkt: udp4(1000, 2000, Buffer.alloc(100), from1()), counter: 'tx_unicast', to: '198.18.0.2:8285' },
  // The other lease.
  { name: 'other lease', pkt: icmp4Echo(8, from1({ dst: '10.244.3.1' })), counter: 'tx_unicast', to: '198.18.0.3:8285' },
  // IPv6 (the kernel's own router solicitations): not carried.
  { name: 'IPv6', pkt: udp6(1, 2, Buffer.alloc(8)), counter: 'tx_drop_not_ipv4' },
  // Shorter than an IPv4 header.
  { name: '19 bytes', pkt: Buffer.alloc(19, 0x45), counter: 'tx_drop_not_ipv4' },
  // Total Length larger than what was read.
  { name: 'total length past the end', pkt: (() => { const p = icmp4Echo(8, from1()); p.writeUInt16BE(200, 2); return p; })(), counter: 'tx_drop_not_ipv4' },
  // Larger than the TUN's MTU (its MTU raised by hand).
  { name: 'too big', pkt: udp4(1, 2, Buffer.alloc(MTU), from1()), counter: 'tx_drop_too_big' },
  // No lease holds the destination: ICMP net unreachable (3/0) into the TUN.
  { name: 'no route', pkt: icmp4Echo(8, from1({ dst: '10.244.9.1' })), counter: 'tx_drop_no_route', answer: [3, 0] },
  // TTL 1 leaves with 0: dropped, ICMP time exceeded (11/0).
  { name: 'TTL 1', pkt: udp4(1, 2, Buffer.alloc(10), from1({ ttl: 1 })), counter: 'tx_drop_ttl_expired', answer: [11, 0] },
  // No error about an ICMP error (RFC 1122 §3.2.2)…
  { name: 'no route, an ICMP error', pkt: (() => { const m = Buffer.alloc(36); m[0] = 3; return ipv4(1, m, from1({ dst: '10.244.9.1' })); })(), counter: 'tx_drop_no_route' },
  // …a non-first fragment…
  { name: 'no route, a later fragment', pkt: udp4(1, 2, Buffer.alloc(10), from1({ dst: '10.244.9.1', fragOff: 64 })), counter: 'tx_drop_no_route' },
  // …or a broadcast destination.
  { name: 'no route, to broadcast', pkt: udp4(1, 2, Buffer.alloc(10), from1({ dst: '255.255.255.255' })), counter: 'tx_drop_no_route' },
];

for (const row of outRows) {
  test(`TUN → wire: ${row.name}`, () => {
    const { dp, tun, udp, loop } = world();
    tun.inbox.push(row.pkt);
    loop.tunToWire();
    const c = dp.counters.snapshot();
    assert.is(c[row.counter], 1, JSON.stringify(dp.counters.nonZero()));
    assert.equal(counterImbalances(c), []);
    if (row.to) {
      assert.is(udp.sent.length, 1);
      assert.is(`${udp.sent[0].peer}:${udp.sent[0].port}`, row.to);
      const sent = udp.sent[0].payload;
      assert.is(sent.length, row.pkt.length, 'the packet itself, no header');
      assert.is(ttlOf(sent), ttlOf(row.pkt) - 1);
      assert.ok(csumOk(sent), 'checksum still right');
      assert.equal(sent.subarray(12), row.pkt.subarray(12), 'nothing else changed');
    } else {
      assert.is(udp.sent.length, 0);
    }
    assert.is(tun.written.length, row.answer ? 1 : 0, 'answered into the TUN, or not');
    if (row.answer) {
      const a = tun.written[0], v = new Ipv4View().bind(a, 0), m = new IcmpView().bind(a, 20);
      assert.ok(v.isValid(a.length) && v.checksumOk());
      assert.equal([m.type(), m.code()], row.answer);
      assert.ok(m.checksumOkV4(a.length - 20));
      // From the packet's destination (the TUN's own address would be a martian), to its source, quoting it.
      assert.is(v.src(), new Ipv4View().bind(row.pkt, 0).dst());
      assert.is(v.dst(), ip4('10.244.1.5'));
      assert.equal(a.subarray(28, 28 + 20), row.pkt.subarray(0, 20));
    }
  });
}

interface In { name: string; pkt: Buffer; from?: string; counter: CounterName; answer?: boolean }

const inRows: In[] = [
  { name: 'delivered', pkt: udp4(1, 2, Buffer.alloc(100), { src: '10.244.2.7', dst: '10.244.1.5' }), counter: 'rx_frames' },
  // Not from a host with a lease (the source allow-list).
  { name: 'a stranger', pkt: icmp4Echo(8), from: '198.18.0.66', counter: 'rx_drop_unknown_source' },
  { name: 'IPv6', pkt: udp6(1, 2, Buffer.alloc(8)), counter: 'rx_drop_not_ipv4' },
  { name: 'VXLAN, not IP', pkt: Buffer.from('0800000000000100', 'hex'), counter: 'rx_drop_not_ipv4' },
  { name: 'IHL 4', pkt: (() => { const p = icmp4Echo(8); p[0] = 0x44; return p; })(), counter: 'rx_drop_not_ipv4' },
  // TTL 1 arrives: dropped and answered, the answer going back out through the TUN's route.
  { name: 'TTL 1', pkt: udp4(1, 2, Buffer.alloc(10), { src: '10.244.2.7', dst: '10.244.1.5', ttl: 1 }), counter: 'rx_drop_ttl_expired', answer: true },
];

for (const row of inRows) {
  test(`wire → TUN: ${row.name}`, () => {
    const { dp, tun, udp, loop } = world();
    udp.inbox.push({ payload: row.pkt, from: row.from ?? '198.18.0.2' });
    loop.wireToTun();
    const c = dp.counters.snapshot();
    assert.is(c[row.counter], 1, JSON.stringify(dp.counters.nonZero()));
    assert.equal(counterImbalances(c), []);
    if (row.counter === 'rx_frames') {
      assert.is(tun.written.length, 1);
      assert.is(ttlOf(tun.written[0]), ttlOf(row.pkt) - 1);
      assert.ok(csumOk(tun.written[0]));
    } else {
      assert.is(tun.written.length, row.answer ? 1 : 0);
      assert.is(loop.lastDropSeq, 1);
      assert.equal([...loop.lastDrop.subarray(0, 4)], v4words(row.from ?? '198.18.0.2'));
    }
    if (row.answer) assert.is(new IcmpView().bind(tun.written[0], 20).type(), 11);
  });
}

test('wire → TUN: UDP padding after Total Length is not written', () => {
  const { tun, udp, loop } = world();
  const p = icmp4Echo(8, { src: '10.244.2.7', dst: '10.244.1.5' });
  udp.inbox.push({ payload: Buffer.concat([p, Buffer.alloc(6)]), from: '198.18.0.2' });
  loop.wireToTun();
  assert.is(tun.written[0].length, p.length);
});

test('ICMP answers stay within --icmp-rate; the rest are counted', () => {
  const { dp, tun, loop } = world({ icmpRate: 2 });
  for (let i = 0; i < 10; i++) tun.inbox.push(icmp4Echo(8, from1({ dst: '10.244.9.1' })));
  loop.tunToWire();
  assert.is(dp.counters.get('icmp_unreachable_sent'), 2);
  assert.is(dp.counters.get('icmp_error_limited'), 8);
  assert.is(tun.written.length, 2);
});

test('lease routes hold their host in the allow-list: a route moved or removed gives it back', () => {
  const { dp, r } = world();
  const has = (a: string) => dp.sources.has(...v4words(a));
  assert.ok(has('198.18.0.2') && has('198.18.0.3'));
  assert.is(r.tryAdd(ip4('10.244.2.0'), 24, '198.18.0.4'), null);
  assert.not.ok(has('198.18.0.2'));
  assert.ok(has('198.18.0.4'));
  assert.ok(r.remove(ip4('10.244.3.0'), 24));
  assert.not.ok(has('198.18.0.3'));
  assert.not.ok(r.remove(ip4('10.244.3.0'), 24));
  assert.is(dp.peers.refCount(dp.peers.find(...v4words('198.18.0.4'), 8285)), 1);
  assert.equal(r.list().map((e) => e.to), ['198.18.0.4:8285']);
});

test('a full table refuses a lease and changes nothing', () => {
  const dp = new Datapath({ knownSourcesOnly: true, peerCapacity: 2 });
  const r = new UdpRoutes(dp, 8285, MTU);
  assert.is(r.tryAdd(ip4('10.244.1.0'), 24, '198.18.0.1'), null);
  assert.is(r.tryAdd(ip4('10.244.2.0'), 24, '198.18.0.2'), null);
  assert.is(r.tryAdd(ip4('10.244.3.0'), 24, '198.18.0.3'), 'peer_table_full');
  assert.is(r.routes.count, 2);
  assert.not.ok(dp.sources.has(...v4words('198.18.0.3')));
});

test('weft capture on the loop: each port\'s input as it came (the TTL as read), each stage\'s output as it left (TTL − 1); the TUN side as raw IPv4', async () => {
  const t = tempDir('udp-capture');
  try {
    const outPkt = udp4(1000, 2000, Buffer.alloc(40), from1({ ttl: 30 }));
    const inPkt = icmp4Echo(0, { src: '10.244.2.7', dst: '10.244.1.5', ttl: 50 });
    const files: Record<string, string> = {};
    for (const side of ['overlay', 'underlay'] as const) {
      const { dp, tun, udp, loop } = world();
      const chunks: Buffer[] = [];
      loop.capture = new CaptureSession({
        side, count: 100, sink: (c) => chunks.push(c), backedUp: () => false, onFull: () => {},
        overlay: loop.overlay, peers: dp.peers, local: '198.18.0.1', port: 8285,
      });
      tun.inbox.push(outPkt);
      loop.tunToWire();
      udp.inbox.push({ payload: inPkt, from: '198.18.0.2' });
      loop.wireToTun();
      assert.is(udp.sent.length, 1);
      assert.is(tun.written.length, 1);
      files[side] = join(t.dir, `${side}.pcap`);
      writeFileSync(files[side], Buffer.concat(chunks));
    }
    // Overlay: link type 101, the packet the TUN handed over (TTL 30) and the one written to it (TTL 49).
    assert.is(readFileSync(files.overlay).readUInt32LE(20), LINKTYPE_RAW);
    const ov = await readPcapFrames(files.overlay, RAW_IP_LINKS);
    assert.equal(ov.map((p) => ttlOf(p)), [30, 49]);
    assert.ok(ov[0].equals(outPkt));
    assert.ok(ov[1].subarray(12).equals(inPkt.subarray(12)) && csumOk(ov[1]));
    // Underlay: whole Ethernet/IPv4/UDP frames on port 8285; the one sent carries TTL 29, the one received TTL 50 as it arrived.
    const un = await readPcapFrames(files.underlay);
    const parser = new OuterParser(8285, 'ipv4');
    const d = new DatagramBatch(1);
    const rows = un.map((f) => {
      assert.ok(parser.parse(f, 0, f.length, d, 0), JSON.stringify(parser.counters()));
      const ip = (o: number) => [...f.subarray(o, o + 4)].join('.');
      return `${ip(26)}:${f.readUInt16BE(34)} > ${ip(30)}:${f.readUInt16BE(36)} ttl ${f[d.off[0] + 8]}`;
    });
    assert.equal(rows, ['198.18.0.1:8285 > 198.18.0.2:8285 ttl 29', '198.18.0.2:40000 > 198.18.0.1:8285 ttl 50']);
    assert.ok(un[0].subarray(42 + 12).equals(outPkt.subarray(12)) && csumOk(un[0].subarray(42)), 'the packet as sent: only the TTL and its checksum changed');
    assert.ok(un[1].subarray(42).equals(inPkt), 'the datagram as received, before the stage took one off the TTL');
    // What the capture holds replays: its received datagram through `weft replay --udp-backend --decap`
    // becomes the packet the loop wrote; the one this host sent is from a host without a lease here.
    const back = join(t.dir, 'back.pcap');
    const r = await replayUdpDecap(files.underlay, back, { port: 8285, routes: [{ net: ip4('10.244.2.0'), len: 24, ip: '198.18.0.2' }] });
    assert.equal((await readPcapFrames(back, RAW_IP_LINKS)).map((p) => p.toString('hex')), [ov[1].toString('hex')]);
    assert.is(r.dp.counters.get('rx_drop_unknown_source'), 1);
  } finally { t.done(); }
});

test.run();
