// What the main thread and a forwarding worker (worker.ts) agree on: the
// start-up data a worker gets, the messages between them, and the layout of
// the stats block each worker fills for the main thread to sum (pool.ts).
//
// Counting costs a worker nothing more than with one thread: the data path's
// Counters and each VNI's traffic counters are arrays in shared memory the
// main thread allocated, counted into directly. What else operators read
// (TAP and socket offload stats, batch sizes, the last dropped source, the
// forwarding table's per-thread stats) the worker copies into its stats
// block every STATS_EVERY_MS and when it stops: a few dozen numbers, no
// allocation.

import type { DatapathOptions } from '../datapath/datapath.js';
import type { OpenedTap } from '../io/tap.js';
import type { OpenedUdp } from '../io/udp.js';
import type { SrcPortRange } from '../io/src-ports.js';
import type { CaptureSide } from '../capture/capture.js';
import { BATCH_BUCKETS, BATCH_DIRECTIONS } from '../datapath/batch-sizes.js';
import { newTapStats, type TapStats } from '../io/tap.js';

export const STATS_EVERY_MS = 250;

/** One overlay as a worker serves it: the VNI's settings, its flood list (peer ids) and this worker's TAP queue. */
export interface WorkerOverlay {
  vni: number;
  port: number;
  mtu: number;
  localMacs: number[];
  flood: number[];
  tap: OpenedTap;
  /** This worker's traffic counters for the VNI (VniState.counters). */
  counters: SharedArrayBuffer;
}

export interface WorkerData {
  index: number;
  /** The tables' memory, in the order the main thread's Datapath made it (fdb/mem.ts). */
  tables: SharedArrayBuffer[];
  dp: Omit<DatapathOptions, 'mem' | 'counters'>;
  overlays: WorkerOverlay[];
  /** The worker's socket, and the address and range its own pool of per-flow source sockets binds (io/src-ports.ts). */
  udp: OpenedUdp & { family: 4 | 6; address: string; srcPorts?: SrcPortRange };
  batch: number;
  mtu: number;
  /** The main thread's performance.timeOrigin: every thread stamps the shared tables on the main thread's clock. */
  timeOrigin: number;
  /** Counters (datapath/counters.ts). */
  counters: SharedArrayBuffer;
  /** The stats block (STATS_LEN float64s). */
  stats: SharedArrayBuffer;
  /** One int32: 1 while the main thread's capture reader is backed up. */
  captureBackedUp: SharedArrayBuffer;
}

/** Main → worker. */
export type ToWorker =
  | { stop: true }
  | { capture: { side: CaptureSide; count: number; local: string; port: number } }
  | { captureEnd: true };

/** Worker → main. */
export type FromWorker =
  | { ready: true }
  | { stopped: true }
  | { fatal: string; port: 'tap' | 'udp'; vni?: number }
  /** pcap records (no file header) and how many frames they hold. */
  | { capture: Uint8Array; frames: number };

// ---- the stats block ----

export const TAP_STAT_KEYS = Object.keys(newTapStats()) as (keyof TapStats)[];
export const UDP_STAT_KEYS = ['gsoMessages', 'gsoDatagrams', 'groMessages', 'groDatagrams'] as const;
export const FDB_STAT_KEYS = ['learned', 'moved', 'refreshed', 'full', 'staticConflicts'] as const;
const SLOTS = BATCH_BUCKETS.length + 1;

export const S_TAP = 0;
export const S_UDP = S_TAP + TAP_STAT_KEYS.length;
export const S_FDB = S_UDP + UDP_STAT_KEYS.length;
/** BatchSizes: buckets, then count, then sum. */
export const S_BATCH = S_FDB + FDB_STAT_KEYS.length;
export const S_BATCH_COUNT = S_BATCH + BATCH_DIRECTIONS.length * SLOTS;
export const S_BATCH_SUM = S_BATCH_COUNT + BATCH_DIRECTIONS.length;
/** Forwarder.lastDrop (5 words), then lastDropSeq. */
export const S_DROP = S_BATCH_SUM + BATCH_DIRECTIONS.length;
export const S_DROP_SEQ = S_DROP + 5;
/** The worker's per-flow source sockets: opened, and slots that found no free port (-1, -1: one port for all). */
export const S_SRC = S_DROP_SEQ + 1;
export const STATS_LEN = S_SRC + 2;
