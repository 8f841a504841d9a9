// The fuzz campaign over weft's packet paths: hostile input must neither
// crash weft nor go uncounted.
//
// Three paths, each driven in batches the way the live loop drives it:
//
//   decap     VXLAN datagrams as the UDP socket hands them over (payload
//             views, source words, -1 for a datagram cut by the socket)
//             → decapBatch → the TAP write side (planTapWrite: the
//             Coalescer, which writes each frame's virtio-net header with
//             writeVnetHeader; sendTapWrite with a kernel that now and then
//             fills up or refuses a frame)
//   outer     whole underlay frames (Ethernet/IPv4 or IPv6/UDP/VXLAN/…)
//             → OuterParser (the replay twin of the kernel's UDP receive)
//             → decapBatch → the TAP write side
//   tap-read  frames as a TAP read returns them, virtio-net header first
//             → what Tap.read does (readTapFrames: completeChecksum,
//             segmentTcp, segmentUdp) → encapBatch → every datagram produced is
//             decapsulated by a second VTEP, and some are wrapped by the
//             replay twin's OuterBuilder and parsed back; frames too big
//             for the MTU → answerTooBig → the TAP write side
//
// The VTEP (fuzz-world.ts newWorld) changes every few thousand batches:
// roomy tables, tight ones, and guarded (datagrams from known VTEPs only,
// a broadcast budget per source MAC, few ICMP answers a second).
//
// One batch in ten also goes through a `weft capture` session (underlay or
// overlay), as the forwarder hands its batches to one.
//
// Inputs (fuzz-inputs.ts) are random bytes, or well-formed packets from
// templates — IPv4 and IPv6 with TCP, UDP or ICMP, ARP, 802.1Q and QinQ
// tags, VXLAN nested in VXLAN, 14 bytes to 64 KiB, TCP and UDP super-frames
// — put through 1–4 mutations: truncation, bit flips aimed at header fields,
// length fields set wrong, a field set to zeros / ones / random, random
// splats, extension, VXLAN flags and reserved bits, and for TAP reads the
// virtio-net header's fields.
//
// The PRNG is seeded (frames.ts `rng`): the same seed and packet count replay
// exactly. After every batch: no exception escaped, every packet is counted
// under exactly one outcome (proc-stats.ts's counterImbalances, and the same
// for the outer parser and the TAP's read side), and what weft hands on is well
// formed (frame views inside the slab, valid VXLAN headers out, virtio-net
// headers the kernel accepts). An exception is caught per batch; its packets
// are replayed one at a time on a fresh VTEP to find the one that throws,
// which is reported as a crash with its bytes (`npm run fuzz` saves them for
// the regression corpus, test/corpus/). At the end, good traffic must still
// forward through the fuzzed state (goodTraffic).

import type { Datapath } from '../../src/datapath/datapath.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../../src/io/batch.js';
import { C } from '../../src/datapath/counters.js';
import { answerTooBig, newReplyBatch } from '../../src/datapath/pmtu.js';
import type { VniState } from '../../src/datapath/vni.js';
import { TapReadSlab } from '../../src/io/tap-read.js';
import { TapWritePlan } from '../../src/io/tap-write.js';
import { newTapStats, type TapStats } from '../../src/io/tap.js';
import { OuterParser, OuterBuilder } from '../../src/io/outer.js';
import { CaptureSession } from '../../src/capture/capture.js';
import { v4words } from './packets.js';
import { counterImbalances } from './proc-stats.js';
import {
  Rand, Macs, mutate, vxlanDatagram, tapRead, innerFrames, outerFrames, superFrames, PEER_IP, LOCAL_IP, VNI_A, VNI_B,
} from './fuzz-inputs.js';
import {
  newWorld, tapWrite, FakeTapKernel, replayOne, goodTraffic, icmpProblem, MTU, WORLD_KINDS,
  type World, type WorldKind, type FuzzPath,
} from './fuzz-world.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { decapBatch } from '../../src/datapath/decap.js';

export type { FuzzPath } from './fuzz-world.js';

/** What the TAP's read side counted, and the frames read and segments lost (a full batch) beside. */
export type TapReadCounts = TapStats & { framesIn: number; lost: number };

export interface Crash {
  path: FuzzPath;
  error: string;
  /** The packet that throws on a fresh VTEP (decap: the UDP payload; outer: the frame; tap-read: virtio-net header + frame). */
  input: Buffer;
  /** True when no packet threw alone: `input` then holds the whole batch, each packet as a 4-byte length and its bytes. */
  wholeBatch: boolean;
  batch: number;
}

export interface FuzzReport {
  seed: number;
  packets: number;
  byPath: Record<FuzzPath, number>;
  batches: number;
  crashes: Crash[];
  /** Counting or well-formedness failures (the first 20), with the batch they were seen in. */
  problems: string[];
  problemCount: number;
  ms: number;
  /** Data path counters summed over every VTEP the campaign used. */
  counters: Record<string, number>;
  outer: Record<string, number>;
  tap: TapReadCounts;
  /** What the TAP's write side counted (merges, marks, frames the kernel stand-in refused). */
  tapWrite: TapStats;
  /** What the VTEP that decapsulated weft's datagrams counted. */
  peer: Record<string, number>;
  /** Failures of the good-traffic check after the campaign; empty when it passed. */
  goodAfter: string[];
}

export interface FuzzOptions {
  packets: number;
  seed: number;
  /** Stop early after this many ms (the report says how many packets were done). */
  timeLimitMs?: number;
  /** Called as crashes are found. */
  onCrash?: (c: Crash) => void;
  /** Called about once a second with the packets done so far. */
  progress?: (done: number) => void;
}

/** The largest UDP payload over IPv4. */
const DGRAM_MAX = 65507;
/** Each path's share of the packets. */
const SHARE: Record<FuzzPath, number> = { decap: 0.55, outer: 0.15, 'tap-read': 0.3 };
const DECAP_BATCH = 256;
/** Batches between switching to a fresh VTEP (roomy, tight and guarded in turn). */
const WORLD_BATCHES = 4000;

export function runCampaign(o: FuzzOptions): FuzzReport {
  return new Campaign(o).run();
}

class Campaign {
  private readonly r: Rand;
  private readonly report: FuzzReport;
  private readonly macs: Macs;
  private readonly inner = innerFrames();
  private readonly outerT = outerFrames();
  private readonly superT = superFrames();
  private w: World;
  private kind: WorldKind = 'roomy';
  private nowMs = 1_000;
  // decap and outer
  private readonly dslab = Buffer.alloc(4 << 20);
  private readonly inAt = new Int32Array(DECAP_BATCH);
  private readonly inLen = new Int32Array(DECAP_BATCH);
  private readonly dgrams = new DatagramBatch(DECAP_BATCH, this.dslab);
  private readonly out = new FrameBatch(DECAP_BATCH);
  private readonly parser = new OuterParser(8472);
  /** TAP writers as `weft run` makes them: offloads with USO, a 9000-byte MTU without, and --no-offload. */
  private readonly writers = [new TapWritePlan(DECAP_BATCH, true, MTU, true), new TapWritePlan(DECAP_BATCH, true, 9000, false), new TapWritePlan(DECAP_BATCH, false, MTU, false)];
  private readonly kernel = new FakeTapKernel();
  private readonly txStats = newTapStats();
  // tap-read: a TAP read slab as `weft run --batch 1024` sizes it (16 reads, 1024 frames out)
  private readonly tap = new TapReadSlab(16, true);
  private readonly tapOut = new FrameBatch(TapReadSlab.batchFor(16, true));
  private readonly tapStats: TapReadCounts = { ...newTapStats(), framesIn: 0, lost: 0 };
  private readonly sends = new SendList(this.tapOut.capacity * 3);
  private readonly pslab = Buffer.alloc(16 << 20);
  private readonly pdg = new DatagramBatch(4096, this.pslab);
  private readonly pout = new FrameBatch(4096);
  private readonly replies = newReplyBatch();
  // the replay twin's round trip
  private builder: { dp: Datapath; b: OuterBuilder } | null = null;
  private readonly rt = Buffer.alloc(128 + DGRAM_MAX);
  private readonly rtBatch = new DatagramBatch(1, this.rt);
  private readonly rtParsers = new Map<number, OuterParser>();
  /** `weft capture` sessions (underlay, overlay) on the current VTEP; they see one batch in ten. */
  private captures: { dp: Datapath; s: CaptureSession[] } | null = null;
  captured = 0;

  constructor(private readonly o: FuzzOptions) {
    this.r = new Rand(o.seed);
    this.macs = new Macs(this.r, 3000);
    this.w = newWorld(this.kind);
    this.report = {
      seed: o.seed, packets: 0, byPath: { decap: 0, outer: 0, 'tap-read': 0 }, batches: 0, crashes: [], problems: [], problemCount: 0, ms: 0,
      counters: {}, outer: {}, tap: { ...this.tapStats }, tapWrite: { ...this.txStats }, peer: {}, goodAfter: [],
    };
  }

  run(): FuzzReport {
    const rep = this.report, r = this.r;
    const t0 = performance.now();
    const deadline = this.o.timeLimitMs !== undefined ? t0 + this.o.timeLimitMs : Infinity;
    let lastProgress = t0;
    while (rep.packets < this.o.packets) {
      // The path furthest behind its share of the packets goes next.
      const due = (p: FuzzPath) => SHARE[p] * (rep.packets + 1) - rep.byPath[p];
      if (due('tap-read') > due('decap') && due('tap-read') > due('outer')) this.tapBatch();
      else this.wireBatch(due('outer') > due('decap'));
      rep.batches++;
      this.nowMs += 1 + r.int(40);
      if ((rep.batches & 63) === 0) {
        // What the forwarder's timer does, and a look at the counters.
        this.w.dp.fdb.age(this.nowMs);
        this.w.peer.fdb.age(this.nowMs);
        this.checkCounters();
        const now = performance.now();
        if (now > deadline) break;
        if (this.o.progress && now - lastProgress > 1000) { lastProgress = now; this.o.progress(rep.packets); }
      }
      if (rep.batches % WORLD_BATCHES === 0) {
        this.retire();
        this.kind = WORLD_KINDS[(WORLD_KINDS.indexOf(this.kind) + 1) % WORLD_KINDS.length];
        this.w = newWorld(this.kind);
      }
    }
    this.checkCounters();
    // A moment later, as a person would try: broadcast budgets have refilled.
    rep.goodAfter = goodTraffic(this.w, this.nowMs + 10_000);
    this.retire();
    rep.outer = this.parser.counters();
    rep.tap = { ...this.tapStats, lost: this.tap.lost };
    rep.tapWrite = { ...this.txStats };
    rep.ms = performance.now() - t0;
    return rep;
  }

  private problem(s: string): void {
    this.report.problemCount++;
    if (this.report.problems.length < 20) this.report.problems.push(`batch ${this.report.batches}: ${s}`);
  }

  private checkCounters(): void {
    for (const s of counterImbalances(this.w.dp.counters.snapshot())) this.problem(s);
  }

  /** Adds the current VTEP's counters to the report. */
  private retire(): void {
    const add = (into: Record<string, number>, from: Record<string, number>) => { for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v; };
    add(this.report.counters, this.w.dp.counters.snapshot());
    add(this.report.peer, this.w.peer.counters.nonZero());
  }

  // -- wire → TAP -------------------------------------------------------------

  private wireBatch(outer: boolean): void {
    const r = this.r, dg = this.dgrams, c = this.w.dp.counters;
    const n = 1 + r.int(r.chance(0.3) ? DECAP_BATCH : 32);
    const rx0 = c.get('rx_datagrams'), frames0 = c.get('rx_frames'), parsed0 = outer ? outcomes(this.parser) : 0;
    let at = 0, inputs = 0;
    dg.count = 0;
    for (let i = 0; i < n && at + HEADROOM + DGRAM_MAX <= this.dslab.length; i++) {
      at += HEADROOM;
      const len = outer ? this.genOuter(at) : this.genDatagram(i, at);
      this.inAt[i] = at; this.inLen[i] = len; inputs++;
      if (!outer) {
        dg.off[i] = at; dg.len[i] = len; dg.count++;
      } else if (this.parser.parse(this.dslab, at, len, dg, dg.count)) {
        dg.count++;
      }
      at = (at + Math.max(0, len) + 7) & ~7;
    }
    this.report.packets += inputs;
    this.report.byPath[outer ? 'outer' : 'decap'] += inputs;
    try {
      const cap = this.capture();
      cap?.fromWire(dg);
      decapBatch(this.w.dp, dg, this.out, this.nowMs);
      cap?.toTap(this.out);
      for (let i = 0; i < this.out.count; i++) {
        if (this.out.vni[i] !== VNI_A && this.out.vni[i] !== VNI_B) this.problem(`decap delivered a frame on VNI ${this.out.vni[i]}`);
      }
      const written = tapWrite(r.pick(this.writers), this.out, this.txStats, this.kernelNow(), (s) => this.problem(`decap → TAP: ${s}`));
      // The forwarder counts what the TAP did not take.
      c.v[C.rx_drop_tap] += this.out.count - written;
    } catch (e) {
      this.crashed(outer ? 'outer' : 'decap', e as Error, inputs);
      return;
    }
    if (outer && outcomes(this.parser) - parsed0 !== inputs) this.problem(`the outer parser counted ${outcomes(this.parser) - parsed0} outcomes for ${inputs} frames`);
    if (c.get('rx_datagrams') - rx0 !== dg.count) this.problem(`rx_datagrams moved by ${c.get('rx_datagrams') - rx0} for ${dg.count} datagrams`);
    if (c.get('rx_frames') - frames0 !== this.out.count) this.problem(`rx_frames moved by ${c.get('rx_frames') - frames0}, ${this.out.count} frames out`);
  }

  /** Writes datagram i at `at` and its source; returns its length (-1: cut by the socket). */
  private genDatagram(i: number, at: number): number {
    const r = this.r, s = this.dslab, dg = this.dgrams, a = i * 4;
    // Sources: a few hundred IPv4 VTEPs (in a tight world mostly 30, so its
    // forwarding table fills before its peer table does; in a guarded one,
    // half of them the known VTEPs), some IPv6, a few odd.
    const x = r.float(), tight = this.kind === 'tight';
    if (this.kind === 'guarded' && x < 0.5) dg.srcAddr.set(v4words(r.chance(0.8) ? PEER_IP : '198.18.0.3'), a);
    else if (x < 0.82) dg.srcAddr.set(v4words(`198.18.${tight ? 0 : r.int(3)}.${1 + r.int(tight && r.chance(0.95) ? 30 : 250)}`), a);
    else if (x < 0.97) { dg.srcAddr[a] = 0xfd000198; dg.srcAddr[a + 1] = 0x00180000; dg.srcAddr[a + 2] = 0; dg.srcAddr[a + 3] = 1 + r.int(200); } else for (let k = 0; k < 4; k++) dg.srcAddr[a + k] = r.pick([0, 0xffffffff, r.u32()]);
    dg.srcPort[i] = r.int(65536);
    // The socket's "longer than the slot", now and then.
    if (r.chance(0.004)) return -1;
    return vxlanDatagram(r, this.macs, this.inner, s, at, DGRAM_MAX);
  }

  /** Writes one outer frame at `at`; returns its length. */
  private genOuter(at: number): number {
    const t = this.r.pick(this.outerT);
    t.bytes.copy(this.dslab, at);
    return this.r.chance(0.85) ? mutate(this.r, this.dslab, at, t.bytes.length, DGRAM_MAX, t, 0) : t.bytes.length;
  }

  /** The kernel under the TAP: mostly it takes everything; now and then it fills up, or refuses one frame. */
  private kernelNow(): FakeTapKernel {
    const k = this.kernel, x = this.r.float();
    k.fullAt = x < 0.03 ? this.r.int(4) : -1;
    k.refuse = x >= 0.03 && x < 0.06 ? this.r.int(4) : -1;
    return k;
  }

  // -- TAP → wire -------------------------------------------------------------

  private tapBatch(): void {
    const r = this.r, tap = this.tap, st = this.tapStats, c = this.w.dp.counters, batch = this.tapOut;
    const got = 1 + r.int(r.chance(0.2) ? tap.rawMax : 4);
    for (let i = 0; i < got; i++) tap.rawLens[i] = tapRead(r, this.macs, this.inner, this.superT, tap.slab, tap.rawOffs[i]);
    const v = r.chance(0.7) ? this.w.a : this.w.b;
    const frames0 = c.get('tx_frames'), dg0 = c.get('tx_datagrams');
    const bad0 = st.badIn, super0 = st.superFramesIn, segs0 = st.segmentsOut, lost0 = tap.lost;
    this.report.packets += got;
    this.report.byPath['tap-read'] += got;
    try {
      const n = tap.fill(got, batch, st);
      st.framesIn += got;
      const cap = this.capture();
      cap?.fromTap(batch);
      encapBatch(this.w.dp, v, batch, this.sends, this.nowMs);
      cap?.toWire(this.sends, batch.buf);
      this.answerTooBig(v);
      // Every frame read is a plain frame, a super-frame cut into segments,
      // or counted bad; every plain frame and segment reaches encap, which
      // counts each once.
      const segs = st.segmentsOut - segs0, plain = n - segs;
      if (tap.lost !== lost0) this.problem(`TAP read: ${tap.lost - lost0} segments did not fit the batch and were dropped without a count`);
      if (plain < 0 || got !== plain + st.badIn - bad0 + st.superFramesIn - super0) this.problem(`TAP read: ${got} frames read, ${n} out (${segs} segments), ${st.badIn - bad0} bad, ${st.superFramesIn - super0} super-frames`);
      if (st.superFramesIn - super0 > segs) this.problem(`TAP read: ${st.superFramesIn - super0} super-frames cut into ${segs} segments`);
      if (c.get('tx_frames') - frames0 !== n) this.problem(`encap counted ${c.get('tx_frames') - frames0} frames of ${n}`);
      if (c.get('tx_datagrams') - dg0 !== this.sends.count) this.problem(`tx_datagrams moved by ${c.get('tx_datagrams') - dg0}, ${this.sends.count} datagrams out`);
      this.checkSends(v);
    } catch (e) {
      this.crashed('tap-read', e as Error, got);
    }
  }

  /** The ICMP answers to frames encap found too big (pmtu.ts), written to the TAP as the forwarder does: well formed, within the rate. */
  private answerTooBig(v: VniState): void {
    if (this.sends.tooBigCount === 0) return;
    const n = answerTooBig(this.w.dp, v, this.tapOut, this.sends, this.replies, this.nowMs);
    for (let i = 0; i < n; i++) {
      const p = icmpProblem(this.replies.buf, this.replies.off[i], this.replies.len[i], v.mtu);
      if (p) this.problem(`ICMP answer to a too-big frame: ${p}`);
    }
    this.w.dp.counters.v[C.icmp_too_big_sent] += tapWrite(this.writers[2], this.replies, this.txStats, this.kernelNow(), (s) => this.problem(`ICMP answer → TAP: ${s}`));
  }

  /** Every datagram encap made is valid VXLAN: the second VTEP takes it, or drops it only for its inner source MAC. */
  private checkSends(v: VniState): void {
    const sends = this.sends, b = this.tap.slab, fb = this.tapOut, pdg = this.pdg;
    let j = 0;
    while (j < sends.count) {
      let at = 0;
      pdg.count = 0;
      const first = j;
      for (; j < sends.count && pdg.count < pdg.capacity; j++) {
        const off = sends.off[j], len = sends.len[j];
        if (off < 0 || off + len > b.length || len !== fb.len[sends.from[j]] + 8 || off !== fb.off[sends.from[j]] - 8) {
          this.problem(`encap produced a bad view (${off}, ${len})`);
          continue;
        }
        if (b[off] !== 0x08 || (b[off + 1] | b[off + 2] | b[off + 3] | b[off + 7]) !== 0 || b.readUIntBE(off + 4, 3) !== v.vni) {
          this.problem(`encap wrote a bad VXLAN header ${b.subarray(off, off + 8).toString('hex')}`);
        }
        if (at + HEADROOM + len > this.pslab.length) break;
        at += HEADROOM;
        b.copy(this.pslab, at, off, off + len);
        const k = pdg.count++;
        pdg.off[k] = at; pdg.len[k] = len;
        pdg.srcAddr.set(v4words(LOCAL_IP), k * 4);
        at += len;
        if (k < 2) this.roundTrip(at - len, len, sends.peer[j], sends.srcPort[j]);
      }
      if (j === first) break;
      const pc = this.w.peer.counters;
      const malformed = () => pc.get('rx_drop_too_short') + pc.get('rx_drop_no_i_flag') + pc.get('rx_drop_reserved_bits') + pc.get('rx_drop_unknown_vni') + pc.get('rx_drop_truncated');
      const bad0 = malformed();
      decapBatch(this.w.peer, pdg, this.pout, this.nowMs);
      if (malformed() !== bad0) this.problem(`the receiving VTEP refused ${malformed() - bad0} of weft's datagrams as malformed`);
    }
  }

  /** The replay twin: OuterBuilder (replay --encap) wraps a datagram; OuterParser (replay --decap) must take it back whole. */
  private roundTrip(off: number, len: number, peer: number, srcPort: number): void {
    const dp = this.w.dp;
    if (!dp.peers.has(peer) || !dp.peers.isV4(peer)) return;
    if (this.builder?.dp !== dp) this.builder = { dp, b: new OuterBuilder(LOCAL_IP, dp.peers) };
    const rt = this.rt;
    this.pslab.copy(rt, 128, off, off + len);
    const start = this.builder.b.build(rt, 128, len, peer, srcPort);
    if (start < 0) { if (len + 28 <= 0xffff) this.problem(`OuterBuilder refused a ${len}-byte payload`); return; }
    const port = dp.peers.port(peer);
    let parser = this.rtParsers.get(port);
    if (!parser) { parser = new OuterParser(port); this.rtParsers.set(port, parser); }
    const ok = parser.parse(rt, start, 128 + len - start, this.rtBatch, 0);
    if (!ok || this.rtBatch.len[0] !== len || !rt.subarray(this.rtBatch.off[0], this.rtBatch.off[0] + len).equals(this.pslab.subarray(off, off + len))) {
      this.problem(`an outer frame OuterBuilder made did not parse back (${JSON.stringify(parser.counters())})`);
    }
  }

  /** A `weft capture` session, now and then, as the forwarder attaches one. */
  private capture(): CaptureSession | null {
    if (!this.r.chance(0.1)) return null;
    const dp = this.w.dp;
    if (this.captures?.dp !== dp) {
      const common = { count: Number.MAX_SAFE_INTEGER, sink: (b: Buffer) => { this.captured += b.length; }, backedUp: () => false, onFull: () => {} };
      this.captures = { dp, s: [new CaptureSession({ ...common, side: 'underlay', peers: dp.peers, local: LOCAL_IP, port: 8472 }), new CaptureSession({ ...common, side: 'overlay' })] };
    }
    return this.r.pick(this.captures.s);
  }

  // -- crashes ----------------------------------------------------------------

  private crashed(path: FuzzPath, e: Error, got: number): void {
    const inputs: Buffer[] = [];
    for (let i = 0; i < got; i++) {
      inputs.push(path === 'tap-read'
        ? Buffer.from(this.tap.slab.subarray(this.tap.rawOffs[i], this.tap.rawOffs[i] + Math.max(0, this.tap.rawLens[i])))
        : Buffer.from(this.dslab.subarray(this.inAt[i], this.inAt[i] + Math.max(0, this.inLen[i]))));
    }
    // Which one throws alone, on a fresh VTEP?
    let culprit: Buffer | null = null;
    for (const p of inputs) {
      try { replayOne(path, p, this.kind); } catch { culprit = p; break; }
    }
    const c: Crash = {
      path, error: (e.stack ?? String(e)).split('\n').slice(0, 4).join(' | '), batch: this.report.batches,
      input: culprit ?? Buffer.concat(inputs.flatMap((p) => { const l = Buffer.alloc(4); l.writeUInt32BE(p.length); return [l, p]; })),
      wholeBatch: culprit === null,
    };
    this.report.crashes.push(c);
    this.o.onCrash?.(c);
    // The state may be broken after an exception: carry on with a fresh VTEP.
    this.retire();
    this.w = newWorld(this.kind);
  }
}

/** Outcomes the outer parser counted: udp_csum_* only note how an accepted datagram's checksum was taken. */
function outcomes(p: OuterParser): number {
  return Object.entries(p.counters()).filter(([k]) => !k.startsWith('udp_csum_')).reduce((s, [, v]) => s + v, 0);
}
