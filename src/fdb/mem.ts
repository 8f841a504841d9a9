// Where the tables keep their typed arrays, and how threads that share them
// take turns: the one scheme behind `weft run --workers N`.
//
// A table asks its Mem for every typed array it holds (`i32(n)`, `f64(n)`,
// …), in the same order each time it is built with the same options. Three
// kinds of Mem answer:
//
// - local: ordinary typed arrays; one thread. What weft does with one worker,
//   the tests and replay. Locks are counted but never contended.
// - shared: each array over a new SharedArrayBuffer, remembered in `buffers`.
//   The main thread builds its tables on one.
// - attach: hands out the arrays over the buffers a shared Mem made, in the
//   same order. A worker builds the same tables with the same options on one,
//   and gets views of the main thread's memory: one forwarding table, peer
//   table, source allow-list, flood lists and rate buckets for every thread.
//
// The rule for threads (docs/architecture.md, "Workers"):
//
// - Writers take the lock. Every change to a table's structure (an insert, a
//   removal, a reference count, a flood list) happens between `lock()` and
//   `unlock()`. The lock is one word for all tables, reentrant per thread (a
//   static entry takes a peer, a source and an FDB slot in one turn), held
//   for a few hundred nanoseconds, and spun on: Atomics.wait is not allowed
//   on the main thread, and the holder never blocks.
// - Readers do not lock. The outermost `lock()` makes `seq` odd and
//   `unlock()` makes it even again; a reader notes `seq` before a lookup and
//   retries when it was odd or has changed after (a seqlock), so a lookup
//   never sees a half-moved probe run. Lookups cost two Atomics.load more.
// - What may race: a learned entry's last-seen time and a rate bucket's
//   tokens are written without the lock (a lost refresh moves an expiry by
//   one batch; two workers may both take a bucket's last token), and a flood
//   list read while the control plane changes it may miss or repeat one
//   peer for one frame. Peer ids freed by one thread are handed out again
//   last (a FIFO of free ids, addr-table.ts), so an id a worker looked up a
//   moment before it sends does not name a new peer by then.

export interface Mem {
  /** True when the arrays are new (local, shared): the caller fills them; false when attached to filled ones. */
  readonly fresh: boolean;
  /** True for shared and attached memory: more than one thread may use it. */
  readonly shared: boolean;
  u8(n: number): Uint8Array;
  u16(n: number): Uint16Array;
  i32(n: number): Int32Array;
  u32(n: number): Uint32Array;
  f64(n: number): Float64Array;
  /** Takes the writers' lock (reentrant within a thread). */
  lock(): void;
  unlock(): void;
  /** The sequence number a reader checks: odd while a writer holds the lock. */
  seq(): number;
}

type Ctor<T> = { new(b: ArrayBufferLike, off?: number, len?: number): T; BYTES_PER_ELEMENT: number };

const LOCK = 0, SEQ = 1;

class ArrayMem implements Mem {
  readonly buffers: SharedArrayBuffer[] = [];
  /** The lock word (owner's id + 1, or 0) and the sequence number. */
  private readonly ctl: Int32Array;
  private readonly me: number;
  private depth = 0;
  private next = 0;

  constructor(readonly fresh: boolean, readonly shared: boolean, private readonly given: SharedArrayBuffer[] | null, threadId: number) {
    this.me = threadId + 1;
    this.ctl = this.i32(2);
  }

  private take<T>(C: Ctor<T>, n: number): T {
    if (this.given !== null) {
      const b = this.given[this.next++];
      if (b === undefined || b.byteLength !== n * C.BYTES_PER_ELEMENT) {
        throw new Error(`shared tables: array ${this.next - 1} is ${b?.byteLength ?? 'missing'} bytes, expected ${n * C.BYTES_PER_ELEMENT}: built with other options`);
      }
      return new C(b, 0, n);
    }
    if (!this.shared) return new C(new ArrayBuffer(n * C.BYTES_PER_ELEMENT), 0, n);
    const b = new SharedArrayBuffer(n * C.BYTES_PER_ELEMENT);
    this.buffers.push(b);
    return new C(b, 0, n);
  }

  u8(n: number): Uint8Array { return this.take(Uint8Array, n); }
  u16(n: number): Uint16Array { return this.take(Uint16Array, n); }
  i32(n: number): Int32Array { return this.take(Int32Array, n); }
  u32(n: number): Uint32Array { return this.take(Uint32Array, n); }
  f64(n: number): Float64Array { return this.take(Float64Array, n); }

  lock(): void {
    if (this.depth > 0) { this.depth++; return; }
    const ctl = this.ctl;
    while (Atomics.compareExchange(ctl, LOCK, 0, this.me) !== 0) { /* spin: the holder is inside a table operation */ }
    Atomics.add(ctl, SEQ, 1);
    this.depth = 1;
  }

  unlock(): void {
    if (this.depth === 0) throw new Error('shared tables: unlock without lock');
    if (--this.depth > 0) return;
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.store(this.ctl, LOCK, 0);
  }

  // The lock's holder is the only writer: what it reads is stable, and a reader inside a writer must not wait for itself.
  seq(): number { return this.depth > 0 ? 0 : Atomics.load(this.ctl, SEQ); }
}

/** Ordinary typed arrays, for one thread. */
export function localMem(): Mem {
  return new ArrayMem(true, false, null, 0);
}

/** Shared memory for tables other threads will attach to; `buffers` goes to them. */
export function sharedMem(threadId = 0): Mem & { readonly buffers: SharedArrayBuffer[] } {
  return new ArrayMem(true, true, null, threadId);
}

/** The arrays a sharedMem made, in the order it made them; `threadId` must differ per thread (worker_threads.threadId). */
export function attachMem(buffers: SharedArrayBuffer[], threadId: number): Mem {
  return new ArrayMem(false, true, buffers, threadId);
}
