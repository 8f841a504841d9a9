// The underlay addresses weft takes VXLAN datagrams from, when it knows its
// peers: the source allow-list.
//
// Design notes. A VTEP listens on a UDP port anyone on the underlay can
// reach, and the Linux vxlan device accepts frames from any source, so
// anyone who can reach the port can inject frames into the overlay (and
// make the forwarding table point a MAC at themselves). When weft is told
// its peers — --peer, --static, leases from the control plane, `weft fdb
// add` — it drops datagrams from every other address before looking at them
// (rx_drop_unknown_source). With learning only there is nothing to compare
// with, so the list is off (datapath.ts).
//
// - Keyed by address only: peers send from per-flow source ports (RFC 7348
//   §5), and a peer named with a port (--peer IP:PORT) is the same host.
//   Addresses are the four 32-bit words the batches carry (IPv4-mapped for
//   IPv4, as in the peer table), so the check reads the datagram's source
//   words and allocates nothing.
// - Reference counted: one address can be in several flood lists and behind
//   many static entries; it leaves the set when the last of them goes.
//   The Datapath takes and releases the references (addFloodPeer,
//   addStatic, removeStatic), so the set follows leases added and removed at
//   runtime.
// - The addresses are an AddrTable (fdb/addr-table.ts) with tag 0: fixed
//   capacity, typed arrays, no allocation on lookup, shared with the peer
//   table; the reference counts sit beside it, one per id.

import { AddrTable } from '../fdb/addr-table.js';
import { localMem, type Mem } from '../fdb/mem.js';

export class SourceSet {
  readonly capacity: number;
  private readonly t: AddrTable;
  private readonly refs: Int32Array; // reference count of each live id

  constructor(capacity = 4096, private readonly mem: Mem = localMem()) {
    this.t = new AddrTable(capacity, 'source set', mem);
    this.capacity = capacity;
    this.refs = mem.i32(capacity);
  }

  /** Distinct addresses in the set. */
  get count(): number { return this.t.count; }

  /** True when the address is in the set. The hot-path check: no allocation. */
  has(w0: number, w1: number, w2: number, w3: number): boolean {
    return this.t.find(w0, w1, w2, w3, 0) >= 0;
  }

  /** Takes a reference on the address, adding it if new; false when it is new and the set is full. */
  add(w0: number, w1: number, w2: number, w3: number): boolean {
    this.mem.lock();
    try {
      return this.addLocked(w0, w1, w2, w3);
    } finally {
      this.mem.unlock();
    }
  }

  private addLocked(w0: number, w1: number, w2: number, w3: number): boolean {
    const known = this.t.find(w0, w1, w2, w3, 0);
    if (known >= 0) { this.refs[known]++; return true; }
    const id = this.t.insert(w0, w1, w2, w3, 0);
    if (id < 0) return false;
    this.refs[id] = 1;
    return true;
  }

  /** Gives back a reference; the address leaves the set with its last one. False if it was not there. */
  release(w0: number, w1: number, w2: number, w3: number): boolean {
    this.mem.lock();
    try {
      return this.releaseLocked(w0, w1, w2, w3);
    } finally {
      this.mem.unlock();
    }
  }

  private releaseLocked(w0: number, w1: number, w2: number, w3: number): boolean {
    const id = this.t.find(w0, w1, w2, w3, 0);
    if (id < 0) return false;
    if (--this.refs[id] === 0) this.t.remove(id);
    return true;
  }

  /** References held on the address (0 when absent). */
  refCount(w0: number, w1: number, w2: number, w3: number): number {
    const id = this.t.find(w0, w1, w2, w3, 0);
    return id < 0 ? 0 : this.refs[id];
  }
}
