// `weft run` for a network whose net-conf.json says Backend.Type "udp":
// flannel's udp backend, so weft hosts and flanneld hosts of such a network
// can be swapped one at a time. What it assembles, in order:
//   1. the data path's tables (peer table, source allow-list, ICMP budget)
//      and the lease routes (datapath/udp-routes.ts);
//   2. the UDP socket on Backend.Port (8285) and the TUN (`flannel0`, or
//      --tun/--tap), configured as flanneld's configureIface does
//      (io/link.ts configureTun), with the offloads the VXLAN mode has
//      unless --no-offload: TSO/USO on the TUN (io/tun.ts), UDP GSO/GRO on
//      the socket, and the TUN's GSO segment limit set so that one
//      super-packet leaves as one UDP GSO send;
//   3. the loop (datapath/udp-loop.ts), the control socket and metrics;
//   4. the control plane, whose leases become routes (control/udp-host.ts).
// It stops as the VXLAN daemon does: SIGINT/SIGTERM exit 0, a lost lease or
// a failed device exit 1, the TUN and its routes gone with the process.

import { RuntimeError } from '../config/errors.js';
import { Datapath } from '../datapath/datapath.js';
import { UdpRoutes } from '../datapath/udp-routes.js';
import { UdpLoop } from '../datapath/udp-loop.js';
import { Tap } from '../io/tap.js';
import { Tun } from '../io/tun.js';
import { UdpSocket, datagramsPerSend } from '../io/udp.js';
import { configureTun, limitTapGsoSegs } from '../io/link.js';
import { formatHostPort } from '../wire/ipv6.js';
import { formatSubnet } from '../control/ip4.js';
import { leasePeerCapacity, type ControlPlane } from '../control/control-plane.js';
import { UdpHostOps } from '../control/udp-host.js';
import { Operations } from './run-ops.js';
import { untilStopped } from './until-stopped.js';
import { offloadWord, warnMissingOffloads } from './offloads.js';
import type { DaemonState } from '../daemon/state.js';
import type { Logger } from '../log/logger.js';
import type { RunArgs } from './run.js';

/** flannel's device name (it asks the kernel for `flannel%d`; the first is flannel0). */
export const UDP_TUN_DEFAULT = 'flannel0';

function openLine(e: unknown): never {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.message) {
    throw new RuntimeError(err.syscall === 'ioctl(TUNSETIFF)' && err.message.endsWith('is taken by another device') ? `${err.message}: pick another --tun` : err.message);
  }
  throw e;
}

export async function runUdpDaemon(cfg: RunArgs, control: ControlPlane, log: Logger): Promise<number> {
  const conf = control.conf;
  // net-conf.ts refuses a udp network without IPv4, so the lease always has its IPv4 side.
  const address = control.address!;
  const mtu = control.host.mtu;
  const peerCapacity = cfg.peerCapacity ?? leasePeerCapacity(conf);
  const dp = new Datapath({ peerCapacity, knownSourcesOnly: !cfg.allowAnySource, icmpRate: cfg.icmpRate });
  const v = dp.addVni(conf.vni, { port: conf.port, mtu });
  const routes = new UdpRoutes(dp, conf.port, mtu);
  // As the VXLAN mode sizes them: one TUN read yields up to 64 segments per
  // super-packet, one UDP read up to 64 datagrams per coalesced message.
  const offload = !cfg.noOffload;
  const batch = Tap.batchFor(cfg.batch, offload);
  let udp: UdpSocket;
  try {
    udp = new UdpSocket({ family: 4, address: control.host.bindIp ?? '0.0.0.0', port: conf.port, batch, offload });
  } catch (e) { openLine(e); }
  const name = cfg.tun ?? UDP_TUN_DEFAULT;
  let tun: Tun;
  try {
    tun = new Tun({ name, mtu, batch, offload, tails: udp.gso });
  } catch (e) {
    udp.close();
    openLine(e);
  }
  // Each datagram is one packet of at most the MTU: a super-packet of more
  // segments than one UDP GSO send carries would leave as two. Set before
  // forwarding: `ip` blocks the loop.
  const segs = datagramsPerSend(mtu);
  let capped = true;
  try {
    configureTun(tun.name, mtu, cfg.tapQueue, address.ip, formatSubnet(conf.network));
    if (offload && tun.offload && udp.gso) capped = limitTapGsoSegs(tun.name, segs);
  } catch (e) {
    tun.close();
    udp.close();
    throw e;
  }

  let fatal: ((err: Error, port: 'tap' | 'udp') => void) | null = null;
  const loop = new UdpLoop(routes, tun, udp, { batch, onFatal: (err, port) => fatal?.(err, port) });
  loop.start();
  const st: DaemonState = {
    dp, v, fwd: loop, tap: tun.name, family: 4, local: control.host.bindIp, port: udp.port, startedMs: Date.now(),
    io: { tap: { offload: tun.offload, uso: tun.uso, stats: tun.stats }, udp }, control, log,
  };
  let ops: Operations;
  try {
    ops = await Operations.start(st, cfg.ops);
  } catch (e) {
    loop.stop();
    throw e;
  }
  try {
    await control.start(dp, v, tun.name, new UdpHostOps(dp, v, routes));
  } catch (e) {
    ops.close();
    loop.stop();
    throw e;
  }
  ops.controlReady = true;
  return untilStopped({ st, ops, control, gone: `tun ${tun.name} removed`, stopLoop: () => loop.stop() }, (fail) => {
    fatal = (err, port) => fail(`${port === 'tap' ? `the TUN ${tun.name} failed (deleted?)` : 'the UDP socket failed'}: ${err.message}`);
    log.info({ sources: cfg.allowAnySource ? 'any' : 'lease hosts only', icmpRate: cfg.icmpRate },
      `listening on udp ${formatHostPort(control.host.bindIp ?? '0.0.0.0', udp.port)}, udp backend: tun ${tun.name} mtu ${mtu} ` +
      `address ${address.ip}/32, route ${formatSubnet(conf.network)} dev ${tun.name}, peers from leases, ` +
      `offload ${offloadWord({ tso: tun.offload, uso: tun.uso, gso: udp.gso, gro: udp.gro })}`);
    if (offload) warnMissingOffloads(log, 'TUN', { tso: tun.offload, uso: tun.uso, gso: udp.gso, gro: udp.gro }, capped, segs);
  });
}
