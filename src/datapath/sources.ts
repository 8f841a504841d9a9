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
// - Fixed capacity, open addressing with linear probing at most half full,
//   removal by backward shift (no tombstones), as the peer table does.

export class SourceSet {
  readonly capacity: number;
  private readonly keys: Uint32Array; // 4 words per slot
  private readonly refs: Int32Array;  // 0: empty slot
  private readonly mask: number;
  private n = 0;

  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 0x1000000) {
      throw new RangeError(`source set capacity must be an integer 1..16777216, got ${capacity}`);
    }
    this.capacity = capacity;
    let size = 8;
    while (size < capacity * 2) size *= 2;
    this.keys = new Uint32Array(size * 4);
    this.refs = new Int32Array(size);
    this.mask = size - 1;
  }

  /** Distinct addresses in the set. */
  get count(): number { return this.n; }

  /** True when the address is in the set. The hot-path check: no allocation. */
  has(w0: number, w1: number, w2: number, w3: number): boolean {
    return this.refs[this.probe(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0)] !== 0;
  }

  /** Takes a reference on the address, adding it if new; false when it is new and the set is full. */
  add(w0: number, w1: number, w2: number, w3: number): boolean {
    w0 >>>= 0; w1 >>>= 0; w2 >>>= 0; w3 >>>= 0;
    const s = this.probe(w0, w1, w2, w3);
    if (this.refs[s] !== 0) { this.refs[s]++; return true; }
    if (this.n === this.capacity) return false;
    const k = s * 4;
    this.keys[k] = w0; this.keys[k + 1] = w1; this.keys[k + 2] = w2; this.keys[k + 3] = w3;
    this.refs[s] = 1;
    this.n++;
    return true;
  }

  /** Gives back a reference; the address leaves the set with its last one. False if it was not there. */
  release(w0: number, w1: number, w2: number, w3: number): boolean {
    const s = this.probe(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0);
    if (this.refs[s] === 0) return false;
    if (--this.refs[s] === 0) this.removeAt(s);
    return true;
  }

  /** References held on the address (0 when absent). */
  refCount(w0: number, w1: number, w2: number, w3: number): number {
    return this.refs[this.probe(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0)];
  }

  /** The slot holding the address, or the empty slot where it would go. */
  private probe(w0: number, w1: number, w2: number, w3: number): number {
    const keys = this.keys, refs = this.refs, mask = this.mask;
    let s = hashAddr(w0, w1, w2, w3) & mask;
    while (refs[s] !== 0) {
      const k = s * 4;
      if (keys[k + 3] === w3 && keys[k + 2] === w2 && keys[k + 1] === w1 && keys[k] === w0) break;
      s = (s + 1) & mask;
    }
    return s;
  }

  /** Backward-shift deletion: later entries of the run move into the hole when it lies between their home and them. */
  private removeAt(hole: number): void {
    const keys = this.keys, refs = this.refs, mask = this.mask;
    for (let j = (hole + 1) & mask; refs[j] !== 0; j = (j + 1) & mask) {
      const k = j * 4;
      const home = hashAddr(keys[k], keys[k + 1], keys[k + 2], keys[k + 3]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys.copyWithin(hole * 4, k, k + 4);
        refs[hole] = refs[j];
        hole = j;
      }
    }
    refs[hole] = 0;
    this.n--;
  }
}

function hashAddr(w0: number, w1: number, w2: number, w3: number): number {
  // IPv4 addresses differ only in w3, so it gets the full mix.
  let h = Math.imul(w3, 0x9e3779b1);
  h ^= Math.imul(w2, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ Math.imul(w0, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h ^ (h >>> 16);
}
