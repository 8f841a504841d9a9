// One forwarding worker of `weft run --workers N`: a thread with its own
// forwarding loop (datapath/forwarder.ts) over its own TAP queue per overlay
// and its own SO_REUSEPORT socket, which the main thread opened (pool.ts).
//
// The worker builds its Datapath on the main thread's tables (fdb/mem.ts:
// attached memory, the same options), so what one worker learns every other
// uses at once, and the control plane's static entries, peers and source
// allow-list are the workers' too. It counts into shared arrays the main
// thread sums (layout.ts), never ages the table (the main thread does), and
// logs nothing: a port that fails is reported to the main thread, which
// says so and stops weft.

import { parentPort, workerData, threadId } from 'node:worker_threads';
import { attachMem } from '../fdb/mem.js';
import { Datapath } from '../datapath/datapath.js';
import { Forwarder } from '../datapath/forwarder.js';
import { Tap, type TapStats } from '../io/tap.js';
import { UdpSocket } from '../io/udp.js';
import { GLOBAL_HEADER_LEN } from '../io/pcap-write.js';
import { CaptureSession } from '../capture/capture.js';
import {
  FDB_STAT_KEYS, S_BATCH, S_BATCH_COUNT, S_BATCH_SUM, S_DROP, S_DROP_SEQ, S_FDB, S_SRC, S_TAP, S_UDP, STATS_EVERY_MS,
  TAP_STAT_KEYS, UDP_STAT_KEYS, type FromWorker, type ToWorker, type WorkerData,
} from './layout.js';

const d = workerData as WorkerData;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

const dp = new Datapath({ ...d.dp, mem: attachMem(d.tables, threadId), counters: new Float64Array(d.counters) });
const vs = d.overlays.map((o) => {
  const v = dp.addVni(o.vni, { port: o.port, mtu: o.mtu, counters: new Float64Array(o.counters) });
  for (const mac of o.localMacs) v.addLocalMac(mac);
  // The main thread holds the flood peers' references; the ids are the shared peer table's.
  for (const id of o.flood) v.flood.add(id);
  return v;
});
const udp = new UdpSocket({ family: d.udp.family, address: d.udp.address, port: d.udp.port, batch: d.batch, opened: d.udp, srcPorts: d.udp.srcPorts });
const taps = d.overlays.map((o) => new Tap({ name: o.tap.name, batch: d.batch, mtu: d.mtu, tails: udp.gso, opened: o.tap }));
// The shared tables' times are on the main thread's clock.
const offset = performance.timeOrigin - d.timeOrigin;
const fwd = new Forwarder(dp, vs[0], taps[0], udp, {
  batch: d.batch, now: () => performance.now() + offset, ageOnTimer: false, srcPortRange: d.udp.srcPorts,
  onFatal: (err, which, vni) => post({ fatal: err.message, port: which, vni }),
});
for (let k = 1; k < vs.length; k++) fwd.addOverlay(vs[k], taps[k]);

const stats = new Float64Array(d.stats);
/** Copies what operators read besides the counters into the stats block (layout.ts). */
function copyStats(): void {
  for (let k = 0; k < TAP_STAT_KEYS.length; k++) {
    const key: keyof TapStats = TAP_STAT_KEYS[k];
    let sum = 0;
    for (const t of taps) sum += t.stats[key];
    stats[S_TAP + k] = sum;
  }
  for (let k = 0; k < UDP_STAT_KEYS.length; k++) stats[S_UDP + k] = udp[UDP_STAT_KEYS[k]];
  for (let k = 0; k < FDB_STAT_KEYS.length; k++) stats[S_FDB + k] = dp.fdb.stats[FDB_STAT_KEYS[k]];
  stats.set(fwd.batchSizes.buckets, S_BATCH);
  stats.set(fwd.batchSizes.count, S_BATCH_COUNT);
  stats.set(fwd.batchSizes.sum, S_BATCH_SUM);
  for (let k = 0; k < 5; k++) stats[S_DROP + k] = fwd.lastDrop[k];
  stats[S_DROP_SEQ] = fwd.lastDropSeq;
  stats[S_SRC] = udp.srcPorts?.opened ?? -1;
  stats[S_SRC + 1] = udp.srcPorts?.fallbacks ?? -1;
}
const timer = setInterval(copyStats, STATS_EVERY_MS);

const backedUp = new Int32Array(d.captureBackedUp);
let session: CaptureSession | null = null;

/** A capture in this worker: records go to the main thread, which writes the one file header and counts the frames. */
function startCapture(c: Extract<ToWorker, { capture: unknown }>['capture']): void {
  let headerLeft = GLOBAL_HEADER_LEN, sent = 0;
  const s: CaptureSession = new CaptureSession({
    side: c.side, count: c.count, local: c.local, port: c.port, peers: dp.peers,
    backedUp: () => Atomics.load(backedUp, 0) === 1,
    onFull: () => {},
    sink: (chunk) => {
      const records = chunk.subarray(Math.min(headerLeft, chunk.length));
      headerLeft -= chunk.length - records.length;
      if (records.length > 0) post({ capture: records, frames: s.frames - sent });
      sent = s.frames;
    },
  });
  session = fwd.capture = s;
}

port.on('message', (m: ToWorker) => {
  if ('capture' in m) startCapture(m.capture);
  else if ('captureEnd' in m) {
    fwd.capture = null;
    session?.finish();
    session = null;
  } else if ('stop' in m) {
    clearInterval(timer);
    fwd.capture = null;
    copyStats();
    fwd.stop();
    post({ stopped: true });
    port.close();
  }
});

fwd.start();
post({ ready: true });
