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
// - Capacity is fixed at construction; all storage is typed arrays allocated
//   then. `intern` finds or adds a peer through an open-addressing index
//   (linear probing, power-of-two size, at most half full) keyed by the
//   address words and the UDP port, so the receive path can turn a datagram's
//   source into an id without allocating.
// - Ids are reference counted. Whoever keeps an id beyond the current call
//   (an FDB entry, a flood list) holds a reference with `ref` and gives it
//   back with `unref`; when the count drops to 0 the peer is freed and its id
//   is reused by a later `intern`. A freshly interned peer has count 0 and
//   stays until it is referenced and released, or until `releaseIfUnused` —
//   the receive path calls that when the FDB refused to store the peer, so a
//   stream of spoofed sources cannot fill the table with unreferenced peers.
// - Removal from the index is by backward shift (no tombstones), so lookups
//   of the remaining peers stay correct and short.
//
// Only `internIp`, `ipString` and `toString` allocate; they are for config
// and display.

import { isIP } from 'node:net';

/** RFC 4291 §2.5.5.2: the third word of an IPv4-mapped IPv6 address. */
const V4_MAPPED_W2 = 0xffff;
/** `refs` value of a free id. */
const FREE = -1;

export class PeerTable {
  /** The most peers the table can hold at once. */
  readonly capacity: number;

  private readonly addr: Uint32Array;   // 4 words per id
  private readonly ports: Uint16Array;
  private readonly refs: Int32Array;    // FREE, or the reference count
  private readonly freeIds: Int32Array; // stack of free ids; top at freeTop - 1
  private freeTop: number;
  private live = 0;

  // index[slot] = id + 1; 0 marks an empty slot.
  private readonly index: Int32Array;
  private readonly mask: number;

  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 0x1000000) {
      throw new RangeError(`peer table capacity must be an integer 1..16777216, got ${capacity}`);
    }
    this.capacity = capacity;
    this.addr = new Uint32Array(capacity * 4);
    this.ports = new Uint16Array(capacity);
    this.refs = new Int32Array(capacity).fill(FREE);
    this.freeIds = new Int32Array(capacity);
    // Pop order 0, 1, 2, … so ids start small and a freed id comes back first.
    for (let i = 0; i < capacity; i++) this.freeIds[i] = capacity - 1 - i;
    this.freeTop = capacity;
    let size = 8;
    while (size < capacity * 2) size *= 2;
    this.index = new Int32Array(size);
    this.mask = size - 1;
  }

  /** Live peers. */
  get count(): number { return this.live; }

  /**
   * The id of (address words, port), adding the peer if it is new (with
   * reference count 0). -1 when the peer is new and the table is full.
   * Never allocates; words may be passed signed or unsigned.
   */
  intern(w0: number, w1: number, w2: number, w3: number, port: number): number {
    w0 >>>= 0; w1 >>>= 0; w2 >>>= 0; w3 >>>= 0; port &= 0xffff;
    const s = this.probe(w0, w1, w2, w3, port);
    if (this.index[s] !== 0) return this.index[s] - 1;
    if (this.freeTop === 0) return -1;
    const id = this.freeIds[--this.freeTop];
    const a = id * 4;
    this.addr[a] = w0; this.addr[a + 1] = w1; this.addr[a + 2] = w2; this.addr[a + 3] = w3;
    this.ports[id] = port;
    this.refs[id] = 0;
    this.index[s] = id + 1;
    this.live++;
    return id;
  }

  /** The id of (address words, port), or -1. Never allocates. */
  find(w0: number, w1: number, w2: number, w3: number, port: number): number {
    return this.index[this.probe(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0, port & 0xffff)] - 1;
  }

  /**
   * Config time: interns an IPv4 or IPv6 address given as text. Throws on a
   * malformed address or port, an IPv6 zone ('%eth0', which the table cannot
   * represent), or a full table.
   */
  internIp(ip: string, port: number): number {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new Error(`peer ${ip}: port must be an integer 1..65535, got ${port}`);
    }
    const w = parseIp(ip);
    const id = this.intern(w[0], w[1], w[2], w[3], port);
    if (id < 0) throw new Error(`peer table is full (${this.capacity} peers): cannot add ${ip} port ${port}`);
    return id;
  }

  /** True when `id` is a live peer. */
  has(id: number): boolean {
    return id >= 0 && id < this.capacity && this.refs[id] !== FREE;
  }

  /** True for an IPv4 peer (stored IPv4-mapped). */
  isV4(id: number): boolean {
    const a = id * 4;
    return this.addr[a] === 0 && this.addr[a + 1] === 0 && this.addr[a + 2] === V4_MAPPED_W2;
  }

  port(id: number): number { return this.ports[id]; }

  /** Address word `i` (0..3) of peer `id`, unsigned; for IPv4, word 3 is the address. */
  word(id: number, i: number): number { return this.addr[id * 4 + i]; }

  /**
   * Writes the peer's address in network order at `buf[off]`: 4 bytes for
   * IPv4, 16 for IPv6. Returns that length. The caller makes room.
   */
  writeAddr(id: number, buf: Uint8Array, off: number): number {
    const a = id * 4;
    if (this.isV4(id)) {
      writeWord(buf, off, this.addr[a + 3]);
      return 4;
    }
    for (let i = 0; i < 4; i++) writeWord(buf, off + i * 4, this.addr[a + i]);
    return 16;
  }

  // ---- reference counts ----

  /** Takes a reference on a live peer. */
  ref(id: number): void {
    this.check(id);
    this.refs[id]++;
  }

  /** Gives back a reference; the peer is freed when the count reaches 0. */
  unref(id: number): void {
    this.check(id);
    if (this.refs[id] === 0) throw new Error(`peer ${id}: unref without a reference`);
    if (--this.refs[id] === 0) this.free(id);
  }

  /** Frees a live peer nobody references (e.g. interned, then refused by the FDB). */
  releaseIfUnused(id: number): boolean {
    if (!this.has(id) || this.refs[id] !== 0) return false;
    this.free(id);
    return true;
  }

  /** The reference count of a live peer, or -1 for a free id. */
  refCount(id: number): number {
    return this.has(id) ? this.refs[id] : -1;
  }

  // ---- display (allocates) ----

  /** '198.18.0.2' or 'fd00::2' (RFC 5952 form). */
  ipString(id: number): string {
    const a = id * 4, w = this.addr;
    if (this.isV4(id)) {
      const v = w[a + 3];
      return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
    }
    const g: number[] = [];
    for (let i = 0; i < 4; i++) g.push(w[a + i] >>> 16, w[a + i] & 0xffff);
    return formatV6(g);
  }

  /** '198.18.0.2:8472' or '[fd00::2]:8472'. */
  toString(id: number): string {
    return this.isV4(id) ? `${this.ipString(id)}:${this.ports[id]}` : `[${this.ipString(id)}]:${this.ports[id]}`;
  }

  // ---- internals ----

  /** The index slot holding the peer, or the empty slot where it would go. */
  private probe(w0: number, w1: number, w2: number, w3: number, port: number): number {
    const index = this.index, addr = this.addr, ports = this.ports, mask = this.mask;
    let s = hashPeer(w0, w1, w2, w3, port) & mask;
    for (let e = index[s]; e !== 0; e = index[s]) {
      const id = e - 1, a = id * 4;
      if (addr[a + 3] === w3 && addr[a + 2] === w2 && addr[a + 1] === w1 && addr[a] === w0 && ports[id] === port) break;
      s = (s + 1) & mask;
    }
    return s;
  }

  private check(id: number): void {
    if (!this.has(id)) throw new RangeError(`peer ${id} is not a live peer id`);
  }

  private free(id: number): void {
    this.removeFromIndex(id);
    this.refs[id] = FREE;
    this.freeIds[this.freeTop++] = id;
    this.live--;
  }

  /**
   * Backward-shift deletion: empty the slot, then move each later entry of
   * the probe run into the hole when the hole lies between its home slot and
   * where it sits, so no run is broken by the gap.
   */
  private removeFromIndex(id: number): void {
    const index = this.index, addr = this.addr, mask = this.mask;
    const a = id * 4;
    let hole = hashPeer(addr[a], addr[a + 1], addr[a + 2], addr[a + 3], this.ports[id]) & mask;
    while (index[hole] !== id + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const o = index[j] - 1, b = o * 4;
      const home = hashPeer(addr[b], addr[b + 1], addr[b + 2], addr[b + 3], this.ports[o]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index[hole] = index[j];
        hole = j;
      }
    }
    index[hole] = 0;
  }
}

/** Four address words at `w[a]` (IPv4-mapped for IPv4, as batches hold them) as text. For display. */
export function formatAddrWords(w: ArrayLike<number>, a = 0): string {
  if (w[a] === 0 && w[a + 1] === 0 && w[a + 2] === V4_MAPPED_W2) {
    const v = w[a + 3];
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[a + i] >>> 16, w[a + i] & 0xffff);
  return formatV6(g);
}

function hashPeer(w0: number, w1: number, w2: number, w3: number, port: number): number {
  // IPv4 peers differ only in w3, so w3 and the port get the full mix.
  let h = Math.imul(w3 ^ (port << 16) ^ port, 0x9e3779b1);
  h ^= Math.imul(w2, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ Math.imul(w0, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function writeWord(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24; buf[off + 1] = v >>> 16; buf[off + 2] = v >>> 8; buf[off + 3] = v;
}

/** Text to four address words (IPv4 → IPv4-mapped). Throws with the input in the message. */
function parseIp(ip: string): [number, number, number, number] {
  const fam = typeof ip === 'string' ? isIP(ip) : 0;
  if (fam === 4) return [0, 0, V4_MAPPED_W2, parseV4(ip)];
  if (fam === 6) {
    if (ip.includes('%')) throw new Error(`peer address ${JSON.stringify(ip)}: IPv6 zone indexes are not supported`);
    const g = parseV6Groups(ip);
    return [
      ((g[0] << 16) | g[1]) >>> 0, ((g[2] << 16) | g[3]) >>> 0,
      ((g[4] << 16) | g[5]) >>> 0, ((g[6] << 16) | g[7]) >>> 0,
    ];
  }
  throw new Error(`peer address ${JSON.stringify(ip)}: not an IPv4 or IPv6 address`);
}

// Both parsers run only after isIP() accepted the text, so they need not
// re-validate it.
function parseV4(s: string): number {
  const p = s.split('.');
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

function parseV6Groups(s: string): number[] {
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    // Dotted IPv4 in the last 32 bits (RFC 4291 §2.2, form 3).
    const v4 = parseV4(s.slice(lastColon + 1));
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.endsWith('::' + s.slice(lastColon + 1)) ? s.slice(0, lastColon + 1) : s.slice(0, lastColon);
  }
  const hex = (part: string): number[] => (part === '' ? [] : part.split(':').map((x) => parseInt(x, 16)));
  const dbl = s.indexOf('::');
  if (dbl < 0) return [...hex(s), ...tail];
  const left = hex(s.slice(0, dbl));
  const right = [...hex(s.slice(dbl + 2)), ...tail];
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups as '::'. */
function formatV6(g: number[]): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const h = g.map((x) => x.toString(16));
  if (best < 0) return h.join(':');
  return `${h.slice(0, best).join(':')}::${h.slice(best + bestLen).join(':')}`;
}
