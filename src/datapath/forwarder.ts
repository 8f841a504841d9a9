// The forwarding loop: the one place where I/O meets the data path. It reads
// like the two journeys in datapath.ts.
//
//   TAP readable  → tap.read(frames) → encap → udp.send(sends)
//   UDP readable  → udp.recv(dgrams) → decap → tap.write(inner)
//
// Each readiness callback moves at most MAX_BATCHES_PER_WAKE batches and then
// returns to the event loop, so one busy direction cannot starve the other
// (readiness is level-triggered: the callback comes straight back if more is
// waiting). Learned entries age on a timer, driven by a monotonic clock.
//
// What operators see of the loop costs a few typed-array adds per batch:
// batch sizes (`batchSizes`, exported on scrape), the source of the latest
// datagram decap dropped (`lastDrop`, for a rate-limited warning), and a
// capture hook that is null unless `weft capture` runs.

import type { Datapath } from './datapath.js';
import type { VniState } from './vni.js';
import { DatagramBatch, FrameBatch, SendList } from './batch.js';
import { C } from './counters.js';
import { BatchSizes, TAP_TO_WIRE, WIRE_TO_TAP } from './batch-sizes.js';
import type { FramePort, DatagramPort } from '../io/ports.js';

const MAX_BATCHES_PER_WAKE = 8;

export interface ForwarderOptions {
  batch?: number;
  /** How often learned entries are aged (default: a tenth of the ageing time, 1–30 s). */
  ageEveryMs?: number;
  /** Clock in ms, monotonic; an argument so tests can drive it. */
  now?: () => number;
  /** A port failed for good (e.g. the TAP was deleted): the loop has stopped. */
  onFatal?: (err: Error, port: 'tap' | 'udp') => void;
}

/**
 * What `weft capture` attaches to the loop. Called once per batch and only
 * while a capture runs. The batches are views of slabs the next read reuses:
 * a hook copies what it keeps and changes nothing.
 */
export interface CaptureHook {
  /** TAP → wire: the frames read from the TAP, and the datagrams encap made of them (views into frames.buf). */
  tapToWire(frames: FrameBatch, sends: SendList): void;
  /** wire → TAP: the datagrams received, and the inner frames decap let through (views into dgrams.buf). */
  wireToTap(dgrams: DatagramBatch, inner: FrameBatch): void;
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
  private readonly frames: FrameBatch;
  private readonly sends: SendList;
  private readonly dgrams: DatagramBatch;
  private readonly inner: FrameBatch;
  private readonly now: () => number;
  private ageTimer: NodeJS.Timeout | null = null;
  private readonly ageEveryMs: number;
  private readonly onFatal: (err: Error, port: 'tap' | 'udp') => void;
  private stopped = false;

  constructor(
    private readonly dp: Datapath,
    private readonly v: VniState,
    private readonly tap: FramePort,
    private readonly udp: DatagramPort,
    opts: ForwarderOptions = {},
  ) {
    const batch = opts.batch ?? 64;
    this.frames = new FrameBatch(batch);
    // A flooded frame becomes one datagram per peer (peers added later too: room for 8).
    this.sends = new SendList(batch * Math.max(8, v.flood.count + 1));
    this.sends.wantSrcPort = false;
    this.dgrams = new DatagramBatch(batch);
    this.inner = new FrameBatch(batch);
    this.now = opts.now ?? (() => performance.now());
    this.ageEveryMs = opts.ageEveryMs ?? Math.min(30_000, Math.max(1000, dp.fdb.ageingMs / 10));
    this.onFatal = opts.onFatal ?? ((err) => { throw err; });
  }

  start(): void {
    // A readiness error or a failing system call (the device deleted, the
    // socket closed under us) ends the loop and is reported once; it never
    // escapes as an uncaught exception.
    this.tap.onReadable((err?: Error) => this.guard('tap', err, () => this.tapToWire()));
    this.udp.onReadable((err?: Error) => this.guard('udp', err, () => this.wireToTap()));
    this.ageTimer = setInterval(() => this.dp.fdb.age(this.now()), this.ageEveryMs);
    this.ageTimer.unref();
  }

  private guard(port: 'tap' | 'udp', err: Error | undefined, fn: () => void): void {
    if (this.stopped) return;
    try {
      if (err) throw err;
      fn();
    } catch (e) {
      this.stop();
      this.onFatal(e as Error, port);
    }
  }

  /** TAP → wire: read frames, encapsulate, send. */
  tapToWire(): void {
    const c = this.dp.counters.v;
    for (let k = 0; k < MAX_BATCHES_PER_WAKE; k++) {
      const n = this.tap.read(this.frames);
      if (n === 0) return;
      this.batchSizes.observe(TAP_TO_WIRE, n);
      this.dp.encap(this.v, this.frames, this.sends);
      const sent = this.udp.send(this.sends, this.dp.peers, this.frames.buf);
      if (sent < this.sends.count) c[C.tx_drop_socket] += this.sends.count - sent;
      if (this.capture !== null) this.capture.tapToWire(this.frames, this.sends);
      if (n < this.frames.capacity) return;
    }
  }

  /** wire → TAP: receive datagrams, decapsulate and learn, write inner frames. */
  wireToTap(): void {
    const c = this.dp.counters.v;
    for (let k = 0; k < MAX_BATCHES_PER_WAKE; k++) {
      const n = this.udp.recv(this.dgrams);
      if (n === 0) return;
      this.batchSizes.observe(WIRE_TO_TAP, n);
      const passed = c[C.rx_frames];
      this.dp.decap(this.dgrams, this.inner, this.now());
      if (c[C.rx_frames] - passed !== n) this.noteDrop();
      if (this.capture !== null) this.capture.wireToTap(this.dgrams, this.inner);
      const written = this.tap.write(this.inner);
      if (written < this.inner.count) c[C.rx_drop_tap] += this.inner.count - written;
      if (n < this.dgrams.capacity) return;
    }
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

  /** False once stopped (by stop() or a failed port). */
  get running(): boolean { return !this.stopped; }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ageTimer) clearInterval(this.ageTimer);
    this.ageTimer = null;
    this.tap.close();
    this.udp.close();
  }
}
