// The leases of hosts that do not exist, written straight into etcd in
// flannel's format, for the scale runs: the live test control-scale and
// `npm run bench -- --only scale`. One home for the fake hosts' layout, so
// the test and the benchmark fill the same network:
//
//   fake host i (0-based)   subnet 10.(t >> 8).(t & 255).0/24, t = i + 3   (in 10.0.0.0/8 of /24s)
//                           PublicIP 198.19.(i >> 8).(i & 255)             (the underlay range; never answered)
//                           VtepMAC  02:20:00:(i as 3 bytes)
//
// 10.0.1.0/24 and 10.0.2.0/24 are left for real hosts; etcd lists in key
// order, and `10.0.1.0-24` comes before every fake host's key.
//
// Run as a process inside a namespace that reaches etcd (the rig's hosts do,
// the test's own namespace does not):
//
//   node dist/bench/live/leases.js ENDPOINT PREFIX put|del FROM COUNT [PACE_MS [OPS_PER_TXN]]
//
// Writes go in transactions of OPS_PER_TXN operations (default and most 128,
// etcd's --max-txn-ops), PARALLEL at a time: 10,000 leases in about a second
// rather than a process or a round trip per key. A transaction is one
// revision and one watch response, so OPS_PER_TXN 1 is the way to give a
// watcher many responses (one per lease, as hosts renewing one by one do). With PACE_MS the
// transactions are spread evenly over that many milliseconds instead (a
// burst of changes over a second, as a busy network writes them). Prints
// one JSON line: {"ops": N, "startMs": when the first write went (epoch ms),
// "ms": how long the writes took}.

import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';

const TXN_OPS = 128;
const PARALLEL = 8;
/** The last fake host index that still has a subnet in 10.0.0.0/8 (t = i + 3 ≤ 65535). */
export const MAX_FAKE_HOSTS = 65532;

/** Fake host i's key under `prefix` and its lease value. */
export function fakeLease(prefix: string, i: number): { key: string; value: string } {
  const t = i + 3;
  const mac = '02:20:00:' + [i >> 16, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':');
  return {
    key: `${prefix}/subnets/10.${t >> 8}.${t & 255}.0-24`,
    value: JSON.stringify({ PublicIP: `198.19.${i >> 8}.${i & 255}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }),
  };
}

/** Fake host i's subnet as `ip route` prints it. */
export function fakeSubnet(i: number): string {
  const t = i + 3;
  return `10.${t >> 8}.${t & 255}.0/24`;
}

async function main(argv: string[]): Promise<void> {
  const [endpoint, prefix, op, fromText, countText, paceText, perTxnText] = argv;
  const from = Number(fromText), count = Number(countText), paceMs = Number(paceText ?? 0), perTxn = Number(perTxnText ?? TXN_OPS);
  if (!endpoint || !prefix || (op !== 'put' && op !== 'del') || !Number.isInteger(from) || !Number.isInteger(count) ||
      from < 0 || count < 0 || from + count > MAX_FAKE_HOSTS + 1 || !(paceMs >= 0) || !Number.isInteger(perTxn) || perTxn < 1 || perTxn > TXN_OPS) {
    process.stderr.write('usage: leases.js ENDPOINT PREFIX put|del FROM COUNT [PACE_MS [OPS_PER_TXN (1-128)]]\n');
    process.exit(2);
  }
  const c = new Etcd3({ hosts: endpoint });
  await c.get('/').string(); // connected: what follows is the writes alone
  const t0 = Date.now();
  try {
    const txns: { request_put?: { key: Buffer; value: Buffer }; request_delete_range?: { key: Buffer } }[][] = [];
    for (let b = from; b < from + count; b += perTxn) {
      const ops = [];
      for (let i = b; i < Math.min(b + perTxn, from + count); i++) {
        const l = fakeLease(prefix, i);
        ops.push(op === 'put' ? { request_put: { key: Buffer.from(l.key), value: Buffer.from(l.value) } } : { request_delete_range: { key: Buffer.from(l.key) } });
      }
      txns.push(ops);
    }
    if (paceMs > 0) {
      for (let k = 0; k < txns.length; k++) {
        const due = t0 + (k * paceMs) / txns.length;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        await c.kv.txn({ success: txns[k] } as never);
      }
    } else {
      // Small transactions are round trips more than work: more of them in flight.
      const parallel = perTxn < 16 ? 4 * PARALLEL : PARALLEL;
      for (let k = 0; k < txns.length; k += parallel) await Promise.all(txns.slice(k, k + parallel).map((success) => c.kv.txn({ success } as never)));
    }
  } finally {
    c.close();
  }
  process.stdout.write(JSON.stringify({ ops: count, startMs: t0, ms: Date.now() - t0 }) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => { process.stderr.write(`leases: ${(e as Error).message}\n`); process.exit(1); });
}
