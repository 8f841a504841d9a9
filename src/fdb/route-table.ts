// The udp backend's routing table: IPv4 overlay prefix → peer id (a lease's
// PublicIP and the backend's port, interned in the peer table). flannel's
// proxy keeps the same thing as an array it scans front to back
// (proxy_amd64.c find_route); this one answers the longest matching prefix.
//
// Design notes. A flannel network's leases all have one prefix length
// (SubnetLen), so a lookup that probes a hash table once per distinct
// length present, longest first, costs one probe in practice whatever the
// number of leases — where a scan costs one compare per lease. The entries
// live in one open-addressed table keyed by (network, length), linear
// probing with backward-shift deletion (no tombstones, so a table that sees
// leases come and go for months never degrades). Fixed capacity chosen at
// start; a full table refuses the route and says so, it never grows.
// Typed arrays only; lookup allocates nothing.

/** set()'s answer when the table is full (nothing changed). */
export const ROUTE_TABLE_FULL = -2;

/** The network mask of a /len as an unsigned 32-bit number. */
function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export class RouteTable {
  readonly capacity: number;
  count = 0;
  private readonly bits: number;
  private readonly slotMask: number;
  private readonly net: Uint32Array;
  /** Prefix length per slot; -1: empty. */
  private readonly len: Int8Array;
  private readonly peer: Int32Array;
  /** Entries per prefix length, and the lengths present, longest first. */
  private readonly perLen = new Int32Array(33);
  private readonly lens = new Uint8Array(33);
  private nLens = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`route table capacity must be a positive whole number, got ${capacity}`);
    this.capacity = capacity;
    let bits = 3;
    while ((1 << bits) < capacity * 2) bits++;
    this.bits = bits;
    this.slotMask = (1 << bits) - 1;
    this.net = new Uint32Array(1 << bits);
    this.len = new Int8Array(1 << bits).fill(-1);
    this.peer = new Int32Array(1 << bits);
  }

  private home(net: number, len: number): number {
    return Math.imul((net ^ Math.imul(len + 1, 0x9e3779b1)) | 0, 0x85ebca6b) >>> (32 - this.bits);
  }

  private find(net: number, len: number): number {
    for (let s = this.home(net, len); ; s = (s + 1) & this.slotMask) {
      const l = this.len[s];
      if (l < 0) return -1;
      if (l === len && this.net[s] === net) return s;
    }
  }

  /**
   * Routes `net`/`len` (host bits are cleared) to `peer`, replacing the
   * route it had. Returns the peer it replaced, -1 for a new route, or
   * ROUTE_TABLE_FULL (then nothing changed).
   */
  set(net: number, len: number, peer: number): number {
    net = (net & maskOf(len)) >>> 0;
    const at = this.find(net, len);
    if (at >= 0) {
      const old = this.peer[at];
      this.peer[at] = peer;
      return old;
    }
    if (this.count >= this.capacity) return ROUTE_TABLE_FULL;
    let s = this.home(net, len);
    while (this.len[s] >= 0) s = (s + 1) & this.slotMask;
    this.net[s] = net; this.len[s] = len; this.peer[s] = peer;
    this.count++;
    if (this.perLen[len]++ === 0) this.relist();
    return -1;
  }

  /** Removes the route for `net`/`len`; returns its peer, or -1 when there was none. */
  remove(net: number, len: number): number {
    net = (net & maskOf(len)) >>> 0;
    let s = this.find(net, len);
    if (s < 0) return -1;
    const old = this.peer[s];
    // Backward-shift deletion: pull every later entry of the run back over
    // the hole unless it already sits between its home and the hole.
    for (let j = (s + 1) & this.slotMask; this.len[j] >= 0; j = (j + 1) & this.slotMask) {
      const h = this.home(this.net[j], this.len[j]);
      if (((j - h) & this.slotMask) >= ((j - s) & this.slotMask)) {
        this.net[s] = this.net[j]; this.len[s] = this.len[j]; this.peer[s] = this.peer[j];
        s = j;
      }
    }
    this.len[s] = -1;
    this.count--;
    if (--this.perLen[len] === 0) this.relist();
    return old;
  }

  /** The peer of the longest prefix holding `dst` (an unsigned 32-bit address), or -1. The hot path: no allocation. */
  lookup(dst: number): number {
    for (let i = 0; i < this.nLens; i++) {
      const len = this.lens[i];
      const s = this.find((dst & maskOf(len)) >>> 0, len);
      if (s >= 0) return this.peer[s];
    }
    return -1;
  }

  /** The peer `net`/`len` routes to exactly, or -1. */
  get(net: number, len: number): number {
    const s = this.find((net & maskOf(len)) >>> 0, len);
    return s < 0 ? -1 : this.peer[s];
  }

  /** Every route, longest prefix first (allocates: for display). */
  entries(): { net: number; len: number; peer: number }[] {
    const out: { net: number; len: number; peer: number }[] = [];
    for (let s = 0; s < this.len.length; s++) if (this.len[s] >= 0) out.push({ net: this.net[s], len: this.len[s], peer: this.peer[s] });
    return out.sort((a, b) => b.len - a.len || a.net - b.net);
  }

  private relist(): void {
    this.nLens = 0;
    for (let l = 32; l >= 0; l--) if (this.perLen[l] > 0) this.lens[this.nLens++] = l;
  }
}
