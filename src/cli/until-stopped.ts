// How the udp and host-gw daemons end, as the VXLAN one does: SIGINT or
// SIGTERM exits 0, a lost lease or a failed port exits 1; either way the
// operator's side, the control plane and the loop stop and the final status
// is logged. SIGUSR1 logs the status meanwhile.

import type { ControlPlane } from '../control/control-plane.js';
import type { DaemonState } from '../daemon/state.js';
import type { Operations } from './run-ops.js';
import { statusRecord } from '../admin/status.js';

export interface Stoppable {
  st: DaemonState;
  ops: Operations;
  control: ControlPlane;
  /** What a signal's stop leaves behind, said after "stopped by SIGTERM; ". */
  gone: string;
  stopLoop?: () => void;
}

/**
 * Resolves with the exit code once the daemon stops. `ready` runs once the
 * handlers are in place (so a signal sent on seeing its "listening on" line
 * meets them) with `fail`, which stops with exit 1 and `why`.
 */
export function untilStopped(d: Stoppable, ready: (fail: (why: string) => void) => void): Promise<number> {
  const { st, ops, control } = d;
  const log = st.log;
  return new Promise<number>((resolve) => {
    const onUsr1 = () => log.info(statusRecord(st), 'status');
    let stopping = false;
    const stop = (code: 0 | 1, said: () => void) => {
      if (stopping) return;
      stopping = true;
      ops.close();
      control.shutdown();
      d.stopLoop?.();
      log.info(statusRecord(st), 'status');
      said();
      process.off('SIGUSR1', onUsr1);
      resolve(code);
    };
    const bySignal = (sig: string) => stop(0, () => log.info(`stopped by ${sig}; ${d.gone}`));
    const fail = (why: string) => stop(1, () => log.error(`${why}; stopping`));
    process.on('SIGUSR1', onUsr1);
    process.once('SIGINT', () => bySignal('SIGINT'));
    process.once('SIGTERM', () => bySignal('SIGTERM'));
    control.onLost = fail;
    ready(fail);
  });
}
