// `weft run --workers N` (N ≥ 2): the forwarding moves into N threads
// (workers/pool.ts), each with its own TAP queue per overlay and its own
// SO_REUSEPORT socket, on the main thread's shared tables; the main thread
// keeps the control plane, the control socket, /metrics and the log.

import type { Datapath, DatapathOptions } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import { configureTap } from '../io/link.js';
import { anyAddress } from '../wire/ipv6.js';
import { RuntimeError } from '../config/errors.js';
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
                       counters summed (weft stats shows each worker's)`;

export interface WorkersInput {
  cfg: RunConfig;
  dp: Datapath;
  dpOptions: Omit<DatapathOptions, 'mem' | 'counters'>;
  tables: SharedArrayBuffer[];
  vs: VniState[];
  mtu: number;
  batch: number;
  onFatal: (err: Error, port: 'tap' | 'udp', vni?: number) => void;
}

/** Opens every worker's queues and socket, configures the TAPs, starts the workers: the loop `serve` runs with. */
export async function startWorkers(w: WorkersInput): Promise<RunningLoop> {
  const { cfg } = w;
  let pool: WorkerPool;
  try {
    pool = await WorkerPool.start({
      workers: cfg.workers, dp: w.dp, dpOptions: w.dpOptions, tables: w.tables,
      overlays: cfg.overlays.map((o, k) => ({ v: w.vs[k], tap: o.tap, localMacs: [o.mac] })),
      udp: { family: cfg.family, address: cfg.local ?? anyAddress(cfg.family), port: cfg.port },
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
