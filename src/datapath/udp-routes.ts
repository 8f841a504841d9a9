// The udp backend's lease routes as the control plane changes them: each
// remote lease is its subnet → the host at its PublicIP and the backend's
// port, in the route table the data path reads (fdb/route-table.ts), and
// that host an allowed source (sources.ts) for as long as a route points at
// it. What flanneld's udp backend does with CMD_SET_ROUTE / CMD_DEL_ROUTE
// (pkg/backend/udp/cproxy_amd64.go), without the control socket between two
// threads: the loop and the control plane share one thread here, so a
// route changes between two batches, never during one.
//
// The route table is sized with the peer table (one route per remote host
// in a flannel network), so a full table refuses a lease as the peer
// table's refusal, raised by the same --peer-capacity.

import type { Datapath, Refusal } from './datapath.js';
import { RouteTable, ROUTE_TABLE_FULL } from '../fdb/route-table.js';
import { IPV4_HEADER_LEN } from '../wire/ipv4.js';
import { UDP_HEADER_LEN } from '../wire/udp.js';
import { UNDERLAY_MTU_DEFAULT } from '../wire/vxlan.js';
import type { UdpBackend } from './udp-backend.js';

/** What a packet costs on the underlay: the outer IPv4 and UDP headers, nothing more (flannel's encapOverhead, 28). */
export const UDP_BACKEND_OVERHEAD = IPV4_HEADER_LEN + UDP_HEADER_LEN;

/** The TUN's MTU over an underlay of `underlay` bytes (its MTU, or null for Ethernet's): flannel's MTU(). */
export function udpBackendMtu(underlay: number | null): number {
  return (underlay ?? UNDERLAY_MTU_DEFAULT) - UDP_BACKEND_OVERHEAD;
}

export class UdpRoutes implements UdpBackend {
  readonly routes: RouteTable;

  constructor(readonly dp: Datapath, readonly port: number, readonly mtu: number) {
    this.routes = new RouteTable(dp.peers.capacity);
  }

  /**
   * Routes `net`/`len` to the host at `ip` (replacing the route it had),
   * which becomes an allowed source. Null when done, else why a table
   * refused it (then nothing changed). Throws only on a malformed address.
   */
  tryAdd(net: number, len: number, ip: string): Refusal | null {
    const peers = this.dp.peers, sources = this.dp.sources;
    const id = peers.tryInternIp(ip, this.port);
    if (id < 0) return 'peer_table_full';
    const w0 = peers.word(id, 0), w1 = peers.word(id, 1), w2 = peers.word(id, 2), w3 = peers.word(id, 3);
    if (!sources.add(w0, w1, w2, w3)) {
      peers.releaseIfUnused(id);
      return 'source_set_full';
    }
    const old = this.routes.set(net, len, id);
    if (old === ROUTE_TABLE_FULL) {
      sources.release(w0, w1, w2, w3);
      peers.releaseIfUnused(id);
      return 'peer_table_full';
    }
    peers.ref(id);
    if (old >= 0) this.release(old);
    return null;
  }

  /** Removes the route for `net`/`len`; false when there was none. */
  remove(net: number, len: number): boolean {
    const old = this.routes.remove(net, len);
    if (old < 0) return false;
    this.release(old);
    return true;
  }

  /** Every route as text, longest prefix first (allocates: for `weft peers`). */
  list(): { net: number; len: number; to: string }[] {
    return this.routes.entries().map((e) => ({ net: e.net, len: e.len, to: this.dp.peers.toString(e.peer) }));
  }

  /** Gives back what one route held on its host: a source reference and a peer reference. */
  private release(id: number): void {
    const p = this.dp.peers;
    this.dp.sources.release(p.word(id, 0), p.word(id, 1), p.word(id, 2), p.word(id, 3));
    p.unref(id);
  }
}
