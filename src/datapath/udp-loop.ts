// The udp backend's forwarding loop: the TUN and the UDP socket wired to the
// two stages of udp-backend.ts. The same shape as forwarder.ts (which stays
// the VXLAN journey's), with one overlay and no learning:
//
//   TUN readable → tun.read(pkts) → tunToWireBatch → udp.send(sends)
//                                                  ↘ tun.write(replies)
//   UDP readable → udp.recv(dgrams) → wireToTunBatch → tun.write(inner)
//                                                    ↘ tun.write(replies)
//
// With the TUN's offloads (io/tun.ts) read cuts super-packets and write
// merges segments, so the stages still see one IPv4 packet each; a cut
// segment's payload stays in the TUN's slab (its tail) until the send that
// gathers it returns, before the next read.
//
// Each readiness callback moves at most MAX_BATCHES_PER_WAKE batches, then
// returns to the event loop, so one busy direction cannot starve the other.
// What operators see of it (batch sizes, the source of the latest dropped
// datagram, `running`) has the Forwarder's names, so the daemon's state,
// metrics and control socket read either loop alike.

import type { Datapath } from './datapath.js';
import { DatagramBatch, FrameBatch, SendList } from '../io/batch.js';
import type { DatagramPort, FramePort } from '../io/ports.js';
import { C } from './counters.js';
import { newReplyBatch } from './pmtu.js';
import { BatchSizes, TAP_TO_WIRE, WIRE_TO_TAP } from './batch-sizes.js';
import { tunToWireBatch, wireToTunBatch, type UdpBackend } from './udp-backend.js';
import type { CaptureHook } from './forwarder.js';

const MAX_BATCHES_PER_WAKE = 8;

export interface UdpLoopOptions {
  batch?: number;
  /** Clock in ms, monotonic: the ICMP rate limit's. */
  now?: () => number;
  /** A port failed for good (the TUN deleted, the socket closed): the loop has stopped. */
  onFatal?: (err: Error, port: 'tap' | 'udp') => void;
}

export class UdpLoop {
  readonly batchSizes = new BatchSizes();
  /** The underlay source of the latest datagram dropped: address words and port; lastDropSeq counts batches with drops. */
  readonly lastDrop = new Uint32Array(5);
  lastDropSeq = 0;
  /** `weft capture` is not offered for the udp backend yet: none runs, and starting one says so. */
  get capture(): CaptureHook | null { return null; }
  set capture(hook: CaptureHook | null) {
    if (hook !== null) throw new Error('capture: not offered for the udp backend yet');
  }
  private readonly dp: Datapath;
  private readonly pkts: FrameBatch;
  private readonly sends: SendList;
  private readonly dgrams: DatagramBatch;
  private readonly inner: FrameBatch;
  private readonly replies = newReplyBatch();
  private readonly now: () => number;
  private readonly onFatal: (err: Error, port: 'tap' | 'udp') => void;
  private stopped = false;

  constructor(private readonly be: UdpBackend, private readonly tun: FramePort, private readonly udp: DatagramPort, opts: UdpLoopOptions = {}) {
    const batch = opts.batch ?? 64;
    this.dp = be.dp;
    this.pkts = new FrameBatch(batch);
    this.sends = new SendList(batch);
    this.sends.wantSrcPort = false;
    this.dgrams = new DatagramBatch(batch);
    this.inner = new FrameBatch(batch);
    this.now = opts.now ?? (() => performance.now());
    this.onFatal = opts.onFatal ?? ((err) => { throw err; });
  }

  start(): void {
    const out = () => this.tunToWire();
    const back = () => this.wireToTun();
    this.tun.onReadable((err?: Error) => this.guard('tap', err, out));
    this.udp.onReadable((err?: Error) => this.guard('udp', err, back));
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

  /** TUN → wire: read packets, route, send; answer those with no route or no TTL left. */
  tunToWire(): void {
    const c = this.dp.counters.v;
    for (let k = 0; k < MAX_BATCHES_PER_WAKE; k++) {
      const n = this.tun.read(this.pkts);
      if (n === 0) return;
      this.batchSizes.observe(TAP_TO_WIRE, n);
      tunToWireBatch(this.be, this.pkts, this.sends, this.replies, this.now());
      const sent = this.udp.send(this.sends, this.dp.peers, this.pkts.buf);
      if (sent < this.sends.count) c[C.tx_drop_socket] += this.sends.count - sent;
      if (this.replies.count > 0) this.tun.write(this.replies);
      if (n < this.pkts.capacity) return;
    }
  }

  /** wire → TUN: receive datagrams, check them, write their packets into the TUN. */
  wireToTun(): void {
    const c = this.dp.counters.v;
    for (let k = 0; k < MAX_BATCHES_PER_WAKE; k++) {
      const n = this.udp.recv(this.dgrams);
      if (n === 0) return;
      this.batchSizes.observe(WIRE_TO_TAP, n);
      const dropped = wireToTunBatch(this.be, this.dgrams, this.inner, this.replies, this.now());
      if (dropped >= 0) this.noteDrop(dropped);
      if (this.inner.count > 0) {
        const written = this.tun.write(this.inner);
        if (written < this.inner.count) c[C.rx_drop_tap] += this.inner.count - written;
      }
      if (this.replies.count > 0) this.tun.write(this.replies);
      if (n < this.dgrams.capacity) return;
    }
  }

  /** Remembers the source of datagram `i`, the batch's last dropped. */
  private noteDrop(i: number): void {
    const a = i * 4, d = this.dgrams, last = this.lastDrop;
    last[0] = d.srcAddr[a]; last[1] = d.srcAddr[a + 1]; last[2] = d.srcAddr[a + 2]; last[3] = d.srcAddr[a + 3];
    last[4] = d.srcPort[i];
    this.lastDropSeq++;
  }

  /** False once stopped (by stop() or a failed port). */
  get running(): boolean { return !this.stopped; }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.tun.close();
    this.udp.close();
  }
}
