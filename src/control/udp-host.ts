// The live HostOps of the udp backend: a lease is a route in weft's own
// table (datapath/udp-routes.ts), keyed by its subnet, not a forwarding entry
// keyed by a MAC (a udp lease has none). The kernel needs nothing per lease:
// one route for the whole network through the TUN, made with the device
// (cli/run-udp.ts), so the reconciler hands this no `ip` commands.

import type { Datapath } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import type { UdpRoutes } from '../datapath/udp-routes.js';
import type { Refusal } from '../datapath/datapath.js';
import type { Subnet } from './ip4.js';
import { LiveHostOps } from './host.js';
import type { HostOps } from './reconcile.js';

export class UdpHostOps implements HostOps {
  private readonly live: LiveHostOps;

  constructor(dp: Datapath, v: VniState, private readonly routes: UdpRoutes) {
    this.live = new LiveHostOps(dp, v);
  }

  fdbAdd(_mac: number, ip: string, subnet: Subnet): { reason: Refusal; text: string } | null {
    const reason = this.routes.tryAdd(subnet.ip, subnet.len, ip);
    return reason === null ? null : { reason, text: this.routes.dp.refusalText(reason) };
  }

  fdbRemove(_mac: number, subnet: Subnet): void {
    this.routes.remove(subnet.ip, subnet.len);
  }

  ip(cmds: string[]): Promise<{ cmd: string; error: string }[]> { return this.live.ip(cmds); }

  ipSync(cmds: string[]): { cmd: string; error: string }[] { return this.live.ipSync(cmds); }
}
