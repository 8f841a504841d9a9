// `weft run` for a network whose net-conf.json says Backend.Type "host-gw":
// flannel's host-gw, where the data path is the kernel's. There is no TAP,
// no UDP socket and no forwarding loop: each other lease is a kernel route
// `SUBNET via PUBLICIP dev UNDERLAY`, and `SUBNET6 via PUBLICIPV6` for its IPv6
// side (control/segment.ts, reconcile.ts, checked every 10 s), and
// a lease whose host is not on our segment is refused. What stays is weft's
// control plane (lease, renewal, subnet.env, the lease check), its control
// socket (`weft peers`, `weft stats`: named after --tap, as always, though
// no TAP is made) and its metrics. It stops as the other daemons do:
// SIGINT/SIGTERM exit 0 and remove the routes it made, a lost lease exits 1.

import { Datapath } from '../datapath/datapath.js';
import { BatchSizes } from '../datapath/batch-sizes.js';
import type { ControlPlane } from '../control/control-plane.js';
import { describeSegment } from '../control/segment.js';
import { Operations } from './run-ops.js';
import { untilStopped } from './until-stopped.js';
import type { DaemonState, LoopView } from '../daemon/state.js';
import type { Logger } from '../log/logger.js';
import type { RunArgs } from './run.js';

/** What the operator's side reads of a loop, for a daemon without one: nothing moves, nothing can fail. */
function noLoop(): LoopView {
  return {
    batchSizes: new BatchSizes(), lastDrop: new Uint32Array(5), lastDropSeq: 0, running: true, overlay: 'ethernet',
    get capture() { return null; },
    set capture(hook) { if (hook !== null) throw new Error('capture: host-gw has no data path in weft (the kernel routes); capture on the underlay with tcpdump'); },
  };
}

export async function runHostGwDaemon(cfg: RunArgs, control: ControlPlane, log: Logger): Promise<number> {
  // Tables for the operator's side to read; nothing is learned or forwarded through them.
  const dp = new Datapath({ peerCapacity: 1, knownSourcesOnly: true, icmpRate: cfg.icmpRate });
  const v = dp.addVni(control.conf.vni, { port: 0, mtu: control.host.mtu });
  const st: DaemonState = {
    dp, v, fwd: noLoop(), tap: cfg.tap, family: 4, local: control.host.bindIp, port: 0, startedMs: Date.now(),
    io: null, control, log,
  };
  const ops = await Operations.start(st, cfg.ops);
  try {
    await control.start(dp, v, cfg.tap);
  } catch (e) {
    ops.close();
    throw e;
  }
  ops.controlReady = true;
  return untilStopped({ st, ops, control, gone: 'routes removed' }, () => {
    log.info(`listening on no port: host-gw, the kernel routes (no TAP, no tunnel); leases via their hosts on ${describeSegment(control.host.segment ?? null)}, mtu ${control.host.mtu}`);
  });
}
