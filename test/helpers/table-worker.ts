// A worker thread for test/unit/shared-tables.test.ts: attaches to the main
// thread's tables (fdb/mem.ts) with the same Datapath options, as a weft
// worker does, and drives the real decap and encap over them.
//
//   job 'learn': decaps one datagram per MAC in `macs` from `from`; replies { done }.
//   job 'churn': `rounds` rounds of decap (MACs base+0 … base+n-1, from the
//                round's VTEP: `from` and `from2` in turn, so every round
//                after the first moves every MAC) then encap towards each;
//                replies how many decap delivered and how many frames encap
//                sent to the round's VTEP.

import { parentPort, workerData, threadId } from 'node:worker_threads';
import { Datapath, type DatapathOptions } from '../../src/datapath/datapath.js';
import { attachMem } from '../../src/fdb/mem.js';
import { decapAll, encapAll } from './datapath.js';
import { ether, ipv4, vxlanPayload } from './packets.js';
import { formatMac } from '../../src/wire/mac.js';

interface Job { tables: SharedArrayBuffer[]; dp: DatapathOptions; job: 'learn' | 'churn'; from: string; from2?: string; macs?: number[]; go?: SharedArrayBuffer; base?: number; n?: number; rounds?: number }

const d = workerData as Job;
const dp = new Datapath({ ...d.dp, mem: attachMem(d.tables, threadId) });
const v = dp.addVni(1, { port: 8472 });
const frame = (src: number, dst: number) => ether(0x0800, ipv4(17, Buffer.alloc(8)), { src: formatMac(src), dst: formatMac(dst) });

if (d.job === 'learn') {
  decapAll(dp, d.macs!.map((m) => ({ payload: vxlanPayload(1, frame(m, 0x020000000001)), from: d.from })), 1);
  parentPort!.postMessage({ done: true });
} else {
  // Every worker starts when the main thread says go, so they overlap.
  const go = new Int32Array(d.go!);
  parentPort!.postMessage({ ready: true });
  Atomics.wait(go, 0, 0, 10_000);
  let delivered = 0, unicast = 0;
  for (let r = 0; r < d.rounds!; r++) {
    const rx = [];
    const from = r % 2 === 0 ? d.from : d.from2!;
    for (let i = 0; i < d.n!; i++) rx.push({ payload: vxlanPayload(1, frame(d.base! + i, 0x020000000001)), from });
    delivered += decapAll(dp, rx, r).length;
    const tx = encapAll(dp, v, Array.from({ length: d.n! }, (_, i) => frame(0x020000000001, d.base! + i)), undefined, r);
    unicast += tx.filter((t) => t.peer === from).length;
  }
  parentPort!.postMessage({ delivered, unicast });
}
