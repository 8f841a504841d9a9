// The file store: every lease in one JSON file that the weft processes of one
// machine share (the netns demo and tests: one filesystem, many network
// namespaces). No server to run.
//
//   {"revision": 7,
//    "config": {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}},
//    "subnets": {"10.244.1.0-24": {"value": {"PublicIP": "198.18.0.1", …},
//                                  "revision": 5, "expires": 1718000000000}}}
//
// Design notes.
// - Readers never lock: a writer writes a temporary file next to the store
//   and renames it over the store, so a reader sees the old file or the new
//   one, whole.
// - Writers take `<file>.lock` (created with O_EXCL) around read-modify-write,
//   so two processes cannot both create the same subnet or lose each other's
//   updates; on top of that `update` compares revisions, as etcd's does. A
//   lock older than LOCK_STALE_MS is from a crashed writer and is broken.
// - Expiry is wall-clock time (`now`, an argument), the one clock that
//   separate processes share. Lapsed leases are invisible to reads and are
//   dropped by the next write.
// - The watch polls: a stat every `pollMs`, a read only when the file changed
//   or a lease is due to lapse, and then a snapshot for the caller to diff.
//   Polling needs nothing from the kernel beyond stat and works across mount
//   and network namespaces; 100 ms is well under anyone's convergence budget.

import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError } from '../config/errors.js';
import { parseSubnetKey, sharesHalf, subnetKey, type Subnet } from './ip4.js';
import type { LeaseStore, StoredLease, StoreWatch, WatchEvent } from './store.js';

const LOCK_WAIT_MS = 5000;
const LOCK_STALE_MS = 10_000;

interface FileEntry { value: unknown; revision: number; expires: number }
interface FileData { revision: number; config?: unknown; subnets: Record<string, FileEntry> }

export interface FileStoreOptions {
  /** Wall clock in ms (default Date.now). */
  now?: () => number;
  /** Watch poll interval (default 100 ms). */
  pollMs?: number;
}

export class FileStore implements LeaseStore {
  readonly describe: string;
  private readonly now: () => number;
  private readonly pollMs: number;

  constructor(readonly path: string, opts: FileStoreOptions = {}) {
    this.describe = `file ${path}`;
    this.now = opts.now ?? Date.now;
    this.pollMs = opts.pollMs ?? 100;
  }

  async getConfig(): Promise<string | null> {
    const d = this.read();
    return d.config === undefined ? null : JSON.stringify(d.config);
  }

  async get(subnet: Subnet): Promise<StoredLease | null> {
    return this.live(this.read()).find((l) => l.subnet.ip === subnet.ip && l.subnet.len === subnet.len) ?? null;
  }

  async list(): Promise<{ leases: StoredLease[]; revision: number }> {
    const d = this.read();
    return { leases: this.live(d), revision: d.revision };
  }

  async create(subnet: Subnet, value: string, ttlMs: number): Promise<StoredLease | null> {
    return this.locked(async (d) => {
      if (d.subnets[subnetKey(subnet)]) return null;
      // Lapsed leases were dropped by locked(): every key left is live.
      if (Object.keys(d.subnets).some((k) => { const o = parseSubnetKey(k); return o !== null && sharesHalf(o, subnet); })) return null;
      return this.put(d, subnet, value, ttlMs);
    });
  }

  async update(subnet: Subnet, value: string, ttlMs: number, revision: number): Promise<StoredLease | null> {
    return this.locked(async (d) => {
      const e = d.subnets[subnetKey(subnet)];
      if (!e || e.revision !== revision) return null;
      return this.put(d, subnet, value, ttlMs);
    });
  }

  async delete(subnet: Subnet): Promise<void> {
    await this.locked(async (d) => {
      if (!d.subnets[subnetKey(subnet)]) return null;
      delete d.subnets[subnetKey(subnet)];
      d.revision++;
      return null;
    });
  }

  /** Writes the network configuration into the file (used by set-up scripts and tests). */
  async setConfig(text: string): Promise<void> {
    const conf = JSON.parse(text) as unknown;
    await this.locked(async (d) => { d.config = conf; d.revision++; return null; });
  }

  watch(afterRevision: number, on: (e: WatchEvent) => void): StoreWatch {
    let seenRevision = afterRevision;
    let nextExpiry = Infinity;
    let stamp = '';
    let down = false;
    const tick = () => {
      let st: string;
      try {
        const s = statSync(this.path, { throwIfNoEntry: false });
        st = s ? `${s.ino}/${s.size}/${s.mtimeMs}` : 'none';
        if (st === stamp && this.now() < nextExpiry && !down) return;
        const d = this.read();
        const leases = this.live(d);
        nextExpiry = leases.reduce((m, l) => Math.min(m, l.expiresMs), Infinity);
        const lapsed = Object.keys(d.subnets).length !== leases.length;
        stamp = st;
        if (down) {
          down = false;
        } else if (d.revision === seenRevision && !lapsed) {
          return;
        }
        seenRevision = d.revision;
        on({ type: 'snapshot', leases, revision: d.revision });
      } catch (e) {
        if (!down) on({ type: 'outage', reason: (e as Error).message });
        down = true;
      }
    };
    const timer = setInterval(tick, this.pollMs);
    timer.unref();
    queueMicrotask(tick);
    return { close: () => clearInterval(timer) };
  }

  async close(): Promise<void> { /* nothing held between calls */ }

  // ---- internals ----

  private read(): FileData {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { revision: 0, subnets: {} };
      throw new RuntimeError(`lease file ${this.path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    let d: unknown;
    try {
      d = JSON.parse(text);
    } catch (e) {
      throw new RuntimeError(`lease file ${this.path}: not valid JSON (${(e as Error).message}); fix or remove it`);
    }
    const o = d as FileData;
    if (typeof o !== 'object' || o === null || typeof o.revision !== 'number' || typeof o.subnets !== 'object' || o.subnets === null) {
      throw new RuntimeError(`lease file ${this.path}: not a weft lease file ({"revision": N, "subnets": {…}}); fix or remove it`);
    }
    return o;
  }

  private live(d: FileData): StoredLease[] {
    const now = this.now();
    const out: StoredLease[] = [];
    for (const [k, e] of Object.entries(d.subnets)) {
      const subnet = parseSubnetKey(k);
      if (!subnet || e.expires <= now) continue;
      out.push({ subnet, value: JSON.stringify(e.value), revision: e.revision, expiresMs: e.expires });
    }
    return out;
  }

  private put(d: FileData, subnet: Subnet, value: string, ttlMs: number): StoredLease {
    const revision = ++d.revision;
    const expires = this.now() + ttlMs;
    d.subnets[subnetKey(subnet)] = { value: JSON.parse(value) as unknown, revision, expires };
    return { subnet, value, revision, expiresMs: expires };
  }

  /** Runs `fn` on the file's contents under the lock; writes them back if `fn` changed the revision. */
  private async locked<T>(fn: (d: FileData) => Promise<T>): Promise<T> {
    const lock = `${this.path}.lock`;
    mkdirSync(dirname(this.path), { recursive: true });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RuntimeError(`lease file ${lock}: cannot create the lock (${(e as NodeJS.ErrnoException).code})`);
        const st = statSync(lock, { throwIfNoEntry: false });
        if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) {
          try { unlinkSync(lock); } catch { /* another process broke it first */ }
          continue;
        }
        if (Date.now() > deadline) throw new RuntimeError(`lease file ${this.path}: locked by another process for ${LOCK_WAIT_MS} ms (${lock}); remove the lock if no weft is running`);
        await new Promise((r) => setTimeout(r, 2 + Math.min(attempt, 20)));
      }
    }
    try {
      const d = this.read();
      // Drop lapsed leases on every write, so the file does not grow with dead hosts.
      const now = this.now();
      let purged = false;
      for (const [k, e] of Object.entries(d.subnets)) if (e.expires <= now) { delete d.subnets[k]; purged = true; }
      if (purged) d.revision++;
      const before = d.revision;
      const out = await fn(d);
      if (d.revision !== before || purged) {
        const tmp = `${this.path}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(d, null, 1) + '\n');
        renameSync(tmp, this.path);
      }
      return out;
    } finally {
      try { unlinkSync(lock); } catch { /* already broken as stale */ }
    }
  }
}
