// The tables `weft run --workers` shares between threads (fdb/mem.ts): real
// worker threads attach to the main thread's memory and run the real decap
// and encap on it (test/helpers/table-worker.ts), while the main thread
// changes the same tables as the control plane would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Datapath, type DatapathOptions } from '../../src/datapath/datapath.js';
import { attachMem, sharedMem, localMem } from '../../src/fdb/mem.js';
import { v4words } from '../helpers/packets.js';
import { ROOT } from '../helpers/paths.js';

const WORKER = join(ROOT, 'dist/test/helpers/table-worker.js');
const OPTS: DatapathOptions = { fdbMax: 1024, peerCapacity: 64 };

function shared(): { dp: Datapath; tables: SharedArrayBuffer[] } {
  const mem = sharedMem();
  const dp = new Datapath({ ...OPTS, mem });
  dp.addVni(1, { port: 8472 });
  return { dp, tables: mem.buffers };
}

/** Runs a job in a worker; `ready` resolves when it waits for go (churn). */
function start<T>(data: object): { ready: Promise<void>; result: Promise<T> } {
  const w = new Worker(WORKER, { workerData: data });
  let ready!: () => void;
  const readyP = new Promise<void>((r) => { ready = r; });
  const result = new Promise<T>((resolve, reject) => {
    w.on('message', (m: T & { ready?: boolean }) => {
      if (m.ready) { ready(); return; }
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
  return { ready: readyP, result };
}

const run = <T>(data: object): Promise<T> => start<T>(data).result;

const peerOf = (dp: Datapath, mac: number) => {
  const id = dp.fdb.lookupMac(1, mac);
  return id < 0 ? null : dp.peers.ipString(id);
};

test('what a worker learns, the main thread sees: the entries, the peer and its references', async () => {
  const { dp, tables } = shared();
  const macs = Array.from({ length: 100 }, (_, i) => 0x02aa00000000 + i);
  await run({ tables, dp: OPTS, job: 'learn', from: '198.18.0.2', macs });
  assert.is(dp.fdb.size, 100);
  assert.is(dp.fdb.stats.entries, 100);
  assert.is(peerOf(dp, macs[0]), '198.18.0.2');
  assert.is(peerOf(dp, macs[99]), '198.18.0.2');
  const id = dp.fdb.lookupMac(1, macs[0]);
  assert.is(dp.peers.refCount(id), 100);
  // The main thread's removal gives the worker's references back: the last one frees the peer.
  for (const m of macs) assert.ok(dp.removeStatic(dp.vnis.get(1)!, m));
  assert.is(dp.peers.count, 0);
});

test('two workers move MACs between two VTEPs and look them up at once, while the main thread adds and removes entries: no lookup misses, no reference lost', async () => {
  const { dp, tables } = shared();
  const v = dp.vnis.get(1)!;
  const n = 200, rounds = 300;
  const go = new Int32Array(new SharedArrayBuffer(4));
  const started = [
    start<{ delivered: number; unicast: number }>({ tables, dp: OPTS, job: 'churn', from: '198.18.0.2', from2: '198.18.0.3', base: 0x02bb00000000, n, rounds, go: go.buffer }),
    start<{ delivered: number; unicast: number }>({ tables, dp: OPTS, job: 'churn', from: '198.18.0.3', from2: '198.18.0.2', base: 0x02cc00000000, n, rounds, go: go.buffer }),
  ];
  await Promise.all(started.map((s) => s.ready));
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  const jobs = started.map((s) => s.result);
  let done = false;
  void Promise.all(jobs).then(() => { done = true; });
  // The control plane's side: static entries to a third VTEP, added and removed in steps, until the workers finish (bounded).
  let ops = 0;
  const t0 = Date.now();
  while (!done && ops < 200_000 && Date.now() - t0 < 20_000) {
    for (let k = 0; k < 50; k++, ops++) {
      const mac = 0x02dd00000000 + (ops % 300);
      if (ops % 600 < 300) dp.addStatic(v, mac, '198.18.0.9');
      else dp.removeStatic(v, mac);
    }
    await new Promise((r) => setImmediate(r));
  }
  const [a, b] = await Promise.all(jobs);
  assert.ok(ops > 0, 'the main thread changed the table while the workers ran');
  // Every frame decap took was delivered, and every frame towards a MAC its worker had learned found it.
  assert.equal(a, { delivered: n * rounds, unicast: n * rounds });
  assert.equal(b, { delivered: n * rounds, unicast: n * rounds });
  let statics = 0;
  dp.fdb.forEach((_vni, _mac, _peer, isStatic) => { if (isStatic) statics++; });
  assert.is(dp.fdb.size, 2 * n + statics);
  const ref = (ip: string) => dp.peers.refCount(dp.peers.find(...v4words(ip), 8472));
  // The last round (odd) put worker one's MACs behind .3 and worker two's behind .2.
  assert.is(ref('198.18.0.2'), n);
  assert.is(ref('198.18.0.3'), n);
  assert.is(ref('198.18.0.9'), statics === 0 ? -1 : statics);
});

test('shared memory is sized once: a shared table is as big as fdbMax needs, and attaching with other options is refused', () => {
  const { dp, tables } = shared();
  assert.ok(dp.fdb.capacity >= Math.ceil(1024 / 0.6), `capacity ${dp.fdb.capacity}`);
  assert.is(new Datapath({ ...OPTS }).fdb.capacity, 1024, 'one thread: the table starts small and doubles');
  assert.throws(() => new Datapath({ ...OPTS, fdbMax: 4096, mem: attachMem(tables, 7) }), /built with other options/);
});

test('the writers\' lock is reentrant within a thread and makes the sequence number odd while held', () => {
  const mem = sharedMem();
  const before = mem.seq();
  mem.lock();
  mem.lock();
  mem.unlock();
  assert.is(mem.seq(), 0, 'the holder reads without waiting for itself');
  mem.unlock();
  assert.is(mem.seq(), before + 2);
  assert.throws(() => mem.unlock(), /unlock without lock/);
  assert.is(localMem().shared, false);
});

test.run();
