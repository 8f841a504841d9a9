// The LeaseStore contract (src/control/store.ts) as a list of checks that any
// store must pass: the in-memory twin and the file store in
// test/unit/control-store.test.ts, etcd through test/helpers/etcd-contract.ts
// inside a netns host. Each check gets a fresh store; they use node:assert
// so they run under uvu or from a plain script.

import assert from 'node:assert/strict';
import type { LeaseStore, WatchEvent } from '../../src/control/store.js';
import { subnetKey, type Subnet } from '../../src/control/ip4.js';

export interface ContractCtx {
  store: LeaseStore;
  /** Makes the store forget history up to now (etcd: compaction), if it has any. */
  compact?: () => Promise<void>;
}

const s = (third: number): Subnet => ({ ip: (10 << 24 | 244 << 16 | third << 8) >>> 0, len: 24 });
const val = (ip: string) => JSON.stringify({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:01' } });
const HOUR = 3600_000;
/** A dual-stack lease's subnet: 10.244.T.0/24 with fd00:244:0:S::/64 (key `10.244.T.0-24&fd00:244:0:S::-64`). */
const d = (third: number, six: number): Subnet => ({ ...s(third), v6: { ip: (0xfd000244n << 96n) | (BigInt(six) << 64n), len: 64 } });

/** Applies watch events to a key → value map, the way a LeaseTracker would. */
export function follow(store: LeaseStore, after: number): { view: Map<string, string>; events: WatchEvent[]; close: () => void } {
  const view = new Map<string, string>();
  const events: WatchEvent[] = [];
  const w = store.watch(after, (e) => {
    events.push(e);
    if (e.type === 'put') view.set(subnetKey(e.lease.subnet), e.lease.value);
    else if (e.type === 'delete') view.delete(subnetKey(e.subnet));
    else if (e.type === 'snapshot') {
      view.clear();
      for (const l of e.leases) view.set(subnetKey(l.subnet), l.value);
    }
  });
  return { view, events, close: () => w.close() };
}

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const CONTRACT: { name: string; run: (c: ContractCtx) => Promise<void> }[] = [
  {
    name: 'create, get, list; a second create of the same subnet loses',
    async run({ store }) {
      const a = await store.create(s(1), val('198.18.0.1'), HOUR);
      assert.ok(a);
      assert.equal(a.value, val('198.18.0.1'));
      assert.equal((await store.get(s(1)))?.value, val('198.18.0.1'));
      assert.equal(await store.get(s(2)), null);
      assert.equal(await store.create(s(1), val('198.18.0.2'), HOUR), null);
      const l = await store.list();
      assert.deepEqual(l.leases.map((x) => subnetKey(x.subnet)), ['10.244.1.0-24']);
      assert.ok(l.revision >= a.revision);
    },
  },
  {
    name: 'update is a compare-and-swap on the revision',
    async run({ store }) {
      const a = (await store.create(s(1), val('198.18.0.1'), HOUR))!;
      const b = await store.update(s(1), val('198.18.0.9'), HOUR, a.revision);
      assert.ok(b);
      assert.ok(b.revision > a.revision);
      assert.equal(await store.update(s(1), val('198.18.0.7'), HOUR, a.revision), null, 'stale revision must lose');
      assert.equal((await store.get(s(1)))?.value, val('198.18.0.9'));
      assert.equal(await store.update(s(3), val('198.18.0.1'), HOUR, 1), null, 'no such lease');
    },
  },
  {
    name: 'delete removes it; create may take it again',
    async run({ store }) {
      await store.create(s(1), val('198.18.0.1'), HOUR);
      await store.delete(s(1));
      assert.equal(await store.get(s(1)), null);
      assert.equal((await store.list()).leases.length, 0);
      await store.delete(s(1)); // twice is fine
      assert.ok(await store.create(s(1), val('198.18.0.2'), HOUR));
    },
  },
  {
    name: 'of five racing creates of one subnet, exactly one wins',
    async run({ store }) {
      const r = await Promise.all([1, 2, 3, 4, 5].map((i) => store.create(s(7), val(`198.18.0.${i}`), HOUR)));
      assert.equal(r.filter(Boolean).length, 1);
    },
  },
  {
    name: 'a dual-stack key is flannel\'s, and reads back with both halves',
    async run({ store }) {
      const a = await store.create(d(5, 5), val('198.18.0.1'), HOUR);
      assert.ok(a);
      assert.equal(subnetKey(a.subnet), '10.244.5.0-24&fd00:244:0:5::-64');
      const l = await store.list();
      assert.deepEqual(l.leases.map((x) => subnetKey(x.subnet)), ['10.244.5.0-24&fd00:244:0:5::-64']);
      assert.equal((await store.get(d(5, 5)))?.value, val('198.18.0.1'));
      assert.equal(await store.create(d(5, 5), val('198.18.0.2'), HOUR), null);
    },
  },
  {
    name: 'no two leases share a half: five racing creates of one IPv6 subnet under five keys, exactly one wins',
    async run({ store }) {
      const r = await Promise.all([1, 2, 3, 4, 5].map((i) => store.create(d(10 + i, 9), val(`198.18.0.${i}`), HOUR)));
      assert.equal(r.filter(Boolean).length, 1);
      // The IPv4 half alone too: a key that differs only in its IPv6 half loses.
      assert.equal(await store.create(d(20, 1), val('198.18.0.6'), HOUR) !== null, true);
      assert.equal(await store.create(d(20, 2), val('198.18.0.7'), HOUR), null);
      assert.equal((await store.list()).leases.length, 2);
    },
  },
  {
    name: 'the watch reports creates, updates and deletes after its revision',
    async run({ store }) {
      await store.create(s(1), val('198.18.0.1'), HOUR);
      const { revision } = await store.list();
      const f = follow(store, revision);
      try {
        f.view.set('10.244.1.0-24', val('198.18.0.1')); // what the caller listed
        const b = (await store.create(s(2), val('198.18.0.2'), HOUR))!;
        await store.update(s(2), val('198.18.0.3'), HOUR, b.revision);
        await store.delete(s(1));
        await until(() => f.view.size === 1 && f.view.get('10.244.2.0-24') === val('198.18.0.3'), 5000, 'the watch to catch up');
      } finally {
        f.close();
      }
    },
  },
  {
    name: 'a lease lapses after its TTL: gone from list, and the watch says so',
    async run({ store }) {
      await store.create(s(5), val('198.18.0.5'), HOUR);
      const { revision } = await store.list();
      const f = follow(store, revision);
      try {
        f.view.set('10.244.5.0-24', val('198.18.0.5'));
        await store.create(s(6), val('198.18.0.6'), 1000);
        await until(() => f.view.has('10.244.6.0-24'), 5000, 'the short lease to appear');
        await until(() => !f.view.has('10.244.6.0-24'), 8000, 'the short lease to lapse');
        assert.deepEqual((await store.list()).leases.map((x) => subnetKey(x.subnet)), ['10.244.5.0-24']);
      } finally {
        f.close();
      }
    },
  },
  {
    name: 'a watch that cannot replay its history (compacted) gets a snapshot instead',
    async run({ store, compact }) {
      const first = (await store.create(s(1), val('198.18.0.1'), HOUR))!;
      await store.create(s(2), val('198.18.0.2'), HOUR);
      await store.delete(s(1));
      await store.create(s(3), val('198.18.0.3'), HOUR);
      await compact?.();
      const f = follow(store, first.revision - 1);
      try {
        f.view.set('10.244.9.0-24', 'stale'); // something the caller wrongly believed
        await until(() => f.events.some((e) => e.type === 'snapshot'), 5000, 'a snapshot');
        await until(() => [...f.view.keys()].sort().join() === '10.244.2.0-24,10.244.3.0-24', 5000, 'the view to match the store');
      } finally {
        f.close();
      }
    },
  },
];
