// The control plane's lease renewal across a store outage, on the in-memory
// store behind a switch that makes it unreachable: a renewal that falls due
// while the store is down fails, is logged, and is retried as soon as the
// store is back (its first snapshot), not a minute later.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { RuntimeError } from '../../src/config/errors.js';
import { ControlPlane } from '../../src/control/control-plane.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { encodeAttrs } from '../../src/control/lease.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import type { HostOps } from '../../src/control/reconcile.js';
import { MemoryStore, type LeaseStore, type StoredLease, type StoreWatch, type WatchEvent } from '../../src/control/store.js';
import type { Subnet } from '../../src/control/ip4.js';
import { Datapath } from '../../src/datapath/datapath.js';
import { tempDir } from '../helpers/paths.js';
import { until } from '../helpers/store-contract.js';

const OWN: Subnet = (() => { const c = parseCidr4('10.244.1.0/24')!; return { ip: c.ip, len: c.len }; })();
const TTL_MS = 3_600_000;

/** The memory store, and a switch: while down every call throws and watchers heard `outage`; back up, they get a snapshot. */
class FlakyStore implements LeaseStore {
  readonly describe = 'flaky memory';
  readonly inner = new MemoryStore({ config: null });
  down = false;
  private watchers = new Set<(e: WatchEvent) => void>();

  private check(): void { if (this.down) throw new RuntimeError('flaky memory: cannot reach the store'); }
  async getConfig() { this.check(); return this.inner.getConfig(); }
  async get(s: Subnet) { this.check(); return this.inner.get(s); }
  async list() { this.check(); return this.inner.list(); }
  async create(s: Subnet, v: string, ttl: number) { this.check(); return this.inner.create(s, v, ttl); }
  async update(s: Subnet, v: string, ttl: number, rev: number) { this.check(); return this.inner.update(s, v, ttl, rev); }
  async delete(s: Subnet) { this.check(); return this.inner.delete(s); }
  watch(after: number, on: (e: WatchEvent) => void): StoreWatch {
    this.watchers.add(on);
    const w = this.inner.watch(after, (e) => { if (!this.down) on(e); });
    return { close: () => { this.watchers.delete(on); w.close(); } };
  }
  async close() { await this.inner.close(); }

  goDown(): void {
    this.down = true;
    for (const on of this.watchers) on({ type: 'outage', reason: 'switched off' });
  }
  async comeBack(): Promise<void> {
    this.down = false;
    const { leases, revision } = await this.inner.list();
    for (const on of this.watchers) on({ type: 'snapshot', leases, revision });
  }
}

class NoHost implements HostOps {
  fdbAdd() { return null; }
  fdbRemove(): void {}
  async ip() { return []; }
  ipSync() { return []; }
}

test('a renewal due during an outage fails, is logged, and happens as soon as the store is back', async () => {
  const t = tempDir('renew');
  const store = new FlakyStore();
  const log: string[] = [];
  let cp: ControlPlane | null = null;
  try {
    const conf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', 'test');
    const own: StoredLease = (await store.create(OWN, encodeAttrs({ publicIp: '198.18.0.1', backendType: 'vxlan', vni: 1, vtepMac: 1 }), TTL_MS))!;
    // Renew 300 ms after taking the lease.
    const ctl = { store: { kind: 'file' as const, path: 'mem' }, netConfigPath: null, publicIp: null, iface: null, subnetFile: join(t.dir, 'subnet.env'), renewMarginMs: TTL_MS - 300 };
    cp = new ControlPlane(store, ctl, conf, own, { publicIp: '198.18.0.1', bindIp: null, mac: 1, mtu: 1450 }, (l) => log.push(l));
    let lost = '';
    cp.onLost = (why) => { lost = why; };
    const dp = new Datapath();
    await cp.start(dp, dp.addVni(1, { port: 8472 }), 'weft0', new NoHost());

    store.goDown();
    await until(() => log.some((l) => /could not renew our lease 10\.244\.1\.0\/24 .*cannot reach the store.*retrying/.test(l)), 3000, 'the failed renewal');
    assert.ok(log.some((l) => /lease store unreachable/.test(l)), log.join('\n'));
    const before = (await store.inner.get(OWN))!;

    const back = Date.now();
    await store.comeBack();
    await until(() => log.some((l) => /renewed lease 10\.244\.1\.0\/24 until/.test(l)), 3000, 'the renewal once the store is back');
    assert.ok(Date.now() - back < 3000, 'renewed right away, not at the one-minute retry');
    const after = (await store.inner.get(OWN))!;
    assert.ok(after.revision > before.revision, 'the lease was rewritten');
    assert.is(after.value, before.value);
    assert.is(lost, '');
  } finally {
    cp?.shutdown();
    t.done();
  }
});

test.run();
