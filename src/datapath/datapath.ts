// The data path: what happens to a frame between the TAP and the wire.
//
// TAP → wire (one batch per TAP read):
//   1. The I/O layer reads frames into a slab, each with HEADROOM bytes free
//      in front (batch.ts).
//   2. encapBatch (encap.ts) checks each frame, finds its VTEP(s) in the
//      forwarding table (or the VNI's flood list), and writes the VXLAN header
//      into the headroom: the payload is a view of the same slab.
//   3. The I/O layer sends every send-list entry to its peer's address in one
//      batched call (live: sendmmsg; replay: outer headers + pcap record).
//
// wire → TAP (one batch per socket read):
//   1. The I/O layer receives datagrams into a slab, with each one's source
//      address as numbers (batch.ts).
//   2. decapBatch (decap.ts) validates the VXLAN header, learns the inner
//      source MAC → source VTEP, and emits views of the inner frames.
//   3. The I/O layer writes those views to the VNI's TAP in one call.
//
// Ownership: a slab belongs to the I/O layer; the data path only reads and
// writes inside it during a call, and its outputs (send lists, frame views)
// are valid until the I/O layer refills that slab. `nowMs` is an argument so
// that replay, tests and the live loop all drive time explicitly.
//
// Both the live daemon and `weft replay` call exactly these functions; only
// the I/O around them differs.

import { Fdb } from '../fdb/fdb.js';
import { PeerTable } from '../fdb/peers.js';
import { Counters } from './counters.js';
import { VniState, type VniOptions } from './vni.js';
import { encapBatch } from './encap.js';
import { decapBatch } from './decap.js';
import type { DatagramBatch, FrameBatch, SendList } from './batch.js';

export interface DatapathOptions {
  /** Most forwarding-table entries (default 65536). */
  fdbMax?: number;
  /** Learned entries expire this long after their MAC was last seen (default 300 s). */
  fdbAgeingMs?: number;
  /** Most distinct underlay endpoints (default 4096). */
  peerCapacity?: number;
  /**
   * Drop datagrams with reserved VXLAN bits set. RFC 7348 §5 says receivers
   * MUST ignore them; Linux drops them instead (unless an extension such as
   * GBP is on), and weft follows Linux by default so both agree on what a
   * peer may send. Set false for the RFC's lenient behaviour.
   */
  strictReserved?: boolean;
}

export class Datapath {
  readonly peers: PeerTable;
  readonly fdb: Fdb;
  readonly counters = new Counters();
  readonly vnis = new Map<number, VniState>();
  readonly strictReserved: boolean;

  constructor(opts: DatapathOptions = {}) {
    this.peers = new PeerTable(opts.peerCapacity ?? 4096);
    this.fdb = new Fdb({ peers: this.peers, maxEntries: opts.fdbMax ?? 65536, ageingMs: opts.fdbAgeingMs ?? 300_000 });
    this.strictReserved = opts.strictReserved ?? true;
  }

  addVni(vni: number, opts: VniOptions): VniState {
    if (this.vnis.has(vni)) throw new Error(`VNI ${vni} is configured twice`);
    const v = new VniState(vni, opts);
    this.vnis.set(vni, v);
    return v;
  }

  /** Adds `ip` (with the VNI's port, or `port`) to the VNI's flood list. Config time. */
  addFloodPeer(v: VniState, ip: string, port = v.port): number {
    const id = this.peers.internIp(ip, port);
    if (v.flood.add(id)) this.peers.ref(id);
    return id;
  }

  /** Pins `mac` on `v` to the VTEP at `ip`: never aged, never overwritten by learning. */
  addStatic(v: VniState, mac: number, ip: string, port = v.port): void {
    const id = this.peers.internIp(ip, port);
    if (!this.fdb.addStatic(v.vni, mac, id)) {
      this.peers.releaseIfUnused(id);
      throw new Error(`forwarding table is full (${this.fdb.size} entries): raise the limit to add static entries`);
    }
  }

  /**
   * Removes `mac` on `v` from the forwarding table (a control-plane lease
   * went away); a learned entry for it goes too. False if there was none.
   */
  removeStatic(v: VniState, mac: number): boolean {
    return this.fdb.remove(v.vni, mac);
  }

  encap(v: VniState, frames: FrameBatch, out: SendList): void {
    encapBatch(this, v, frames, out);
  }

  decap(dgrams: DatagramBatch, out: FrameBatch, nowMs: number): void {
    decapBatch(this, dgrams, out, nowMs);
  }
}
