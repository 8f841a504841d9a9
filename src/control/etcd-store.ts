// The etcd v3 store, in flannel's key layout so flanneld and weft share one
// network:
//
//   <prefix>/config                     net-conf.json (written by the operator)
//   <prefix>/subnets/10.244.1.0-24      a lease's JSON, attached to an etcd lease (its TTL)
//
// Design notes.
// - A lease's TTL is an etcd lease: etcd deletes the key when it lapses and
//   every watcher sees the deletion, with no clock shared between hosts.
//   Renewing grants a fresh etcd lease and re-puts the key on it (a
//   compare-and-swap on the key's mod_revision), then revokes the old one,
//   as flannel does; nothing keeps a keep-alive stream open for a 24 h TTL.
// - create is a transaction "create_revision == 0 → put"; update is
//   "mod_revision == R → put": the store's revision is etcd's. A lease with
//   an IPv6 half (key `10.244.5.0-24&fd00:244:0:5::-64`) could collide with
//   another host's under a different key (same IPv6 subnet, another IPv4
//   one), which no per-key compare sees: its create lists the leases at
//   revision R, refuses if one shares a half, and commits only if nothing
//   under `<prefix>/subnets/` changed since R (a range compare on
//   mod_revision), so of two hosts racing for one IPv6 subnet one loses.
// - The watch is one prefix watch on `<prefix>/subnets/`. The etcd3 client
//   reconnects a dropped stream by itself and resumes from the next revision;
//   weft does not rely on that: when the stream drops it reports one `outage`,
//   and when it is back it re-lists (a snapshot) and watches again from the
//   listed revision. If etcd compacted the revisions the watch needed, etcd
//   cancels it; that too ends in a re-list. So the caller always converges
//   on a snapshot, as flannel's watcher does when it falls behind.
// - Calls carry a deadline (CALL_TIMEOUT_MS), and the client's own retry and
//   circuit-breaker policies are off: the layer above decides when to retry,
//   and after an outage the first call goes straight through.

import { CompareResult, CompareTarget, Etcd3, type Watcher } from 'etcd3';
import { noop } from 'cockatiel';
import { RuntimeError } from '../config/errors.js';
import { parseSubnetKey, sharesHalf, subnetKey, type Subnet } from './ip4.js';
import type { LeaseStore, StoredLease, StoreWatch, WatchEvent } from './store.js';
import { DEFAULT_ETCD_PREFIX } from './defaults.js';
import type { EtcdSecurity } from '../config/etcd-auth.js';
import { explainEtcdError, loadEtcdCredentials, quietIpServerName } from './etcd-tls.js';

const CALL_TIMEOUT_MS = 5000;
const DIAL_TIMEOUT_MS = 5000;
/** Watch stream reconnect and re-list retry interval. */
const RETRY_MS = 1000;

/** Leases per list response: about 0.8 MB of flannel's lease values, well under gRPC's 4 MB limit. */
const LIST_PAGE = 5000;

interface Kv { key: Buffer; value: Buffer; mod_revision: string; lease: string }

/** The end of the key range holding every key that starts with `prefix` (etcd's "prefix plus one"). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) return Buffer.concat([b.subarray(0, i), Buffer.from([b[i] + 1])]);
  }
  return Buffer.from([0]); // all 0xff: every key from it on
}

export class EtcdStore implements LeaseStore {
  readonly describe: string;
  private readonly client: Etcd3;
  private readonly subnetsPrefix: string;
  private readonly now: () => number;

  private readonly security: EtcdSecurity;

  /** `opts.security`: TLS files and a user (etcd-tls.ts reads and checks them; throws a RuntimeError naming the bad one). */
  constructor(endpoints: string[], readonly prefix = DEFAULT_ETCD_PREFIX, opts: { now?: () => number; security?: EtcdSecurity } = {}) {
    this.describe = `etcd ${endpoints.join(',')} ${prefix}`;
    this.subnetsPrefix = `${prefix.replace(/\/+$/, '')}/subnets/`;
    this.now = opts.now ?? Date.now;
    this.security = opts.security ?? { tls: null, auth: null };
    quietIpServerName(endpoints);
    this.client = new Etcd3({
      hosts: endpoints,
      ...loadEtcdCredentials(this.security),
      dialTimeout: DIAL_TIMEOUT_MS,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      faultHandling: {
        host: () => noop,
        global: noop,
        watchBackoff: { duration: RETRY_MS, next() { return this; } },
      },
    });
  }

  async getConfig(): Promise<string | null> {
    return this.call('read the network configuration', () => this.client.get(this.configKey()).string());
  }

  watchConfig(on: (text: string | null) => void): StoreWatch {
    let closed = false;
    let watcher: Watcher | null = null;
    // The client re-establishes this watch after an outage by itself; its errors are the lease watch's to report.
    this.client.watch().key(this.configKey()).create().then((w) => {
      if (closed) { w.cancel().catch(() => {}); return; }
      watcher = w;
      w.on('put', (kv) => on(kv.value.toString()));
      w.on('delete', () => on(null));
      w.on('error', () => { /* reported by the lease watch */ });
    }, () => { /* the same */ });
    return {
      close: () => {
        closed = true;
        watcher?.removeAllListeners();
        watcher?.on('error', () => {});
        watcher?.cancel().catch(() => {});
      },
    };
  }

  private configKey(): string {
    return `${this.prefix.replace(/\/+$/, '')}/config`;
  }

  async get(subnet: Subnet): Promise<StoredLease | null> {
    const r = await this.call('read a lease', () => this.client.get(this.key(subnet)).exec());
    const kv = r.kvs[0] as Kv | undefined;
    return kv ? this.toLease(kv) : null;
  }

  /**
   * Every lease, read in pages of LIST_PAGE keys, all at the first page's
   * revision (one consistent snapshot): in one response, 30,000 leases
   * outgrew gRPC's 4 MB message limit and weft could not start. A
   * compaction between pages fails the list, which the caller retries.
   */
  async list(): Promise<{ leases: StoredLease[]; revision: number }> {
    return this.call('list leases', async () => {
      const leases: StoredLease[] = [];
      const end = prefixEnd(this.subnetsPrefix);
      let key = Buffer.from(this.subnetsPrefix);
      let revision = 0;
      for (;;) {
        const r = await this.client.kv.range({ key, range_end: end, limit: LIST_PAGE, ...(revision ? { revision } : {}) });
        if (!revision) revision = Number(r.header.revision);
        for (const kv of r.kvs as Kv[]) {
          const l = this.toLease(kv);
          if (l) leases.push(l);
        }
        if (!r.more || r.kvs.length === 0) return { leases, revision };
        key = Buffer.concat([r.kvs[r.kvs.length - 1].key, Buffer.from([0])]); // the next key after the page's last
      }
    });
  }

  async create(subnet: Subnet, value: string, ttlMs: number): Promise<StoredLease | null> {
    if (subnet.v6) return this.createDual(subnet, value, ttlMs);
    const key = this.key(subnet);
    return this.call('create a lease', async () => {
      const leaseId = await this.grant(ttlMs);
      const r = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(value).lease(leaseId)).commit();
      if (!r.succeeded) {
        await this.revoke(leaseId);
        return null;
      }
      return { subnet, value, revision: Number(r.header.revision), expiresMs: this.now() + ttlMs };
    });
  }

  /** create for a lease with an IPv6 half: see the file's comment. */
  private async createDual(subnet: Subnet, value: string, ttlMs: number): Promise<StoredLease | null> {
    const key = this.key(subnet);
    return this.call('create a lease', async () => {
      const listed = await this.client.getAll().prefix(this.subnetsPrefix).exec();
      for (const kv of listed.kvs as Kv[]) {
        const held = parseSubnetKey(kv.key.toString().slice(this.subnetsPrefix.length));
        if (held && sharesHalf(held, subnet)) return null;
      }
      const rev = BigInt(listed.header.revision);
      const prefix = Buffer.from(this.subnetsPrefix);
      const end = Buffer.from(prefix);
      end[end.length - 1]++; // the prefix's range end: '/' + 1
      const leaseId = await this.grant(ttlMs);
      const r = await this.client.kv.txn({
        compare: [
          { key: prefix, range_end: end, target: CompareTarget.Mod, result: CompareResult.Less, mod_revision: String(rev + 1n) },
          { key: Buffer.from(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' },
        ],
        success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: leaseId } }],
        failure: [],
      });
      if (!r.succeeded) {
        await this.revoke(leaseId);
        return null;
      }
      return { subnet, value, revision: Number(r.header.revision), expiresMs: this.now() + ttlMs };
    });
  }

  async update(subnet: Subnet, value: string, ttlMs: number, revision: number): Promise<StoredLease | null> {
    const key = this.key(subnet);
    return this.call('renew a lease', async () => {
      const cur = (await this.client.get(key).exec()).kvs[0] as Kv | undefined;
      if (!cur || Number(cur.mod_revision) !== revision) return null;
      const leaseId = await this.grant(ttlMs);
      const r = await this.client.if(key, 'Mod', '==', revision).then(this.client.put(key).value(value).lease(leaseId)).commit();
      if (!r.succeeded) {
        await this.revoke(leaseId);
        return null;
      }
      if (cur.lease !== '0') await this.revoke(cur.lease);
      return { subnet, value, revision: Number(r.header.revision), expiresMs: this.now() + ttlMs };
    });
  }

  async delete(subnet: Subnet): Promise<void> {
    await this.call('delete a lease', () => this.client.delete().key(this.key(subnet)).exec());
  }

  watch(afterRevision: number, on: (e: WatchEvent) => void): StoreWatch {
    let closed = false;
    let down = false;
    let watcher: Watcher | null = null;
    let retry: NodeJS.Timeout | null = null;
    // Events at or below the last snapshot's revision are already in it.
    let floor = afterRevision;

    const outage = (reason: string) => {
      if (down || closed) return;
      down = true;
      on({ type: 'outage', reason });
    };
    const later = (fn: () => void) => {
      if (closed) return;
      retry = setTimeout(fn, RETRY_MS);
      retry.unref();
    };
    // A watcher etcd already cancelled is gone from the client's list; a
    // cancel request for it would bring back a response for an id the client
    // no longer knows, which the etcd3 client throws from inside its stream
    // handler ("Failed to find watcher"), ending the process.
    const drop = (cancelledByEtcd = false) => {
      if (!watcher) return;
      const w = watcher;
      watcher = null;
      w.removeAllListeners();
      w.on('error', () => { /* late errors from a watcher we gave up on */ });
      if (!cancelledByEtcd) w.cancel().catch(() => { /* the stream is gone anyway */ });
    };
    const start = async (from: number): Promise<void> => {
      let w: Watcher;
      try {
        w = await this.client.watch().prefix(this.subnetsPrefix).startRevision(String(from + 1)).create();
      } catch (e) {
        outage(this.explain(e));
        later(resync);
        return;
      }
      if (closed) { w.cancel().catch(() => {}); return; }
      watcher = w;
      w.on('put', (kv) => {
        if (Number(kv.mod_revision) <= floor) return;
        const l = this.toLease(kv as Kv);
        if (l) on({ type: 'put', lease: l });
      });
      w.on('delete', (kv) => {
        const subnet = parseSubnetKey(kv.key.toString().slice(this.subnetsPrefix.length));
        if (subnet && Number(kv.mod_revision) > floor) on({ type: 'delete', subnet, revision: Number(kv.mod_revision) });
      });
      w.on('disconnected', (err: Error) => outage(this.explain(err)));
      // Back from an outage: start over from a snapshot rather than trust the replay.
      w.on('connected', () => { if (down) { drop(); void resync(); } });
      // Cancelled by etcd. A watch that fell behind past a compaction is
      // cancelled with no reason text (the response carries only the
      // compact revision), so an empty reason is said as that.
      w.on('error', (err: Error) => {
        drop(true);
        const why = err.message.replace(/^Watcher canceled:\s*/, '');
        void resync(`etcd cancelled the watch: ${why || 'the revisions it needed were compacted'}`);
      });
    };
    const resync = async (reason?: string): Promise<void> => {
      if (closed) return;
      let snap: { leases: StoredLease[]; revision: number };
      try {
        snap = await this.list();
      } catch (e) {
        outage((e as Error).message);
        later(resync);
        return;
      }
      if (closed) return;
      down = false;
      floor = snap.revision;
      on({ type: 'snapshot', leases: snap.leases, revision: snap.revision, ...(reason ? { reason } : {}) });
      await start(snap.revision);
    };
    void start(afterRevision);
    return {
      close: () => {
        closed = true;
        if (retry) clearTimeout(retry);
        drop();
      },
    };
  }

  async close(): Promise<void> {
    this.client.close();
  }

  // ---- internals ----

  /** An etcd client error as one line naming what to fix (TLS, user, permissions), never the password. */
  private explain(e: unknown): string {
    return explainEtcdError((e as Error)?.message ?? String(e), { security: this.security, prefix: this.prefix });
  }

  private key(subnet: Subnet): string {
    return this.subnetsPrefix + subnetKey(subnet);
  }

  private toLease(kv: Kv): StoredLease | null {
    const subnet = parseSubnetKey(kv.key.toString().slice(this.subnetsPrefix.length));
    return subnet ? { subnet, value: kv.value.toString(), revision: Number(kv.mod_revision), expiresMs: 0 } : null;
  }

  private async grant(ttlMs: number): Promise<string> {
    const r = await this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlMs / 1000)), ID: 0 });
    return String(r.ID);
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id });
    } catch { /* it lapses by itself */ }
  }

  /** Runs an etcd call, turning its failure into one line that names the store and what was being done. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw new RuntimeError(`${this.describe}: cannot ${what}: ${this.explain(e)}`);
    }
  }
}
