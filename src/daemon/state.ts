// What a running weft is made of, as `weft run` assembles it (cli/run.ts)
// and a test may fake it: the data path, the forwarding loop, the I/O ports'
// offload state, the control plane. The operator's side reads it — the
// control socket's commands (admin/), the metrics endpoint (metrics/) and
// the drop warnings (cli/run-ops.ts) — so it lives apart from all of them,
// and none of them imports another to reach it.

import type { Datapath } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import type { Forwarder } from '../datapath/forwarder.js';
import type { TapStats } from '../io/tap.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { Logger } from '../log/logger.js';
import type { Socket } from 'node:net';

/** What the operator's side reads of a forwarding loop: the VXLAN Forwarder's or the udp backend's (datapath/udp-loop.ts). */
export type LoopView = Pick<Forwarder, 'batchSizes' | 'lastDrop' | 'lastDropSeq' | 'capture' | 'overlay' | 'running'>;

export interface DaemonState {
  dp: Datapath;
  v: VniState;
  /** The forwarding loop, or the workers standing in for it (weft run --workers): what the operator's side reads of it. */
  fwd: LoopView;
  /** With several workers: each one's non-zero counters (`weft stats` shows the split). */
  workers?: () => { worker: number; counters: Record<string, number> }[];
  /** With several workers: brings the summed counters up to date (they are otherwise summed every 100 ms); called before a reply reads them. */
  refresh?: () => void;
  tap: string;
  family: 4 | 6;
  /** The underlay address weft is bound to, or null for any. */
  local: string | null;
  /** The local UDP port. */
  port: number;
  startedMs: number;
  io: {
    tap: { offload: boolean; uso?: boolean; stats: TapStats };
    udp: {
      gso: boolean; gro: boolean; gsoMessages: number; gsoDatagrams: number; groMessages: number; groDatagrams: number;
      /** The per-flow source sockets (io/src-ports.ts): opened, and slots that found no free port; null: one port for all. */
      srcPorts?: { opened: number; fallbacks: number } | null;
    };
  } | null;
  control: ControlPlane | null;
  log: Logger;
  /** Every VNI served and its TAP, when there are several (`weft run --vni N:TAP …`); `v` and `tap` are the first. */
  overlays?: { vni: number; tap: string }[];
  /**
   * What the TAP has been through across processes (persist/tap-record.ts),
   * and the control socket's `handover` command (persist/hand-over.ts), when
   * `weft run` serves it.
   */
  persist?: { handovers: number; crashReattaches: number };
  handover?: (req: { version: number; path: string; pid: number; shape: unknown }, socket: Socket) => unknown;
}
