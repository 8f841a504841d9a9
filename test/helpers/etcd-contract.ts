// The LeaseStore contract (store-contract.ts) against the real etcd store.
// Run inside a rig host (the test process cannot reach etcd in the switch
// namespace): `node etcd-contract.js ENDPOINT`. Each check gets its own key
// prefix; prints "ok NAME" or "FAIL NAME: message" per check, exits 1 if any failed.

import { Etcd3 } from 'etcd3';
import { EtcdStore } from '../../src/control/etcd-store.js';
import { CONTRACT } from './store-contract.js';

const endpoint = process.argv[2];
const raw = new Etcd3({ hosts: endpoint });
let failed = 0;
for (const [i, c] of CONTRACT.entries()) {
  const store = new EtcdStore([endpoint], `/weft-contract/${process.pid}-${i}`);
  const compact = async () => {
    const r = await raw.get('/').exec();
    await raw.kv.compact({ revision: r.header.revision, physical: true });
  };
  try {
    await c.run({ store, compact });
    process.stdout.write(`ok ${c.name}\n`);
  } catch (e) {
    failed++;
    process.stdout.write(`FAIL ${c.name}: ${(e as Error).message.split('\n')[0]}\n`);
  } finally {
    await store.close();
  }
}
raw.close();
process.exitCode = failed ? 1 : 0;
