// The lease store: where hosts publish their subnet leases and learn each
// other's. A small CRUD-plus-watch interface, kept apart from the allocation
// policy above it (allocate.ts) so that a store only stores: the file store
// (file-store.ts), etcd v3 (etcd-store.ts) and the in-memory twin below all
// behave the same, and one contract test (test/helpers/store-contract.ts)
// holds them to it.
//
// Contract:
// - Values are flannel's lease JSON text (lease.ts); a store never parses them.
// - Every successful write gets a revision larger than any before it in that
//   store; `update` is a compare-and-swap on it, `create` succeeds only when no
//   live lease holds the subnet, nor either half of a dual-stack one
//   (ip4.ts sharesHalf: the same IPv4 subnet, an overlapping IPv6 one). Both answer null when they lose a race, so
//   the caller re-reads and decides; they throw only when the store itself
//   fails (unreachable, unreadable).
// - A lease lapses `ttlMs` after its last create/update unless updated again:
//   it disappears from get/list and the watch reports its deletion.
// - `watch(afterRevision, on)` reports every change after `afterRevision`, in
//   order, as put/delete events. A watcher that falls behind (etcd compacted
//   the history it needed, the file changed under a poller, the connection
//   dropped) gets a `snapshot` of every live lease instead, and the caller
//   diffs it against what it knew; it never has to start over. While the
//   store is unreachable the watcher hears `outage` once, and a snapshot when
//   it is back.

import { sharesHalf, subnetKey, type Subnet } from './ip4.js';

export interface StoredLease {
  subnet: Subnet;
  /** flannel's lease JSON. */
  value: string;
  revision: number;
  /** Wall-clock ms at which it lapses; 0 when the store does not tell (etcd, for others' leases). */
  expiresMs: number;
}

export type WatchEvent =
  | { type: 'put'; lease: StoredLease }
  | { type: 'delete'; subnet: Subnet; revision: number }
  | { type: 'snapshot'; leases: StoredLease[]; revision: number }
  | { type: 'outage'; reason: string };

export interface StoreWatch {
  close(): void;
}

export interface LeaseStore {
  /** What this store is, for log lines: `etcd http://198.18.0.254:2379 /coreos.com/network`, `file /run/weft/leases.json`. */
  readonly describe: string;
  /** The network configuration text (flannel's `<prefix>/config`), or null when the store has none. */
  getConfig(): Promise<string | null>;
  get(subnet: Subnet): Promise<StoredLease | null>;
  list(): Promise<{ leases: StoredLease[]; revision: number }>;
  /** Creates the lease if the subnet is free; null when a live lease holds it or either of its halves. */
  create(subnet: Subnet, value: string, ttlMs: number): Promise<StoredLease | null>;
  /** Rewrites the lease and restarts its TTL if its revision is still `revision`; null otherwise. */
  update(subnet: Subnet, value: string, ttlMs: number, revision: number): Promise<StoredLease | null>;
  delete(subnet: Subnet): Promise<void>;
  watch(afterRevision: number, on: (e: WatchEvent) => void): StoreWatch;
  close(): Promise<void>;
}

/**
 * The in-memory twin: the contract with nothing behind it, for tests of the
 * policy and the reconciler. Time is the `now` argument; leases lapse when
 * a call finds them past their expiry, when `expire()` is called, or on a
 * 50 ms tick while anyone watches. Watchers hear events on a microtask, as
 * they would from a real store;
 * `fallBehind()` makes every watcher receive a snapshot instead, as a real
 * one would after a compaction.
 */
export class MemoryStore implements LeaseStore {
  readonly describe = 'memory';
  config: string | null;
  private leases = new Map<string, StoredLease>();
  private revision = 0;
  private watchers = new Set<(e: WatchEvent) => void>();
  private readonly now: () => number;
  private ticker: NodeJS.Timeout | null = null;

  constructor(opts: { config?: string | null; now?: () => number } = {}) {
    this.config = opts.config ?? null;
    this.now = opts.now ?? Date.now;
  }

  async getConfig(): Promise<string | null> { return this.config; }

  async get(subnet: Subnet): Promise<StoredLease | null> {
    this.expire();
    return this.leases.get(subnetKey(subnet)) ?? null;
  }

  async list(): Promise<{ leases: StoredLease[]; revision: number }> {
    this.expire();
    return { leases: [...this.leases.values()], revision: this.revision };
  }

  async create(subnet: Subnet, value: string, ttlMs: number): Promise<StoredLease | null> {
    this.expire();
    if (this.leases.has(subnetKey(subnet)) || [...this.leases.values()].some((l) => sharesHalf(l.subnet, subnet))) return null;
    return this.put(subnet, value, ttlMs);
  }

  async update(subnet: Subnet, value: string, ttlMs: number, revision: number): Promise<StoredLease | null> {
    this.expire();
    const old = this.leases.get(subnetKey(subnet));
    if (!old || old.revision !== revision) return null;
    return this.put(subnet, value, ttlMs);
  }

  async delete(subnet: Subnet): Promise<void> {
    if (this.leases.delete(subnetKey(subnet))) this.emit({ type: 'delete', subnet, revision: ++this.revision });
  }

  watch(afterRevision: number, on: (e: WatchEvent) => void): StoreWatch {
    this.watchers.add(on);
    // No history is kept: a watcher that asks for older revisions gets a snapshot.
    if (afterRevision < this.revision) {
      const leases = [...this.leases.values()], revision = this.revision;
      queueMicrotask(() => on({ type: 'snapshot', leases, revision }));
    }
    if (!this.ticker) {
      this.ticker = setInterval(() => this.expire(), 50);
      this.ticker.unref();
    }
    return {
      close: () => {
        this.watchers.delete(on);
        if (this.watchers.size === 0 && this.ticker) { clearInterval(this.ticker); this.ticker = null; }
      },
    };
  }

  async close(): Promise<void> {
    this.watchers.clear();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  /** Removes lapsed leases, reporting each deletion. */
  expire(): void {
    const now = this.now();
    for (const [k, l] of this.leases) {
      if (l.expiresMs <= now) {
        this.leases.delete(k);
        this.emit({ type: 'delete', subnet: l.subnet, revision: ++this.revision });
      }
    }
  }

  /** Test hook: every watcher gets a snapshot, as after a compaction. */
  fallBehind(): void {
    const leases = [...this.leases.values()], revision = this.revision;
    for (const w of this.watchers) queueMicrotask(() => w({ type: 'snapshot', leases, revision }));
  }

  private put(subnet: Subnet, value: string, ttlMs: number): StoredLease {
    const l: StoredLease = { subnet, value, revision: ++this.revision, expiresMs: this.now() + ttlMs };
    this.leases.set(subnetKey(subnet), l);
    this.emit({ type: 'put', lease: l });
    return l;
  }

  private emit(e: WatchEvent): void {
    for (const w of this.watchers) queueMicrotask(() => w(e));
  }
}
