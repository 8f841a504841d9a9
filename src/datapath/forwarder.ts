// The forwarding loop: the one place where I/O meets the data path. It reads
// like the two journeys in datapath.ts (file by file: docs/architecture.md).
//
//   TAP readable  → tap.read(frames) → encap → udp.send(sends)
//                                            ↘ answerTooBig → tap.write(replies)
//   UDP readable  → udp.recv(dgrams) → decap → by VNI → tap.write(inner)
//
// One UDP socket serves one or more overlays ("lanes"): a VNI and its TAP.
// Frames read from a lane's TAP are encapsulated on its VNI; frames decap
// delivers carry their VNI and are written to that VNI's TAP only, so
// frames never cross VNIs (a VNI without a lane here has nowhere to go:
// rx_drop_tap).
//
// Each readiness callback moves at most MAX_BATCHES_PER_WAKE batches and then
// returns to the event loop, so one busy direction cannot starve the other
// (readiness is level-triggered: the callback comes straight back if more is
// waiting). Learned entries age on a timer, driven by a monotonic clock; a
// driver that runs the clock itself (`weft replay`, whose clock is the
// capture's) turns the timer off and calls ageIfDue() between wake-ups.
//
// What operators see of the loop costs a few typed-array adds per batch:
// batch sizes (`batchSizes`, exported on scrape), the source of the latest
// datagram decap dropped (`lastDrop`, for a rate-limited warning), and a
// capture hook that is null unless `weft capture` runs.

import type { Datapath } from './datapath.js';
import type { VniState } from './vni.js';
import { DatagramBatch, FrameBatch, SendList } from '../io/batch.js';
import { C } from './counters.js';
import { encapBatch } from './encap.js';
import { decapBatch } from './decap.js';
import { answerTooBig, newReplyBatch } from './pmtu.js';
import { BatchSizes, TAP_TO_WIRE, WIRE_TO_TAP } from './batch-sizes.js';
import type { FramePort, DatagramPort } from '../io/ports.js';

const MAX_BATCHES_PER_WAKE = 8;

/** How often learned entries are aged, for an ageing time: a tenth of it, 1–30 s. */
export function ageEvery(ageingMs: number): number {
  return Math.min(30_000, Math.max(1000, ageingMs / 10));
}

export interface ForwarderOptions {
  batch?: number;
  /** How often learned entries are aged (default: a tenth of the ageing time, 1–30 s). */
  ageEveryMs?: number;
  /** Clock in ms, monotonic; an argument so tests and replay can drive it. */
  now?: () => number;
  /**
   * Age learned entries on a timer every ageEveryMs (default true). False:
   * no timer; whoever drives `now` calls ageIfDue() (replay, where the
   * timer's wall-clock time would not be the capture's).
   */
  ageOnTimer?: boolean;
  /**
   * Have encap fill each datagram's UDP source port from its inner flow
   * (SendList.wantSrcPort). Default false: a socket bound to one port sends
   * from that port whatever is asked, so the hash would be wasted; a port
   * that writes the source port (replay's) turns it on.
   */
  flowSourcePorts?: boolean;
  /** The range those ports come from (default: Linux's, SRC_PORT_MIN–SRC_PORT_MAX); implies flowSourcePorts. */
  srcPortRange?: { min: number; max: number };
  /** A port failed for good (e.g. the TAP was deleted): the loop has stopped. `vni` says whose TAP. */
  onFatal?: (err: Error, port: 'tap' | 'udp', vni?: number) => void;
}

/**
 * What `weft capture` attaches to a forwarding loop (this one or the udp
 * backend's, udp-loop.ts). Called only while a capture runs, once per batch
 * at each of four points: what a port handed over, before any stage looked
 * at it (stages change packets in place: the udp backend's TTL, decap's ECN
 * mark), and what the stages made for a port. The batches are views of
 * slabs the next read reuses: a hook copies what it keeps and changes nothing.
 */
export interface CaptureHook {
  /** The frames (or bare IP packets) the overlay port's read returned. */
  fromTap(frames: FrameBatch): void;
  /** The datagrams sent: the send list (views into `slab`) after the socket's send, which writes back the source ports it used. */
  toWire(sends: SendList, slab: Buffer): void;
  /** The datagrams the socket's receive returned. */
  fromWire(dgrams: DatagramBatch): void;
  /** The frames for the overlay port (views into the socket's slab), before it is written. */
  toTap(frames: FrameBatch): void;
}

/**
 * What a loop's overlay port carries, which a capture's overlay side writes
 * as its link type: Ethernet frames (a TAP) or bare IPv4 packets (the udp
 * backend's TUN).
 */
export type OverlayKind = 'ethernet' | 'ipv4';

/** One overlay the loop serves: a VNI and the TAP its frames come from and go to. */
interface Lane {
  v: VniState;
  tap: FramePort;
  /** The frames of one decap batch that go to this TAP (views into the socket's slab). */
  out: FrameBatch;
}

export class Forwarder {
  /** Packets per read, per direction. */
  readonly batchSizes = new BatchSizes();
  /**
   * The underlay source of the latest datagram decap dropped: address words
   * (IPv4-mapped) and UDP port; `lastDropSeq` counts the batches that had drops.
   */
  readonly lastDrop = new Uint32Array(5);
  lastDropSeq = 0;
  /** Set by `weft capture` while it runs; null otherwise. */
  capture: CaptureHook | null = null;
  readonly overlay: OverlayKind = 'ethernet';
  private readonly lanes: Lane[] = [];
  private readonly batch: number;
  private readonly frames: FrameBatch;
  private sends: SendList;
  private readonly dgrams: DatagramBatch;
  private readonly inner: FrameBatch;
  /** ICMP answers to too-big frames (pmtu.ts), written into the TAP they came from. */
  private readonly replies = newReplyBatch();
  private readonly now: () => number;
  private ageTimer: NodeJS.Timeout | null = null;
  private readonly ageEveryMs: number;
  private readonly ageOnTimer: boolean;
  /** When ageIfDue() last aged (loop clock); NaN until its first call. */
  private lastAgedMs = NaN;
  private readonly flowSourcePorts: boolean;
  private readonly srcPortRange: { min: number; max: number } | null;
  private readonly onFatal: (err: Error, port: 'tap' | 'udp', vni?: number) => void;
  private stopped = false;

  /** The loop for `v` on `tap` over `udp`; addOverlay adds more VNIs with their TAPs. */
  constructor(
    private readonly dp: Datapath,
    v: VniState,
    tap: FramePort,
    private readonly udp: DatagramPort,
    opts: ForwarderOptions = {},
  ) {
    const batch = this.batch = opts.batch ?? 64;
    this.srcPortRange = opts.srcPortRange ?? null;
    this.flowSourcePorts = (opts.flowSourcePorts ?? false) || this.srcPortRange !== null;
    this.frames = new FrameBatch(batch);
    this.sends = this.sendList(v.flood.count);
    this.dgrams = new DatagramBatch(batch);
    this.inner = new FrameBatch(batch);
    this.addOverlay(v, tap);
    this.now = opts.now ?? (() => performance.now());
    this.ageEveryMs = opts.ageEveryMs ?? ageEvery(dp.fdb.ageingMs);
    this.ageOnTimer = opts.ageOnTimer ?? true;
    this.onFatal = opts.onFatal ?? ((err) => { throw err; });
  }

  /**
   * Another overlay on the same socket: frames from `tap` go out on `v`, and
   * frames decap delivers on `v` go to `tap`. Before start().
   */
  addOverlay(v: VniState, tap: FramePort): void {
    if (this.lanes.some((l) => l.v.vni === v.vni)) throw new Error(`VNI ${v.vni} has a TAP already`);
    this.lanes.push({ v, tap, out: new FrameBatch(this.batch) });
    const flood = Math.max(...this.lanes.map((l) => l.v.flood.count));
    if (this.sends.capacity < this.batch * Math.max(8, flood + 1)) this.sends = this.sendList(flood);
  }

  /** The VNIs served, in the order they were added. */
  get vnis(): number[] { return this.lanes.map((l) => l.v.vni); }

  private sendList(flood: number): SendList {
    // A flooded frame becomes one datagram per peer (peers added later too: room for 8).
    const s = new SendList(this.batch * Math.max(8, flood + 1));
    s.wantSrcPort = this.flowSourcePorts;
    if (this.srcPortRange !== null) { s.srcPortMin = this.srcPortRange.min; s.srcPortMax = this.srcPortRange.max; }
    return s;
  }

  start(): void {
    // A readiness error or a failing system call (the device deleted, the
    // socket closed under us) ends the loop and is reported once; it never
    // escapes as an uncaught exception.
    // The loops are made once here: a closure made per wake-up is garbage per wake-up.
    for (const lane of this.lanes) {
      const loop = () => this.tapToWire(lane);
      lane.tap.onReadable((err?: Error) => this.guard('tap', err, loop, lane.v.vni));
    }
    const loop = () => this.wireToTap();
    this.udp.onReadable((err?: Error) => this.guard('udp', err, loop));
    if (!this.ageOnTimer) return;
    this.ageTimer = setInterval(() => this.dp.fdb.age(this.now()), this.ageEveryMs);
    this.ageTimer.unref();
  }

  /**
   * Ages learned entries when ageEveryMs has passed on the loop's clock since
   * the last time (the first call only starts the count), as the timer would
   * have; returns whether it aged. For a loop built with ageOnTimer false.
   */
  ageIfDue(): boolean {
    if (this.stopped) return false;
    const now = this.now();
    if (Number.isNaN(this.lastAgedMs)) { this.lastAgedMs = now; return false; }
    if (now - this.lastAgedMs < this.ageEveryMs) return false;
    this.lastAgedMs = now;
    this.dp.fdb.age(now);
    return true;
  }

  private guard(port: 'tap' | 'udp', err: Error | undefined, fn: () => void, vni?: number): void {
    if (this.stopped) return;
    try {
      if (err) throw err;
      fn();
    } catch (e) {
      this.stop();
      this.onFatal(e as Error, port, vni);
    }
  }

  /** TAP → wire: read frames from one lane's TAP, encapsulate, send; answer the too big. */
  private tapToWire(lane: Lane): void {
    const c = this.dp.counters.v;
    for (let k = 0; k < MAX_BATCHES_PER_WAKE; k++) {
      const n = lane.tap.read(this.frames);
      if (n === 0) return;
      this.batchSizes.observe(TAP_TO_WIRE, n);
      if (this.capture !== null) this.capture.fromTap(this.frames);
      const now = this.now();
      encapBatch(this.dp, lane.v, this.frames, this.sends, now);
      const sent = this.udp.send(this.sends, this.dp.peers, this.frames.buf);
      if (sent < this.sends.count) c[C.tx_drop_socket] += this.sends.count - sent;
      if (this.sends.tooBigCount > 0 && answerTooBig(this.dp, lane.v, this.frames, this.sends, this.replies, now) > 0) {
        c[C.icmp_too_big_sent] += lane.tap.write(this.replies);
      }
      if (this.capture !== null) this.capture.toWire(this.sends, this.frames.buf);
      if (n < this.frames.capacity) return;
    }
  }

  /** wire → TAP: receive datagrams, decapsulate and learn, write each inner frame to its VNI's TAP. */
  private wireToTap(): void {
    const c = this.dp.counters.v;
    for (let k = 0; k < MAX_BATCHES_PER_WAKE; k++) {
      const n = this.udp.recv(this.dgrams);
      if (n === 0) return;
      this.batchSizes.observe(WIRE_TO_TAP, n);
      if (this.capture !== null) this.capture.fromWire(this.dgrams);
      const passed = c[C.rx_frames];
      decapBatch(this.dp, this.dgrams, this.inner, this.now());
      if (c[C.rx_frames] - passed !== n) this.noteDrop();
      if (this.capture !== null) this.capture.toTap(this.inner);
      this.route();
      if (n < this.dgrams.capacity) return;
    }
  }

  /** Splits decap's output by VNI and writes each part to its lane's TAP, in order. */
  private route(): void {
    const c = this.dp.counters.v;
    const inner = this.inner, lanes = this.lanes;
    // One lane, and every frame on its VNI (the common case): decap's
    // output goes to the TAP as it is, not copied entry by entry first.
    if (lanes.length === 1) {
      const vni = lanes[0].v.vni, vnis = inner.vni, n = inner.count;
      let j = 0;
      while (j < n && vnis[j] === vni) j++;
      if (j === n) {
        if (n > 0) this.write(lanes[0].tap, inner);
        return;
      }
    }
    for (let l = 0; l < lanes.length; l++) {
      lanes[l].out.buf = inner.buf;
      lanes[l].out.count = 0;
    }
    for (let j = 0; j < inner.count; j++) {
      const vni = inner.vni[j];
      let l = 0;
      while (l < lanes.length && lanes[l].v.vni !== vni) l++;
      if (l === lanes.length) { c[C.rx_drop_tap]++; continue; }
      lanes[l].out.push(inner.off[j], inner.len[j], vni, inner.from[j]);
    }
    for (let l = 0; l < lanes.length; l++) {
      const out = lanes[l].out;
      if (out.count > 0) this.write(lanes[l].tap, out);
    }
  }

  /** Writes `frames` to `tap`; what it did not take is counted. */
  private write(tap: FramePort, frames: FrameBatch): void {
    const written = tap.write(frames);
    if (written < frames.count) this.dp.counters.v[C.rx_drop_tap] += frames.count - written;
  }

  /** Remembers the source of the last datagram of this batch that decap dropped. */
  private noteDrop(): void {
    const d = this.dgrams, from = this.inner.from, kept = this.inner.count;
    let j = 0, dropped = -1;
    for (let i = 0; i < d.count; i++) {
      if (j < kept && from[j] === i) j++;
      else dropped = i;
    }
    if (dropped < 0) return;
    const a = dropped * 4;
    this.lastDrop[0] = d.srcAddr[a]; this.lastDrop[1] = d.srcAddr[a + 1];
    this.lastDrop[2] = d.srcAddr[a + 2]; this.lastDrop[3] = d.srcAddr[a + 3];
    this.lastDrop[4] = d.srcPort[dropped];
    this.lastDropSeq++;
  }

  /**
   * Stops reading from every port until resume(); what arrives waits in the
   * kernel's queues. Called from the event loop, never from inside a batch,
   * so the loop is always paused between batches (a handover, persist/).
   */
  pause(): void {
    for (const lane of this.lanes) lane.tap.pauseReading?.();
    this.udp.pauseReading?.();
  }

  resume(): void {
    if (this.stopped) return;
    for (const lane of this.lanes) lane.tap.resumeReading?.();
    this.udp.resumeReading?.();
  }

  /** False once stopped (by stop() or a failed port). */
  get running(): boolean { return !this.stopped; }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ageTimer) clearInterval(this.ageTimer);
    this.ageTimer = null;
    for (const lane of this.lanes) lane.tap.close();
    this.udp.close();
  }
}
