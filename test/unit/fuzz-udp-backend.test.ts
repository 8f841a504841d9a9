// The udp backend's decap and encap fuzzed through its loop (the code that
// ships, over in-memory twins of the TUN and the socket): random bytes and
// mutated IPv4 packets — bit flips aimed at the header, truncations, junk
// after Total Length, every TTL, options, fragments, ICMP errors, IPv6 —
// from known hosts and strangers, both ways. No exception may escape, every
// packet is counted exactly once, everything weft writes or sends is one
// well-formed IPv4 packet, every ICMP answer is valid and within the size
// RFC 1812 allows, and good traffic still passes afterwards.
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
import { Rand } from '../helpers/fuzz-inputs.js';
import { icmp4Echo, ipv4, tcp4, udp4, udp6 } from '../helpers/packets.js';
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

test.run();
