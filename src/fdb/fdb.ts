// The forwarding database: (VNI, MAC) → peer id, learned from the source MACs
// of decapsulated frames (RFC 7348 §4.1) and consulted for every frame that
// leaves the TAP.
//
// Design notes.
//
// - No per-entry objects. A Map of entry objects costs a GC-traced object
//   and a hash-table node per MAC, and string keys would allocate for every
//   lookup. Here an entry is a slot in three typed arrays, nothing for the GC
//   to trace, and the hot path reads the MAC straight out of the packet
//   buffer as integers (the first two octets `hi`, the last four `lo`):
//   `lookup` and `learn` never allocate (except `learn` when the table
//   doubles, below).
// - Layout, for a table much bigger than the CPU caches. `tags` holds one
//   byte per slot: 0 for empty, else 7 bits of the key's hash. `rec` holds a
//   16-byte record per slot: static flag | VNI, hi, lo, peer id (an int32
//   from PeerTable, not an address). `seen` holds the last-seen time (ms),
//   touched only by learn and age. A probe scans the tags, which for 2^21
//   slots is 2 MB and mostly cache resident, and reads a record (one cache
//   line) only when the tag matches: a hit costs about one memory access,
//   a miss usually none. 25 bytes per slot.
// - Open addressing with linear probing: a probe walks adjacent slots, which
//   is cache friendly, and the load factor is kept ≤ 0.6 so runs stay short.
//   Deletion is by backward shift, so there are no tombstones to pile up
//   under churn and no periodic rehash.
// - Bounded, and proportional to use. The capacity is a power of two that
//   starts small (1024 slots) and doubles when the next insert would pass the
//   load limit, up to the smallest power of two that holds `maxEntries` —
//   never beyond. A table with 1,000 entries takes 2048 slots, 50 KiB;
//   1,000,000 take 2^21 slots, 50 MiB. A doubling copies the table once
//   (tens of ms at a million entries); pass `initialCapacity` to size it up
//   front instead. At `maxEntries` a new MAC is refused (LEARN_FULL) and
//   existing entries keep working; entries leave only by ageing or removal,
//   as in the Linux bridge, so a flood of new MACs cannot evict live ones.
// - Time is an argument (`learn(…, nowMs)`, `age(nowMs)`), never a clock.
// - Shared by threads on shared memory (mem.ts, `weft run --workers`): the
//   arrays, entry count and seed live there, sized for maxEntries at once
//   (it cannot double under other threads' readers); writers take the lock,
//   `lookup` and `refresh` read under the sequence number. `stats` other
//   than `entries` count this thread's work.
// - The hash is seeded per table: remote hosts pick source MACs, and a fixed
//   hash would let them precompute MACs that all land in one probe run.
//
// What the caller checks, not this table: learn only from frames whose
// source MAC is unicast and non-zero (Linux's vxlan_snoop drops the others),
// and only with a live peer id (learn throws on a free id). When learn
// returns LEARN_FULL or LEARN_STATIC_CONFLICT it took no reference on the
// peer, so the caller may `peers.releaseIfUnused(id)` one it interned for
// this frame.

import { randomInt } from 'node:crypto';
import type { PeerTable } from './peers.js';
import type { Mem } from './mem.js';
import { TWO_32, hashKey, macHi, macLo, tagOf } from './fdb-key.js';

/** A new entry was added. */
export const LEARN_NEW = 0;
/** The entry existed with the same peer; its last-seen time was updated. */
export const LEARN_REFRESHED = 1;
/** A learned entry pointed at another peer; it now points at this one. */
export const LEARN_MOVED = 2;
/** A static entry with the same peer; nothing changed. */
export const LEARN_STATIC_OK = 3;
/** A static entry with another peer; nothing changed and the caller drops the frame (as Linux does). */
export const LEARN_STATIC_CONFLICT = 4;
/** A new MAC while the table is at maxEntries; not added. */
export const LEARN_FULL = 5;

export type LearnResult =
  | typeof LEARN_NEW | typeof LEARN_REFRESHED | typeof LEARN_MOVED
  | typeof LEARN_STATIC_OK | typeof LEARN_STATIC_CONFLICT | typeof LEARN_FULL;

export interface FdbOptions {
  peers: PeerTable;
  /** Most entries (learned + static). Default 65,536. */
  maxEntries?: number;
  /** A learned entry is removed this long after the last frame from its MAC. Default 300,000 (Linux's 300 s). */
  ageingMs?: number;
  /** Starting slot count (rounded up to a power of two). Default 1024; on shared memory, what maxEntries needs. */
  initialCapacity?: number;
  /** Where the arrays live (mem.ts); default the peer table's. */
  mem?: Mem;
}

/** Counters, plain fields on one object allocated with the table. */
export interface FdbStats {
  /** Entries now in the table. */
  entries: number;
  /** New entries learned. */
  learned: number;
  /** Learned entries that moved to another peer. */
  moved: number;
  /** Learns that only refreshed the time. */
  refreshed: number;
  /** New MACs refused because the table was at maxEntries. */
  full: number;
  /** Learns refused because a static entry names another peer. */
  staticConflicts: number;
  /** Entries removed by age(). */
  aged: number;
  /** Entries removed by remove(). */
  removed: number;
}

// A record is four int32s in `rec`: META = STATIC | vni, HI, LO (as int32), PEER.
const META = 0, HI = 1, LO = 2, PEER = 3;
const STATIC = 1 << 24;
const VNI_MASK = 0xffffff;
const MAX_LOAD = 0.6;
const MIN_CAPACITY = 16;
const DEFAULT_CAPACITY = 1024;
// The cells: the entry count and the hash seed (the same in every thread).
const N = 0, SEED = 1;

export class Fdb {
  readonly peers: PeerTable;
  readonly maxEntries: number;
  readonly ageingMs: number;
  readonly stats: FdbStats;
  readonly mem: Mem;

  /**
   * Told when a learned MAC moves to another peer (for a debug log line);
   * null by default. Must not change the table.
   */
  onMove: ((vni: number, mac: number, fromPeer: number, toPeer: number) => void) | null = null;

  /**
   * Told after entries left the table (remove, or age removing any): there
   * may be room now for what a full table refused (the control plane retries
   * refused leases). Never called per packet. Must not change the table
   * before it returns.
   */
  onRoom: (() => void) | null = null;

  private readonly maxCap: number;
  private readonly seed: number;
  private cap = 0;
  private mask = 0;
  private growAt = 0; // the entry count at which the next insert doubles the table
  /** The entry count, in one cell of the table's memory (N). */
  private readonly cells: Int32Array;
  private tags: Uint8Array = new Uint8Array(0);
  private rec: Int32Array = new Int32Array(0);
  private seen: Float64Array = new Float64Array(0);

  constructor(opts: FdbOptions) {
    const maxEntries = opts.maxEntries ?? 65536;
    const ageingMs = opts.ageingMs ?? 300_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 0x4000000) {
      throw new RangeError(`FDB maxEntries must be an integer 1..67108864, got ${maxEntries}`);
    }
    if (!(ageingMs > 0)) throw new RangeError(`FDB ageingMs must be positive, got ${ageingMs}`);
    this.peers = opts.peers;
    this.maxEntries = maxEntries;
    this.ageingMs = ageingMs;
    this.maxCap = pow2AtLeast(Math.ceil(maxEntries / MAX_LOAD) + 1);
    const mem = this.mem = opts.mem ?? opts.peers.mem;
    this.cells = mem.i32(2);
    if (mem.fresh) this.cells[SEED] = randomInt(0x7fffffff);
    this.seed = this.cells[SEED];
    const cells = this.cells;
    this.stats = {
      get entries() { return cells[N]; },
      learned: 0, moved: 0, refreshed: 0, full: 0, staticConflicts: 0, aged: 0, removed: 0,
    };
    this.resize(mem.shared ? this.maxCap : Math.min(pow2AtLeast(opts.initialCapacity ?? DEFAULT_CAPACITY), this.maxCap));
  }

  /** Entries in the table. */
  get size(): number { return this.cells[N]; }

  /** Slots allocated (a power of two). */
  get capacity(): number { return this.cap; }

  // ---- hot path: the MAC is read from buf[macOff..macOff+6) ----

  /** The peer id for (vni, MAC at buf[macOff]), or -1. Never allocates. */
  lookup(vni: number, buf: Uint8Array, macOff: number): number {
    const hi = (buf[macOff] << 8) | buf[macOff + 1];
    const lo = (buf[macOff + 2] << 24) | (buf[macOff + 3] << 16) | (buf[macOff + 4] << 8) | buf[macOff + 5];
    return this.peerOf(vni & VNI_MASK, hi, lo);
  }

  /**
   * learn's common case, without the lock: when (vni, MAC) is already behind
   * `peerId`, restarts a learned entry's clock (unlocked: a refresh lost to
   * a race moves an expiry by a batch) and returns true; false when learn
   * has work to do. Never allocates.
   */
  refresh(vni: number, buf: Uint8Array, macOff: number, peerId: number, nowMs: number): boolean {
    vni &= VNI_MASK;
    const hi = (buf[macOff] << 8) | buf[macOff + 1];
    const lo = (buf[macOff + 2] << 24) | (buf[macOff + 3] << 16) | (buf[macOff + 4] << 8) | buf[macOff + 5];
    const mem = this.mem;
    for (;;) {
      const s = mem.seq();
      if ((s & 1) !== 0) continue;
      const i = this.find(vni, hi, lo);
      const same = i >= 0 && this.rec[(i << 2) + PEER] === peerId;
      const learned = same && (this.rec[i << 2] & STATIC) === 0;
      if (mem.seq() !== s) continue;
      if (!same) return false;
      if (learned) {
        this.seen[i] = nowMs;
        this.stats.refreshed++;
      }
      return true;
    }
  }

  /**
   * Records that a frame from the MAC at buf[macOff] arrived in `vni` from
   * `peerId`. Refs the peer it stores and unrefs the one it replaces. Ageing
   * counts from the last frame seen *from* a MAC, as current Linux does
   * (vxlan_snoop refreshes `updated` on every received frame): a refresh or
   * a move restarts the clock, a lookup (traffic *to* the MAC) does not.
   * Allocates only when the table doubles.
   */
  learn(vni: number, buf: Uint8Array, macOff: number, peerId: number, nowMs: number): LearnResult {
    this.mem.lock();
    try {
      return this.learnLocked(vni, buf, macOff, peerId, nowMs);
    } finally {
      this.mem.unlock();
    }
  }

  private learnLocked(vni: number, buf: Uint8Array, macOff: number, peerId: number, nowMs: number): LearnResult {
    vni &= VNI_MASK;
    const hi = (buf[macOff] << 8) | buf[macOff + 1];
    const lo = (buf[macOff + 2] << 24) | (buf[macOff + 3] << 16) | (buf[macOff + 4] << 8) | buf[macOff + 5];
    const i = this.find(vni, hi, lo);
    if (i >= 0) {
      const b = i << 2, rec = this.rec;
      const old = rec[b + PEER];
      if ((rec[b + META] & STATIC) !== 0) {
        if (old === peerId) return LEARN_STATIC_OK;
        this.stats.staticConflicts++;
        return LEARN_STATIC_CONFLICT;
      }
      if (old === peerId) {
        this.seen[i] = nowMs;
        this.stats.refreshed++;
        return LEARN_REFRESHED;
      }
      // Both peers are live here (the old one may be freed by the unref below).
      if (this.onMove !== null) this.onMove(vni, hi * TWO_32 + (lo >>> 0), old, peerId);
      this.peers.ref(peerId);
      this.peers.unref(old);
      rec[b + PEER] = peerId;
      this.seen[i] = nowMs;
      this.stats.moved++;
      return LEARN_MOVED;
    }
    if (this.cells[N] >= this.maxEntries) {
      this.stats.full++;
      return LEARN_FULL;
    }
    this.peers.ref(peerId);
    this.insert(vni, hi, lo, peerId, nowMs);
    this.stats.learned++;
    return LEARN_NEW;
  }

  // ---- config and tests: the MAC as a 48-bit number (hi16 * 2^32 + lo32) ----

  /** The peer id for (vni, mac), or -1. */
  lookupMac(vni: number, mac: number): number {
    return this.peerOf(vni & VNI_MASK, macHi(mac), macLo(mac));
  }

  /**
   * Adds or replaces a static entry: it never ages and learning never
   * changes it. Replaces a learned entry for the same MAC. Refs `peerId`.
   * False (and no reference taken) when the MAC is new and the table is full.
   */
  addStatic(vni: number, mac: number, peerId: number): boolean {
    this.mem.lock();
    try {
      return this.addStaticLocked(vni, mac, peerId);
    } finally {
      this.mem.unlock();
    }
  }

  private addStaticLocked(vni: number, mac: number, peerId: number): boolean {
    vni &= VNI_MASK;
    const hi = macHi(mac), lo = macLo(mac);
    const i = this.find(vni, hi, lo);
    if (i >= 0) {
      const b = i << 2;
      this.peers.ref(peerId);
      this.peers.unref(this.rec[b + PEER]);
      this.rec[b + META] = STATIC | vni;
      this.rec[b + PEER] = peerId;
      this.seen[i] = 0;
      return true;
    }
    if (this.cells[N] >= this.maxEntries) return false;
    this.peers.ref(peerId);
    this.insert(STATIC | vni, hi, lo, peerId, 0);
    return true;
  }

  /** Removes the entry (learned or static); false if there was none. */
  remove(vni: number, mac: number): boolean {
    this.mem.lock();
    try {
      const i = this.find(vni & VNI_MASK, macHi(mac), macLo(mac));
      if (i < 0) return false;
      this.removeAt(i);
      this.stats.removed++;
    } finally {
      this.mem.unlock();
    }
    this.onRoom?.();
    return true;
  }

  /**
   * Removes every learned entry whose last-seen time + ageingMs ≤ nowMs
   * (static entries never age) and returns how many. One pass over the slots:
   * call it every second or so, not per packet.
   */
  age(nowMs: number): number {
    this.mem.lock();
    try {
      return this.ageLocked(nowMs);
    } finally {
      this.mem.unlock();
    }
  }

  private ageLocked(nowMs: number): number {
    const tags = this.tags, rec = this.rec, seen = this.seen, limit = nowMs - this.ageingMs;
    let removed = 0;
    // Backward shift moves entries only into the hole and the slots after it
    // (or, wrapping, from the array's first slots, already checked and kept),
    // so re-checking slot `i` after a removal instead of moving on visits
    // every entry once.
    for (let i = 0; i < this.cap;) {
      if (tags[i] !== 0 && seen[i] <= limit && (rec[i << 2] & STATIC) === 0) {
        this.removeAt(i);
        removed++;
      } else {
        i++;
      }
    }
    this.stats.aged += removed;
    if (removed > 0) this.onRoom?.();
    return removed;
  }

  /** Removes every entry, static ones too, releasing their peers. Keeps the capacity. */
  clear(): void {
    this.mem.lock();
    try {
      const tags = this.tags, rec = this.rec;
      for (let i = 0; i < this.cap; i++) {
        if (tags[i] !== 0) {
          this.peers.unref(rec[(i << 2) + PEER]);
          tags[i] = 0;
        }
      }
      this.cells[N] = 0;
    } finally {
      this.mem.unlock();
    }
  }

  /** Calls `cb` for every entry, in slot order. For display; may allocate. */
  forEach(cb: (vni: number, mac: number, peerId: number, isStatic: boolean, lastSeenMs: number) => void): void {
    const tags = this.tags, rec = this.rec;
    this.mem.lock(); // reentrant: `cb` may look up or remove
    try {
      for (let i = 0; i < this.cap; i++) {
        if (tags[i] === 0) continue;
        const b = i << 2, m = rec[b + META];
        cb(m & VNI_MASK, rec[b + HI] * TWO_32 + (rec[b + LO] >>> 0), rec[b + PEER], (m & STATIC) !== 0, this.seen[i]);
      }
    } finally {
      this.mem.unlock();
    }
  }

  /** Bytes held by the table's typed arrays. */
  memoryBytes(): number {
    return this.tags.byteLength + this.rec.byteLength + this.seen.byteLength;
  }

  // ---- internals ----

  /** The peer of (vni, hi, lo), or -1, read under the sequence number (mem.ts). */
  private peerOf(vni: number, hi: number, lo: number): number {
    const mem = this.mem;
    for (;;) {
      const s = mem.seq();
      if ((s & 1) !== 0) continue;
      const i = this.find(vni, hi, lo);
      const peer = i < 0 ? -1 : this.rec[(i << 2) + PEER];
      if (mem.seq() === s) return peer;
    }
  }

  /** The slot holding (vni, hi, lo), or -1. `lo` is the int32 form. */
  private find(vni: number, hi: number, lo: number): number {
    const tags = this.tags, rec = this.rec, mask = this.mask;
    const h = hashKey(this.seed, vni, hi, lo), tag = tagOf(h);
    let i = h & mask;
    for (let t = tags[i]; t !== 0; t = tags[i]) {
      if (t === tag) {
        const b = i << 2;
        if (rec[b + LO] === lo && rec[b + HI] === hi && (rec[b + META] & VNI_MASK) === vni) return i;
      }
      i = (i + 1) & mask;
    }
    return -1;
  }

  /** Adds an absent key (meta = STATIC? | vni), doubling the table first if the load limit says so. */
  private insert(meta: number, hi: number, lo: number, peerId: number, nowMs: number): void {
    if (this.cells[N] >= this.growAt) this.resize(this.cap * 2);
    const i = this.place(meta, hi, lo);
    const b = i << 2;
    this.rec[b + PEER] = peerId;
    this.seen[i] = nowMs;
    this.cells[N]++;
  }

  /** Puts an absent key in the first empty slot of its probe run: tag and key, not peer or time. */
  private place(meta: number, hi: number, lo: number): number {
    const tags = this.tags, mask = this.mask;
    const h = hashKey(this.seed, meta & VNI_MASK, hi, lo);
    let i = h & mask;
    while (tags[i] !== 0) i = (i + 1) & mask;
    const b = i << 2;
    tags[i] = tagOf(h);
    this.rec[b + META] = meta;
    this.rec[b + HI] = hi;
    this.rec[b + LO] = lo;
    return i;
  }

  /**
   * Empties slot `i` by backward shift: each later entry of the probe run
   * moves into the hole when the hole lies between its home slot and where
   * it sits, so every run stays unbroken and no tombstone is left.
   */
  private removeAt(i: number): void {
    const tags = this.tags, rec = this.rec, seen = this.seen, mask = this.mask;
    this.peers.unref(rec[(i << 2) + PEER]);
    let hole = i;
    for (let j = (i + 1) & mask; tags[j] !== 0; j = (j + 1) & mask) {
      const b = j << 2;
      const home = hashKey(this.seed, rec[b + META] & VNI_MASK, rec[b + HI], rec[b + LO]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        const d = hole << 2;
        tags[hole] = tags[j];
        rec[d] = rec[b]; rec[d + 1] = rec[b + 1]; rec[d + 2] = rec[b + 2]; rec[d + 3] = rec[b + 3];
        seen[hole] = seen[j];
        hole = j;
      }
    }
    tags[hole] = 0;
    this.cells[N]--;
  }

  /** Moves every entry into fresh arrays of `cap` slots (a power of two ≤ maxCap). */
  private resize(cap: number): void {
    const oldTags = this.tags, old = this.rec, oldSeen = this.seen;
    // Other threads hold views of shared arrays: those are made once, at their full size.
    if (this.mem.shared && this.cap !== 0) throw new Error('FDB: a shared table cannot grow');
    this.cap = cap;
    this.mask = cap - 1;
    this.growAt = cap >= this.maxCap ? Infinity : Math.floor(cap * MAX_LOAD);
    this.tags = this.mem.u8(cap);
    this.rec = this.mem.i32(cap * 4);
    this.seen = this.mem.f64(cap);
    for (let j = 0; j < oldTags.length; j++) {
      if (oldTags[j] === 0) continue;
      const b = j << 2;
      const i = this.place(old[b + META], old[b + HI], old[b + LO]);
      this.rec[(i << 2) + PEER] = old[b + PEER];
      this.seen[i] = oldSeen[j];
    }
  }
}

function pow2AtLeast(n: number): number {
  let p = MIN_CAPACITY;
  while (p < n) p *= 2;
  return p;
}
