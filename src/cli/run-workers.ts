// `weft run --workers N` (N ≥ 2): the forwarding moves into N threads
// (workers/pool.ts), each with its own TAP queue per overlay and its own
// SO_REUSEPORT socket, on the main thread's shared tables; the main thread
// keeps the control plane, the control socket, /metrics and the log.

import type { Datapath, DatapathOptions } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import { configureTap } from '../io/link.js';
import { anyAddress } from '../wire/ipv6.js';
import { RuntimeError, UsageError } from '../config/errors.js';
import type { SrcPortRange } from '../io/src-ports.js';
import { netdevExists } from '../io/native-errors.js';
import type { PersistConfig } from '../config/persist-config.js';
import { WorkerPool } from '../workers/pool.js';
import type { RunConfig } from '../config/run-config.js';
import { openErrorLine, type RunningLoop } from './run.js';

export const WORKERS_HELP = `  --workers N          forwarding threads (default 1: the loop runs on the
                       main thread). Each worker has its own queue of a
                       multi-queue TAP and its own SO_REUSEPORT socket; the
                       kernel keeps each flow on one worker (no reordering)
                       and spreads flows over them: flows from the host by
                       their hash, datagrams by their UDP 4-tuple (so a peer
                       spreads only as far as it varies its source port per
                       flow, as Linux's vxlan device does). One forwarding
                       table, peer table, allow-list and BUM budget for all;
                       counters summed (weft stats shows each worker's).
                       N > 1 makes a new TAP and goes with it: no
                       --takeover, no --keep-tap, no reattach`;

/**
 * Why these options cannot run with several workers, as the one line that
 * says so (a UsageError, exit 2); nothing with --workers 1. A handover
 * passes one TAP fd and one socket, and a persistent TAP has one queue: a
 * multi-queue TAP is made new by the workers and goes with them.
 */
export function workersRefusal(cfg: { workers: number; persist: PersistConfig }): void {
  if (cfg.workers <= 1) return;
  const flag = cfg.persist.takeover ? '--takeover' : cfg.persist.keepTap ? '--keep-tap' : null;
  if (flag !== null) {
    throw new UsageError(`${flag} works with --workers 1 only (a handover or a kept TAP has one queue, --workers ${cfg.workers} needs ${cfg.workers}): ` +
      `drop ${flag} or --workers`);
  }
}

export interface WorkersInput {
  cfg: RunConfig;
  dp: Datapath;
  dpOptions: Omit<DatapathOptions, 'mem' | 'counters'>;
  tables: SharedArrayBuffer[];
  vs: VniState[];
  mtu: number;
  batch: number;
  srcPorts: SrcPortRange | undefined;
  onFatal: (err: Error, port: 'tap' | 'udp', vni?: number) => void;
}

/** Opens every worker's queues and socket, configures the TAPs, starts the workers: the loop `serve` runs with. */
export async function startWorkers(w: WorkersInput): Promise<RunningLoop> {
  const { cfg } = w;
  // A TAP already there (a persistent one an earlier weft left, or made by hand) has one queue: workers cannot attach.
  for (const o of cfg.overlays) {
    if (netdevExists(o.tap)) {
      throw new UsageError(`--workers ${cfg.workers}: TAP ${o.tap} exists already (left by an earlier weft?), and a multi-queue TAP is made new: ` +
        `remove it (weft down, or ip link del ${o.tap}) or run with --workers 1 to reattach to it`);
    }
  }
  let pool: WorkerPool;
  try {
    pool = await WorkerPool.start({
      workers: cfg.workers, dp: w.dp, dpOptions: w.dpOptions, tables: w.tables,
      overlays: cfg.overlays.map((o, k) => ({ v: w.vs[k], tap: o.tap, localMacs: [o.mac] })),
      udp: { family: cfg.family, address: cfg.local ?? anyAddress(cfg.family), port: cfg.port, srcPorts: w.srcPorts },
      batch: w.batch, mtu: w.mtu, offload: !cfg.noOffload,
      configure: (tap, k) => { const o = cfg.overlays[k]; configureTap(tap, o.mac, w.mtu, cfg.tapQueue, o.address); },
      onFatal: w.onFatal,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.message) throw new RuntimeError(openErrorLine(err));
    throw e;
  }
  return { fwd: pool, io: { tap: pool.tap, udp: pool.udp }, tap: cfg.overlays[0].tap, port: pool.port, stop: () => pool.stop(), workers: () => pool.split(), refresh: () => pool.sum() };
}
