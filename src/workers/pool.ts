// The main thread's side of `weft run --workers N` (N ≥ 2): opens one TAP
// queue per overlay and one SO_REUSEPORT socket per worker, starts the
// workers (worker.ts) on the main thread's tables, and stands in for the
// forwarding loop towards the operator's side (DaemonState.fwd): batch
// sizes, the last dropped source, capture, running.
//
// The kernel spreads the load: a multi-queue TAP picks the queue of a frame
// from its flow hash, and a socket group picks the socket of a datagram from
// its 4-tuple, so each flow stays on one worker (no reordering inside a
// flow), and flows from peers that vary the UDP source port per flow (as
// Linux's vxlan device does) spread over the workers.
//
// Every SUM_EVERY_MS the pool sums the workers' counters into the main
// thread's Datapath counters, VNI counters and forwarding-table stats, so
// metrics, `weft stats` and the status record read the totals as with one
// thread; `split()` gives each worker's own. The main thread ages the shared
// forwarding table; workers never do.

import { Worker } from 'node:worker_threads';
import type { Datapath, DatapathOptions } from '../datapath/datapath.js';
import { ageEvery, type CaptureHook, type OverlayKind } from '../datapath/forwarder.js';
import { BatchSizes } from '../datapath/batch-sizes.js';
import { COUNTER_NAMES, type CounterName } from '../datapath/counters.js';
import type { VniState } from '../datapath/vni.js';
import { newTapStats, openTapFd, type OpenedTap, type TapStats } from '../io/tap.js';
import { openUdpFd, type OpenedUdp } from '../io/udp.js';
import type { SrcPortRange } from '../io/src-ports.js';
import { native } from '../io/native.js';
import type { CaptureSession } from '../capture/capture.js';
import {
  FDB_STAT_KEYS, S_BATCH, S_BATCH_COUNT, S_BATCH_SUM, S_DROP, S_DROP_SEQ, S_FDB, S_SRC, S_TAP, S_UDP, STATS_LEN,
  TAP_STAT_KEYS, UDP_STAT_KEYS, type FromWorker, type ToWorker, type WorkerData,
} from './layout.js';

const SUM_EVERY_MS = 100;
/** How long a worker has to stop before it is terminated. */
const STOP_WAIT_MS = 2000;

export interface PoolOptions {
  workers: number;
  dp: Datapath;
  /** The options the main thread's Datapath was built with (without mem). */
  dpOptions: Omit<DatapathOptions, 'mem' | 'counters'>;
  /** The tables' memory (fdb/mem.ts sharedMem().buffers). */
  tables: SharedArrayBuffer[];
  overlays: { v: VniState; tap: string; localMacs: number[] }[];
  /** srcPorts: each worker's socket sends each flow from its own pool of ports of this range (io/src-ports.ts). */
  udp: { family: 4 | 6; address: string; port: number; srcPorts?: SrcPortRange };
  batch: number;
  mtu: number;
  offload: boolean;
  /** Called once the TAP queues of each overlay are open (the device exists), before the workers start: configure it. */
  configure: (tap: string, k: number) => void;
  onFatal: (err: Error, port: 'tap' | 'udp', vni?: number) => void;
}

/** One worker's share, for `weft stats`. */
export interface WorkerSplit { worker: number; counters: Partial<Record<CounterName, number>> }

interface Member { w: Worker; counters: Float64Array; vni: Float64Array[]; stats: Float64Array; exited: Promise<void> }

export class WorkerPool {
  readonly batchSizes = new BatchSizes();
  readonly lastDrop = new Uint32Array(5);
  lastDropSeq = 0;
  /** The TAPs' and the socket's offload state and stats, summed over workers (DaemonState.io). */
  readonly tap: { offload: boolean; uso: boolean; stats: TapStats };
  readonly udp: {
    gso: boolean; gro: boolean; gsoMessages: number; gsoDatagrams: number; groMessages: number; groDatagrams: number;
    srcPorts: { opened: number; fallbacks: number } | null;
  };
  readonly port: number;
  private readonly members: Member[] = [];
  private readonly backedUp = new Int32Array(new SharedArrayBuffer(4));
  private session: CaptureSession | null = null;
  private stopped = false;
  private sumTimer: NodeJS.Timeout | null = null;
  private ageTimer: NodeJS.Timeout | null = null;
  private readonly dropSeqs: number[] = [];

  private constructor(private readonly o: PoolOptions, taps: OpenedTap[][], udps: OpenedUdp[]) {
    const t0 = taps[0][0], u0 = udps[0];
    this.tap = { offload: t0.offload, uso: t0.uso, stats: newTapStats() };
    this.udp = { gso: u0.gso, gro: u0.gro, gsoMessages: 0, gsoDatagrams: 0, groMessages: 0, groDatagrams: 0, srcPorts: o.udp.srcPorts ? { opened: 0, fallbacks: 0 } : null };
    this.port = u0.port;
    for (let w = 0; w < o.workers; w++) {
      const counters = new SharedArrayBuffer(COUNTER_NAMES.length * 8);
      const vni = o.overlays.map(() => new SharedArrayBuffer(4 * 8));
      const stats = new SharedArrayBuffer(STATS_LEN * 8);
      const data: WorkerData = {
        index: w, tables: o.tables, dp: o.dpOptions, batch: o.batch, mtu: o.mtu, timeOrigin: performance.timeOrigin,
        udp: { ...udps[w], family: o.udp.family, address: o.udp.address, srcPorts: o.udp.srcPorts }, counters, stats, captureBackedUp: this.backedUp.buffer as SharedArrayBuffer,
        overlays: o.overlays.map((ov, k) => ({
          vni: ov.v.vni, port: ov.v.port, mtu: ov.v.mtu, localMacs: ov.localMacs,
          flood: Array.from(ov.v.flood.ids.subarray(0, ov.v.flood.count)), tap: taps[w][k], counters: vni[k],
        })),
      };
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      this.members.push({ w: worker, counters: new Float64Array(counters), vni: vni.map((b) => new Float64Array(b)), stats: new Float64Array(stats), exited });
      this.dropSeqs.push(0);
    }
  }

  /** Opens every worker's queues and socket, starts the workers and resolves once all forward. */
  static async start(o: PoolOptions): Promise<WorkerPool> {
    const taps: OpenedTap[][] = [];
    const udps: OpenedUdp[] = [];
    const closeAll = () => { for (const fd of [...taps.flat(), ...udps].map((x) => x.fd)) native().close(fd); };
    try {
      for (let w = 0; w < o.workers; w++) {
        // The first socket may pick the port (port 0); the others join its group.
        udps.push(openUdpFd({ ...o.udp, port: w === 0 ? o.udp.port : udps[0].port, reusePort: true, offload: o.offload }));
        taps.push(o.overlays.map((ov) => openTapFd({ name: ov.tap, offload: o.offload, multiQueue: true })));
        if (w === 0) o.overlays.forEach((ov, k) => o.configure(taps[0][k].name, k));
      }
    } catch (e) {
      closeAll();
      throw e;
    }
    const pool = new WorkerPool(o, taps, udps);
    await pool.ready();
    return pool;
  }

  private ready(): Promise<void> {
    let waiting = this.members.length;
    return new Promise<void>((resolve, reject) => {
      this.members.forEach((m) => {
        m.w.on('message', (msg: FromWorker) => {
          if ('ready' in msg && --waiting === 0) resolve();
          else if ('fatal' in msg) this.fail(new Error(msg.fatal), msg.port, msg.vni);
          else if ('capture' in msg) this.relay(msg.capture, msg.frames);
        });
        m.w.on('error', (err) => {
          if (waiting > 0) { waiting = -1; void this.stop().then(() => reject(err)); } else this.fail(err, 'udp');
        });
      });
    }).then(() => {
      this.sumTimer = setInterval(() => this.sum(), SUM_EVERY_MS);
      this.sumTimer.unref();
      const fdb = this.o.dp.fdb;
      this.ageTimer = setInterval(() => fdb.age(performance.now()), ageEvery(fdb.ageingMs));
      this.ageTimer.unref();
    });
  }

  private fail(err: Error, port: 'tap' | 'udp', vni?: number): void {
    if (this.stopped) return;
    void this.stop();
    this.o.onFatal(err, port, vni);
  }

  get running(): boolean { return !this.stopped; }

  /** The workers forward over TAP queues: Ethernet frames. */
  readonly overlay: OverlayKind = 'ethernet';

  /** The capture running in the workers (admin/commands.ts sets and clears it, as on a Forwarder). */
  get capture(): CaptureHook | null { return this.session; }

  set capture(hook: CaptureHook | null) {
    const s = hook as CaptureSession | null;
    if (s === this.session) return;
    this.session = s;
    if (s === null) { this.tell({ captureEnd: true }); return; }
    this.tell({ capture: { side: s.side, count: s.remaining, local: s.local, port: s.port } });
  }

  private relay(records: Uint8Array, frames: number): void {
    const s = this.session;
    if (s === null) return;
    s.relay(Buffer.from(records.buffer, records.byteOffset, records.byteLength), frames);
    Atomics.store(this.backedUp, 0, s.isBackedUp() ? 1 : 0);
  }

  private tell(m: ToWorker): void {
    for (const { w } of this.members) w.postMessage(m);
  }

  /** Adds the workers' counters and stats into the main thread's (what operators read). */
  sum(): void {
    const { dp, overlays } = this.o;
    const c = dp.counters.v;
    c.fill(0);
    for (const o of overlays) o.v.counters.fill(0);
    const t = this.tap.stats as unknown as Record<string, number>;
    for (const k of TAP_STAT_KEYS) t[k] = 0;
    for (const k of UDP_STAT_KEYS) this.udp[k] = 0;
    const f = dp.fdb.stats;
    for (const k of FDB_STAT_KEYS) f[k] = 0;
    this.batchSizes.buckets.fill(0); this.batchSizes.count.fill(0); this.batchSizes.sum.fill(0);
    let seq = 0;
    const sp = this.udp.srcPorts;
    if (sp) sp.opened = sp.fallbacks = 0;
    this.members.forEach((m, w) => {
      for (let i = 0; i < c.length; i++) c[i] += m.counters[i];
      overlays.forEach((o, k) => { for (let i = 0; i < 4; i++) o.v.counters[i] += m.vni[k][i]; });
      const s = m.stats;
      TAP_STAT_KEYS.forEach((k, i) => { t[k] += s[S_TAP + i]; });
      UDP_STAT_KEYS.forEach((k, i) => { this.udp[k] += s[S_UDP + i]; });
      FDB_STAT_KEYS.forEach((k, i) => { f[k] += s[S_FDB + i]; });
      const b = this.batchSizes;
      for (let i = 0; i < b.buckets.length; i++) b.buckets[i] += s[S_BATCH + i];
      for (let i = 0; i < b.count.length; i++) { b.count[i] += s[S_BATCH_COUNT + i]; b.sum[i] += s[S_BATCH_SUM + i]; }
      if (s[S_DROP_SEQ] !== this.dropSeqs[w]) {
        this.dropSeqs[w] = s[S_DROP_SEQ];
        for (let i = 0; i < 5; i++) this.lastDrop[i] = s[S_DROP + i];
      }
      seq += s[S_DROP_SEQ];
      if (sp && s[S_SRC] >= 0) { sp.opened += s[S_SRC]; sp.fallbacks += s[S_SRC + 1]; }
    });
    this.lastDropSeq = seq;
  }

  /** Each worker's non-zero counters. */
  split(): WorkerSplit[] {
    return this.members.map((m, worker) => {
      const counters: WorkerSplit['counters'] = {};
      COUNTER_NAMES.forEach((n, i) => { if (m.counters[i] !== 0) counters[n] = m.counters[i]; });
      return { worker, counters };
    });
  }

  /** Stops every worker (each closes its queues and socket) and waits for them; the last TAP queue closed removes the device. */
  async stop(): Promise<void> {
    if (this.stopped) return Promise.all(this.members.map((m) => m.exited)).then(() => {});
    this.stopped = true;
    if (this.sumTimer) clearInterval(this.sumTimer);
    if (this.ageTimer) clearInterval(this.ageTimer);
    this.tell({ stop: true });
    await Promise.all(this.members.map(async (m) => {
      const t = setTimeout(() => void m.w.terminate(), STOP_WAIT_MS);
      await m.exited;
      clearTimeout(t);
    }));
    this.sum();
  }
}
