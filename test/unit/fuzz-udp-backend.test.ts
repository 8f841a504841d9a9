// The udp backend's decap and encap fuzzed through its loop (the code that
// ships, over in-memory twins of the TUN and the socket): random bytes and
// mutated IPv4 packets — bit flips aimed at the header, truncations, junk
// after Total Length, every TTL, options, fragments, ICMP errors, IPv6 —
// from known hosts and strangers, both ways. No exception may escape, every
// packet is counted exactly once, everything weft writes or sends is one
// well-formed IPv4 packet, every ICMP answer is valid and within the size
// RFC 1812 allows, and good traffic still passes afterwards.
//
// The second test runs the same loop over the TUN with its offloads (the
// shipped tap-read.ts / tap-write.ts code with no link header, FuzzTun):
// reads carry a virtio-net header — plain, a partial checksum to complete,
// TCP/UDP super-packets of every size and segment size, IPv6, a GSO type
// never asked for, a damaged or random header — and the wire brings runs of
// in-order segments, some damaged or out of order, to merge. Every read is
// either cut, passed or dropped and counted (TapStats.badIn), every segment
// meets the MTU check on its own, what goes into the TUN has a header the
// kernel takes, and a queue that fills or a refused write is counted.
//
// FUZZ_UDPBE_PACKETS and FUZZ_SEED override the size and seed, to replay.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import { UdpRoutes } from '../../src/datapath/udp-routes.js';
import { UdpLoop } from '../../src/datapath/udp-loop.js';
import { Ipv4View, ipv4ToNumber as ip4 } from '../../src/wire/ipv4.js';
import { IcmpView, ICMPV4_ERROR_MAX } from '../../src/wire/icmp.js';
import { MemoryTap, MemoryUdp } from '../helpers/memory-ports.js';
import { FuzzTun, vnetProblem } from '../helpers/fuzz-world.js';
import { TapReadSlab, segmentTcp } from '../../src/io/tap-read.js';
import {
  VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4, vnetGsoType, writeVnet,
} from '../../src/io/vnet.js';
import { fold, sum16 } from '../../src/wire/checksum.js';
import { Rand } from '../helpers/fuzz-inputs.js';
import { icmp4Echo, ipv4, tcp4, tcp6, udp4, udp6 } from '../helpers/packets.js';
import { counterImbalances } from '../helpers/proc-stats.js';

const PACKETS = Number(process.env.FUZZ_UDPBE_PACKETS ?? 200_000);
const SEED = Number(process.env.FUZZ_SEED ?? 7);
const MTU = 1472;
const HOSTS = ['198.18.0.2', '198.18.0.3'];

/** A packet to start from: mostly well-formed, of every kind the backend treats differently. */
function seed(r: Rand): Buffer {
  const dst = r.chance(0.8) ? `10.244.${2 + r.int(2)}.${r.int(256)}` : r.pick(['10.244.9.1', '255.255.255.255', '224.0.0.5', '0.0.0.0', '127.0.0.1']);
  const src = r.chance(0.9) ? `10.244.1.${r.int(256)}` : r.pick(['0.0.0.0', '224.0.0.1', '10.244.2.2']);
  const ttl = r.chance(0.2) ? r.int(3) : r.int(256);
  const ip = { src, dst, ttl, df: r.chance(0.5), mf: r.chance(0.1), fragOff: r.chance(0.1) ? 8 * (1 + r.int(100)) : 0 };
  switch (r.int(7)) {
    case 0: return udp4(r.int(65536), r.int(65536), Buffer.alloc(r.len(MTU - 28)), ip);
    case 1: return tcp4(r.int(65536), 80, Buffer.alloc(r.int(1400)), {}, ip);
    case 2: return icmp4Echo(r.int(1400), ip);
    case 3: { const m = Buffer.alloc(8 + r.int(600)); m[0] = r.pick([3, 4, 5, 11, 12, 0, 8, 13]); return ipv4(1, m, ip); }
    case 4: return ipv4(r.int(256), Buffer.alloc(r.int(100)), { ...ip, options: Buffer.alloc(4 * r.int(11), 1) });
    case 5: return udp6(1, 2, Buffer.alloc(r.int(200)));
    default: { const b = Buffer.alloc(r.len(2000)); r.fill(b, 0, b.length); return b; }
  }
}

/** Damages a packet: bit flips (mostly in the header), a cut, junk after it, or nothing. */
function mutate(r: Rand, p: Buffer): Buffer {
  const x = r.float();
  if (x < 0.35) return p;
  if (x < 0.75) {
    for (let k = 1 + r.int(4); k > 0 && p.length > 0; k--) {
      const at = r.chance(0.8) ? r.int(Math.min(p.length, 28)) : r.int(p.length);
      p[at] ^= 1 << r.int(8);
    }
    return p;
  }
  if (x < 0.9) return p.subarray(0, r.int(p.length + 1));
  const junk = Buffer.alloc(1 + r.int(40));
  r.fill(junk, 0, junk.length);
  return Buffer.concat([p, junk]);
}

const v = new Ipv4View(), m = new IcmpView();

/** What weft wrote or sent must be one IPv4 packet, exactly as long as it says, with a TTL left. */
function wellFormed(p: Buffer, what: string, problems: string[]): void {
  v.bind(p, 0);
  if (!v.isValid(p.length) || v.totalLength() !== p.length || v.ttl() === 0) problems.push(`${what}: not one IPv4 packet: ${p.subarray(0, 28).toString('hex')}`);
}

test(`fuzz the udp backend: ${PACKETS.toLocaleString('en')} packets (seed ${SEED}) — no crash, every packet counted once, well-formed output, good traffic after`, () => {
  const r = new Rand(SEED);
  const dp = new Datapath({ knownSourcesOnly: true, peerCapacity: 8, icmpRate: 1000 });
  const be = new UdpRoutes(dp, 8285, MTU);
  be.tryAdd(ip4('10.244.2.0'), 24, HOSTS[0]);
  be.tryAdd(ip4('10.244.3.0'), 24, HOSTS[1]);
  const tun = new MemoryTap(32), udp = new MemoryUdp(32);
  let clock = 0;
  const loop = new UdpLoop(be, tun, udp, { batch: 32, now: () => clock });
  const problems: string[] = [];
  let crashes = 0, answers = 0, done = 0;
  const t0 = performance.now();
  while (done < PACKETS) {
    clock += 5;
    const n = 1 + r.int(32), out = r.chance(0.5);
    for (let k = 0; k < n; k++) {
      const p = mutate(r, seed(r));
      if (out) tun.inbox.push(p);
      else udp.inbox.push({ payload: p, from: r.chance(0.9) ? r.pick(HOSTS) : `198.18.0.${r.int(256)}` });
    }
    done += n;
    tun.written.length = 0;
    udp.sent.length = 0;
    try {
      if (out) loop.tunToWire(); else loop.wireToTun();
    } catch (e) {
      if (crashes++ < 5) problems.push(`crash: ${(e as Error).stack}`);
      continue;
    }
    for (const s of udp.sent) {
      wellFormed(s.payload, 'sent', problems);
      if (!HOSTS.includes(s.peer) || s.port !== 8285) problems.push(`sent to ${s.peer}:${s.port}`);
    }
    for (const w of tun.written) {
      wellFormed(w, 'written', problems);
      v.bind(w, 0);
      // The answers are the ICMP errors weft built itself (TTL 64, id 0, from the packet's destination).
      if (v.protocol() !== 1 || v.id() !== 0 || v.ttl() !== 64 || w.length < 28) continue;
      const t = m.bind(w, 20).type();
      if (t !== 3 && t !== 11) continue;
      answers++;
      if (!v.checksumOk() || !m.checksumOkV4(w.length - 20) || w.length > ICMPV4_ERROR_MAX) problems.push(`bad answer ${w.subarray(0, 48).toString('hex')}`);
    }
    if (problems.length > 20) break;
  }
  const ms = performance.now() - t0;
  const c = dp.counters.snapshot();
  process.stdout.write(`\n  fuzzed ${done} packets in ${(ms / 1000).toFixed(1)} s; answers ${answers}; ${JSON.stringify(dp.counters.nonZero())}\n`);
  assert.is(crashes, 0, problems.join('\n'));
  assert.equal(problems, []);
  assert.equal(counterImbalances(c), []);
  assert.is(c.tx_frames + c.rx_datagrams, done);
  // Every reason reached.
  for (const k of ['tx_unicast', 'tx_drop_not_ipv4', 'tx_drop_too_big', 'tx_drop_no_route', 'tx_drop_ttl_expired', 'rx_frames',
    'rx_drop_unknown_source', 'rx_drop_not_ipv4', 'rx_drop_ttl_expired', 'icmp_unreachable_sent', 'icmp_time_exceeded_sent'] as const) {
    assert.ok(c[k] > 0, `${k} never counted`);
  }
  // Good traffic after.
  tun.written.length = 0; udp.sent.length = 0;
  tun.inbox.push(udp4(1, 2, Buffer.alloc(100), { src: '10.244.1.5', dst: '10.244.3.9' }));
  udp.inbox.push({ payload: udp4(1, 2, Buffer.alloc(100), { src: '10.244.2.5', dst: '10.244.1.9' }), from: HOSTS[0] });
  loop.tunToWire(); loop.wireToTun();
  assert.is(udp.sent.length, 1);
  assert.is(tun.written.length, 1);
});

/** Payload bytes to take super-packets' payloads from (what they hold does not matter, only that it is carried). */
const BYTES = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7 + (i >>> 8)) & 0xff));
/** The MSS the host's TCP uses on a TUN of MTU 1472. */
const MSS = MTU - 40;

/** A raw TUN read: a virtio-net header, then a bare IP packet — of every kind the read side treats differently. */
function tunRead(r: Rand): Buffer {
  const h = Buffer.alloc(VNET_HDR_LEN);
  const x = r.float();
  const ip = { src: `10.244.1.${r.int(256)}`, dst: r.chance(0.9) ? `10.244.${2 + r.int(2)}.${r.int(256)}` : '10.244.9.1', ttl: r.chance(0.05) ? r.int(2) : 64, id: r.int(65536) };
  let p: Buffer;
  if (x < 0.35) {
    p = mutate(r, seed(r));
  } else if (x < 0.45) {
    // A partial checksum to complete; now and then offsets that do not fit.
    p = r.chance(0.5) ? tcp4(r.int(65536), 80, BYTES.subarray(0, r.int(1400)), {}, ip, 'partial') : udp4(r.int(65536), 53, BYTES.subarray(0, r.int(1400)), ip, 'partial');
    const at = p[9] === 6 ? 16 : 6;
    writeVnet(h, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, r.chance(0.9) ? 20 : r.int(70000), r.chance(0.9) ? at : r.int(65536));
  } else if (x < 0.75) {
    // A TCP super-packet: mostly the host's MSS, sometimes one too large for the MTU, tiny, or none.
    const mss = r.chance(0.8) ? MSS : r.pick([0, 1, 48, 536, MSS + 1, 9000]);
    p = tcp4(40000 + r.int(8), 5201, BYTES.subarray(0, 1 + r.int(64000)), { seq: r.u32(), flags: r.pick([0x10, 0x18, 0x19, 0x12]) }, ip, 'partial');
    if (r.chance(0.1)) p = mutate(r, p);
    writeVnet(h, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | (r.chance(0.05) ? 0x80 : 0), 40, mss, 20, 16);
  } else if (x < 0.85) {
    // A UDP super-packet (USO), up to and past the kernel's 64 segments.
    const mss = r.pick([100, 512, MTU - 28, MTU]);
    p = udp4(r.int(65536), 4789, BYTES.subarray(0, 1 + r.int(Math.min(65000, mss * 70))), ip, 'partial');
    writeVnet(h, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4, 28, mss, 20, 6);
  } else if (x < 0.9) {
    // IPv6 super-packets: cut, then each segment is not IPv4.
    p = r.chance(0.5) ? tcp6(40000, 5201, BYTES.subarray(0, 1 + r.int(20000)), {}, 'partial') : udp6(1, 2, BYTES.subarray(0, 1 + r.int(20000)), 'partial');
    writeVnet(h, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, p[6] === 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_UDP_L4, 60, 1200, 40, p[6] === 6 ? 16 : 6);
  } else {
    // A header weft never asked for (GSO_UDP, unknown types) or random bytes; or cut short.
    p = mutate(r, seed(r));
    if (r.chance(0.5)) writeVnet(h, 0, r.int(4), r.pick([3, 2, 6, 7, 0x7f, 0xff]), r.int(200), r.int(3000), r.int(200), r.int(200));
    else r.fill(h, 0, VNET_HDR_LEN);
    if (r.chance(0.2)) return Buffer.concat([h, p]).subarray(0, r.int(VNET_HDR_LEN + 1));
  }
  return Buffer.concat([h, p]);
}

/** Datagrams from the wire: mostly a run of one flow's in-order segments (cut as a peer's weft cuts them), some damaged or swapped. */
function wireRun(r: Rand): Buffer[] {
  if (r.chance(0.3)) return [mutate(r, seed(r))];
  const sp = tcp4(5201, 40000 + r.int(4), BYTES.subarray(0, MSS * (1 + r.int(40)) - (r.chance(0.3) ? r.int(MSS) : 0)),
    { seq: r.u32(), flags: r.pick([0x10, 0x18]) }, { src: '10.244.2.7', dst: '10.244.1.9', ttl: r.chance(0.03) ? 1 : 63 });
  const dst = Buffer.alloc(sp.length + 64 * 80), segs: Buffer[] = [];
  segmentTcp(sp, 0, sp.length, MSS, false, dst, 0, dst.length, 0, (o, l) => { segs.push(Buffer.from(dst.subarray(o, o + l))); }, 64, false, 0);
  for (let k = 0; k < segs.length; k++) {
    if (r.chance(0.02)) segs[k] = mutate(r, segs[k]);
    if (r.chance(0.01) && k + 1 < segs.length) [segs[k], segs[k + 1]] = [segs[k + 1], segs[k]];
  }
  return segs;
}

/** What weft writes into the TUN: a header the kernel takes, then one IPv4 packet (merged ones: lengths and header checksum redone). */
function tunProblem(w: Buffer): string | null {
  if (w.length < VNET_HDR_LEN + 20) return `${w.length} bytes written`;
  const vp = vnetProblem(w, 0, w.length - VNET_HDR_LEN, 0);
  if (vp) return vp;
  v.bind(w, VNET_HDR_LEN);
  if (!v.isValid(w.length - VNET_HDR_LEN) || v.totalLength() !== w.length - VNET_HDR_LEN || v.ttl() === 0) return `not one IPv4 packet: ${w.subarray(VNET_HDR_LEN, VNET_HDR_LEN + 28).toString('hex')}`;
  if (vnetGsoType(w, 0) !== VIRTIO_NET_HDR_GSO_NONE && fold(sum16(w, VNET_HDR_LEN, v.ihl())) !== 0xffff) return 'a merged packet with a bad IPv4 header checksum';
  return null;
}

test(`fuzz the udp backend over the TUN's offloads: ${(PACKETS / 10).toLocaleString('en')} TUN reads and wire runs (seed ${SEED}) — every read cut, passed or counted, every segment within the MTU, headers the kernel takes`, () => {
  const r = new Rand(SEED + 1);
  const dp = new Datapath({ knownSourcesOnly: true, peerCapacity: 8, icmpRate: 1000 });
  const be = new UdpRoutes(dp, 8285, MTU);
  be.tryAdd(ip4('10.244.2.0'), 24, HOSTS[0]);
  be.tryAdd(ip4('10.244.3.0'), 24, HOSTS[1]);
  const problems: string[] = [];
  const READS = 2, batch = TapReadSlab.batchFor(READS, true);
  const tun = new FuzzTun(READS, MTU, (s) => problems.push(s)), udp = new MemoryUdp(batch);
  let clock = 0;
  const loop = new UdpLoop(be, tun, udp, { batch, now: () => clock });
  let crashes = 0, datagrams = 0, runs = 0;
  const t0 = performance.now();
  while (runs < PACKETS / 10) {
    clock += 5;
    const out = r.chance(0.5);
    if (out) for (let k = 1 + r.int(READS); k > 0; k--) tun.inbox.push(tunRead(r));
    else {
      const from = r.chance(0.95) ? r.pick(HOSTS) : '198.18.0.77';
      for (const d of wireRun(r)) { udp.inbox.push({ payload: d, from }); datagrams++; }
    }
    runs++;
    // Now and then the TUN's queue fills or the kernel refuses a write.
    tun.kernel.fullAt = r.chance(0.03) ? r.int(3) : -1;
    tun.kernel.refuse = tun.kernel.fullAt < 0 && r.chance(0.03) ? r.int(3) : -1;
    tun.written.length = 0;
    udp.sent.length = 0;
    try {
      while (tun.inbox.length > 0) loop.tunToWire();
      while (udp.inbox.length > 0) loop.wireToTun();
    } catch (e) {
      tun.inbox.length = 0; udp.inbox.length = 0;
      if (crashes++ < 5) problems.push(`crash: ${(e as Error).stack}`);
      continue;
    }
    for (const s of udp.sent) {
      wellFormed(s.payload, 'sent', problems);
      if (s.payload.length > MTU) problems.push(`sent ${s.payload.length} bytes, more than the MTU`);
      if (!HOSTS.includes(s.peer) || s.port !== 8285) problems.push(`sent to ${s.peer}:${s.port}`);
    }
    for (const w of tun.written) {
      const p = tunProblem(w);
      if (p) problems.push(`written: ${p}`);
    }
    if (problems.length > 20) break;
  }
  const ms = performance.now() - t0;
  const c = dp.counters.snapshot(), st = tun.stats;
  process.stdout.write(`\n  fuzzed ${tun.reads} TUN reads, ${datagrams} datagrams in ${(ms / 1000).toFixed(1)} s; ${JSON.stringify(st)}; ${JSON.stringify(dp.counters.nonZero())}\n`);
  assert.is(crashes, 0, problems.join('\n'));
  assert.equal(problems, []);
  assert.equal(counterImbalances(c), []);
  // Every read accounted for: dropped and counted, passed whole, or cut into segments the data path counts.
  assert.is(c.tx_frames, tun.reads - st.badIn - st.superFramesIn + st.segmentsOut);
  assert.is(c.rx_datagrams, datagrams);
  for (const k of ['tx_unicast', 'tx_drop_not_ipv4', 'tx_drop_too_big', 'tx_drop_no_route', 'tx_drop_ttl_expired', 'rx_frames', 'rx_drop_tap',
    'rx_drop_unknown_source', 'rx_drop_not_ipv4', 'rx_drop_ttl_expired'] as const) {
    assert.ok(c[k] > 0, `${k} never counted`);
  }
  for (const k of ['badIn', 'superFramesIn', 'csumCompletedIn', 'coalesced', 'csumBadOut', 'refused'] as const) assert.ok(st[k] > 0, `TapStats.${k} never counted`);

  // Good traffic after: a super-packet leaves as equal segments carrying its payload, and comes back merged into one.
  tun.kernel.fullAt = -1; tun.kernel.refuse = -1;
  tun.written.length = 0; udp.sent.length = 0;
  const payload = BYTES.subarray(0, 10 * MSS);
  const h = Buffer.alloc(VNET_HDR_LEN);
  writeVnet(h, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 40, MSS, 20, 16);
  tun.inbox.push(Buffer.concat([h, tcp4(40100, 5201, payload, { seq: 5 }, { src: '10.244.1.5', dst: '10.244.3.9' }, 'partial')]));
  loop.tunToWire();
  assert.is(udp.sent.length, 10);
  assert.ok(udp.sent.every((s) => s.payload.length === MTU && s.peer === HOSTS[1]));
  assert.ok(Buffer.concat(udp.sent.map((s) => s.payload.subarray(40))).equals(payload));
  for (const s of udp.sent) udp.inbox.push({ payload: s.payload, from: HOSTS[1] });
  loop.wireToTun();
  assert.is(tun.written.length, 1);
  assert.is(vnetGsoType(tun.written[0], 0), VIRTIO_NET_HDR_GSO_TCPV4);
  assert.ok(tun.written[0].subarray(VNET_HDR_LEN + 40).equals(payload));
});

test.run();
