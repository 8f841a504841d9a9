// Underlay addresses as small integer ids: the one open-addressing table
// keyed by an address's four 32-bit words (wire/ipv6.ts: IPv4 addresses
// IPv4-mapped) and a 16-bit tag (a UDP port, or 0 when the address alone is
// the key).
//
// It serves the peer table (fdb/peers.ts: address and port → peer id) and the
// source allow-list (datapath/sources.ts: address → reference count). Both
// look up a datagram's source on the receive path, so:
//
// - Capacity is fixed at construction; all storage is typed arrays allocated
//   then, and `find`, `insert` and `remove` never allocate.
// - The index is open addressing with linear probing, a power of two in size
//   and at most half full; index[slot] = id + 1, 0 marks an empty slot.
// - Ids come from a queue of free ids, taken 0, 1, 2, … so ids start small.
//   On one thread a freed id comes back first; on shared memory (mem.ts)
//   last, so an id another thread looked up a moment ago does not name a
//   new key by the time it is used. An id stays the same while its key is
//   in the table, so callers keep per-id data in their own typed arrays.
// - The arrays come from a Mem (mem.ts): writers (insert, remove) take its
//   lock, `find` reads under its sequence number.
// - Removal is by backward shift (no tombstones), so lookups of the
//   remaining keys stay correct and short.

import { localMem, type Mem } from './mem.js';

export class AddrTable {
  /** The most keys the table holds at once. */
  readonly capacity: number;
  /** Four address words per id, unsigned. Callers read them; only the table writes them. */
  readonly words: Uint32Array;
  /** The tag of each id. Read-only for callers, as `words`. */
  readonly tags: Uint16Array;

  private readonly used: Uint8Array;
  private readonly freeIds: Int32Array; // a ring of free ids: FREE_COUNT of them from FREE_HEAD on
  private readonly free: Int32Array;    // FREE_HEAD, FREE_COUNT
  private readonly index: Int32Array;
  private readonly mask: number;

  /** `what` names the table in the error for a bad capacity. */
  constructor(capacity: number, what: string, readonly mem: Mem = localMem()) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 0x1000000) {
      throw new RangeError(`${what} capacity must be an integer 1..16777216, got ${capacity}`);
    }
    this.capacity = capacity;
    this.words = mem.u32(capacity * 4);
    this.tags = mem.u16(capacity);
    this.used = mem.u8(capacity);
    this.freeIds = mem.i32(capacity);
    this.free = mem.i32(2);
    if (mem.fresh) {
      for (let i = 0; i < capacity; i++) this.freeIds[i] = i;
      this.free[FREE_COUNT] = capacity;
    }
    let size = 8;
    while (size < capacity * 2) size *= 2;
    this.index = mem.i32(size);
    this.mask = size - 1;
  }

  /** Keys in the table. */
  get count(): number { return this.capacity - this.free[FREE_COUNT]; }

  /** True when `id` holds a key. */
  has(id: number): boolean {
    return id >= 0 && id < this.capacity && this.used[id] === 1;
  }

  /** The id of (words, tag), or -1. Words may be passed signed or unsigned. */
  find(w0: number, w1: number, w2: number, w3: number, tag: number): number {
    const mem = this.mem;
    for (;;) {
      const s = mem.seq();
      if ((s & 1) !== 0) continue;
      const id = this.index[this.probe(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0, tag & 0xffff)] - 1;
      if (mem.seq() === s) return id;
    }
  }

  /** The id of (words, tag), adding the key if it is new; -1 when it is new and the table is full. */
  insert(w0: number, w1: number, w2: number, w3: number, tag: number): number {
    w0 >>>= 0; w1 >>>= 0; w2 >>>= 0; w3 >>>= 0; tag &= 0xffff;
    this.mem.lock();
    try {
      const s = this.probe(w0, w1, w2, w3, tag);
      if (this.index[s] !== 0) return this.index[s] - 1;
      const free = this.free;
      if (free[FREE_COUNT] === 0) return -1;
      const id = this.freeIds[free[FREE_HEAD]];
      free[FREE_HEAD] = (free[FREE_HEAD] + 1) % this.capacity;
      free[FREE_COUNT]--;
      const a = id * 4;
      this.words[a] = w0; this.words[a + 1] = w1; this.words[a + 2] = w2; this.words[a + 3] = w3;
      this.tags[id] = tag;
      this.used[id] = 1;
      this.index[s] = id + 1;
      return id;
    } finally {
      this.mem.unlock();
    }
  }

  /** Takes the key of a live id out of the table and frees the id. */
  remove(id: number): void {
    this.mem.lock();
    try {
      this.removeFromIndex(id);
      this.used[id] = 0;
      const free = this.free, cap = this.capacity;
      if (this.mem.shared) {
        this.freeIds[(free[FREE_HEAD] + free[FREE_COUNT]) % cap] = id;
      } else {
        free[FREE_HEAD] = (free[FREE_HEAD] + cap - 1) % cap;
        this.freeIds[free[FREE_HEAD]] = id;
      }
      free[FREE_COUNT]++;
    } finally {
      this.mem.unlock();
    }
  }

  /** The index slot holding the key, or the empty slot where it would go. */
  private probe(w0: number, w1: number, w2: number, w3: number, tag: number): number {
    const index = this.index, words = this.words, tags = this.tags, mask = this.mask;
    let s = hashKey(w0, w1, w2, w3, tag) & mask;
    for (let e = index[s]; e !== 0; e = index[s]) {
      const id = e - 1, a = id * 4;
      if (words[a + 3] === w3 && words[a + 2] === w2 && words[a + 1] === w1 && words[a] === w0 && tags[id] === tag) break;
      s = (s + 1) & mask;
    }
    return s;
  }

  /**
   * Backward-shift deletion: empty the slot, then move each later entry of
   * the probe run into the hole when the hole lies between its home slot and
   * where it sits, so no run is broken by the gap.
   */
  private removeFromIndex(id: number): void {
    const index = this.index, words = this.words, tags = this.tags, mask = this.mask;
    const a = id * 4;
    let hole = hashKey(words[a], words[a + 1], words[a + 2], words[a + 3], tags[id]) & mask;
    while (index[hole] !== id + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const o = index[j] - 1, b = o * 4;
      const home = hashKey(words[b], words[b + 1], words[b + 2], words[b + 3], tags[o]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index[hole] = index[j];
        hole = j;
      }
    }
    index[hole] = 0;
  }
}

const FREE_HEAD = 0, FREE_COUNT = 1;

function hashKey(w0: number, w1: number, w2: number, w3: number, tag: number): number {
  // IPv4 addresses differ only in w3, so w3 and the tag get the full mix.
  let h = Math.imul(w3 ^ (tag << 16) ^ tag, 0x9e3779b1);
  h ^= Math.imul(w2, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ Math.imul(w0, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
