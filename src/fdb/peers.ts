// The underlay endpoints (remote VTEPs) as small integer ids.
//
// Design notes. The forwarding table, flood lists and send lists store a peer
// as an int32 id instead of an address string or object, so a table entry is
// a few typed-array slots and the hot path compares integers. This table is
// the one place that maps ids to addresses and back:
//
// - Every address is four 32-bit words, big-endian order, as the 16 bytes of
//   an IPv6 address; an IPv4 address is stored IPv4-mapped (RFC 4291 §2.5.5.2:
//   w0 = 0, w1 = 0, w2 = 0xffff, w3 = the IPv4 address). So '::ffff:1.2.3.4'
//   and '1.2.3.4' are the same peer, which is what the kernel does on a
//   dual-stack socket.
// - Capacity is fixed at construction. The ids and the index (address words
//   and UDP port → id) are an AddrTable (addr-table.ts), so the receive path
//   can turn a datagram's source into an id without allocating.
// - Ids are reference counted. Whoever keeps an id beyond the current call
//   (an FDB entry, a flood list) holds a reference with `ref` and gives it
//   back with `unref`; when the count drops to 0 the peer is freed and its id
//   is reused by a later `intern`. A freshly interned peer has count 0 and
//   stays until it is referenced and released, or until `releaseIfUnused` —
//   the receive path calls that when the FDB refused to store the peer, so a
//   stream of spoofed sources cannot fill the table with unreferenced peers.
//
// - On shared memory (mem.ts) every thread sees the same ids: interning,
//   references and freeing take the Mem's lock; lookups read under its
//   sequence number.
//
// Only `internIp`, `tryInternIp`, `ipString` and `toString` allocate; they are for config
// and display.

import { AddrTable } from './addr-table.js';
import { localMem, type Mem } from './mem.js';
import { formatHostPort, ipToWords, V4_MAPPED_W2, wordsToIp } from '../wire/ipv6.js';

export class PeerTable {
  /** The most peers the table can hold at once. */
  readonly capacity: number;

  private readonly t: AddrTable;     // (address words, port) → id
  private readonly refs: Int32Array; // reference count of each live id

  constructor(capacity = 4096, readonly mem: Mem = localMem()) {
    this.t = new AddrTable(capacity, 'peer table', mem);
    this.capacity = capacity;
    this.refs = mem.i32(capacity);
  }

  /** Live peers. */
  get count(): number { return this.t.count; }

  /**
   * The id of (address words, port), adding the peer if it is new (with
   * reference count 0). -1 when the peer is new and the table is full.
   * Never allocates; words may be passed signed or unsigned.
   */
  intern(w0: number, w1: number, w2: number, w3: number, port: number): number {
    // Known peers (every datagram after a peer's first) take one probe; only a new one takes two.
    const known = this.t.find(w0, w1, w2, w3, port);
    if (known >= 0) return known;
    this.mem.lock();
    try {
      // Another thread may have added it since the find: insert returns its id then.
      const fresh = this.t.find(w0, w1, w2, w3, port) < 0;
      const id = this.t.insert(w0, w1, w2, w3, port);
      if (id >= 0 && fresh) this.refs[id] = 0;
      return id;
    } finally {
      this.mem.unlock();
    }
  }

  /** The id of (address words, port), or -1. Never allocates. */
  find(w0: number, w1: number, w2: number, w3: number, port: number): number {
    return this.t.find(w0, w1, w2, w3, port);
  }

  /**
   * Config time: interns an IPv4 or IPv6 address given as text. Throws on a
   * malformed address or port, an IPv6 zone ('%eth0', which the table cannot
   * represent), or a full table.
   */
  internIp(ip: string, port: number): number {
    const id = this.tryInternIp(ip, port);
    if (id < 0) throw new Error(`peer table is full (${this.capacity} peers): cannot add ${ip} port ${port}`);
    return id;
  }

  /**
   * As internIp, but a full table is an answer (-1), not an error: for the
   * control plane, where a full table refuses one lease and weft carries on.
   * Still throws on a malformed address or port.
   */
  tryInternIp(ip: string, port: number): number {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new Error(`peer ${ip}: port must be an integer 1..65535, got ${port}`);
    }
    const w = ipToWords(ip);
    if (w === null) {
      const why = typeof ip === 'string' && ip.includes('%') ? 'IPv6 zone indexes are not supported' : 'not an IPv4 or IPv6 address';
      throw new Error(`peer address ${JSON.stringify(ip)}: ${why}`);
    }
    return this.intern(w[0], w[1], w[2], w[3], port);
  }

  /** True when `id` is a live peer. */
  has(id: number): boolean { return this.t.has(id); }

  /** True for an IPv4 peer (stored IPv4-mapped). */
  isV4(id: number): boolean {
    const a = id * 4, w = this.t.words;
    return w[a] === 0 && w[a + 1] === 0 && w[a + 2] === V4_MAPPED_W2;
  }

  port(id: number): number { return this.t.tags[id]; }

  /** Address word `i` (0..3) of peer `id`, unsigned; for IPv4, word 3 is the address. */
  word(id: number, i: number): number { return this.t.words[id * 4 + i]; }

  /**
   * Writes the peer's address in network order at `buf[off]`: 4 bytes for
   * IPv4, 16 for IPv6. Returns that length. The caller makes room.
   */
  writeAddr(id: number, buf: Uint8Array, off: number): number {
    const a = id * 4, w = this.t.words;
    if (this.isV4(id)) {
      writeWord(buf, off, w[a + 3]);
      return 4;
    }
    for (let i = 0; i < 4; i++) writeWord(buf, off + i * 4, w[a + i]);
    return 16;
  }

  // ---- reference counts ----

  /** Takes a reference on a live peer. */
  ref(id: number): void {
    this.mem.lock();
    try {
      this.check(id);
      this.refs[id]++;
    } finally {
      this.mem.unlock();
    }
  }

  /** Gives back a reference; the peer is freed when the count reaches 0. */
  unref(id: number): void {
    this.mem.lock();
    try {
      this.check(id);
      if (this.refs[id] === 0) throw new Error(`peer ${id}: unref without a reference`);
      if (--this.refs[id] === 0) this.t.remove(id);
    } finally {
      this.mem.unlock();
    }
  }

  /** Frees a live peer nobody references (e.g. interned, then refused by the FDB). */
  releaseIfUnused(id: number): boolean {
    this.mem.lock();
    try {
      if (!this.has(id) || this.refs[id] !== 0) return false;
      this.t.remove(id);
      return true;
    } finally {
      this.mem.unlock();
    }
  }

  /** The reference count of a live peer, or -1 for a free id. */
  refCount(id: number): number {
    return this.has(id) ? this.refs[id] : -1;
  }

  // ---- display (allocates) ----

  /** '198.18.0.2' or 'fd00::2' (RFC 5952 form). */
  ipString(id: number): string { return wordsToIp(this.t.words, id * 4); }

  /** '198.18.0.2:8472' or '[fd00::2]:8472'. */
  toString(id: number): string {
    return formatHostPort(this.ipString(id), this.port(id));
  }

  private check(id: number): void {
    if (!this.has(id)) throw new RangeError(`peer ${id} is not a live peer id`);
  }
}

function writeWord(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24; buf[off + 1] = v >>> 16; buf[off + 2] = v >>> 8; buf[off + 3] = v;
}
