// `npm run bench -- --only scale`: weft in a large flannel network. For each
// count N (--leases, default 1000,10000,30000): N fake hosts' leases written
// into a real etcd (bench/live/leases.js, a 10.0.0.0/8 of /24s), then
//
//   start     weft started in h1; the time until it says it is listening,
//             which it does once every route, neighbour and forwarding entry
//             is in place; its resident memory then (VmRSS), and the `ip`
//             processes and commands it ran (weft_kernel_batches_total,
//             weft_kernel_commands_total from /metrics);
//   churn     1,000 changes written over one second (500 leases removed,
//             500 added, in transactions of 10 paced evenly); the time from
//             the first write until the kernel shows the last of them
//             (`ip monitor`: each added route, each removed neighbour), and
//             the `ip` processes they took;
//   stop      SIGTERM until weft has removed what it programmed and exited.
//
//   netns h1: weft --etcd-endpoints http://198.18.0.2:2379 --metrics 127.0.0.1:9108
//   netns h2: etcd, the lease writer                 (198.18.0.0/24 between them)
//
// Runs inside `unshare --net` (run.ts), on the rig's namespaces; every
// process is tracked by PID and the rig removed at the end, also on failure.
// Prints a table for docs/performance.md.
//
// Usage: node dist/bench/scale.js [--leases 1000,10000,30000]

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KernelEvents } from './live/kernel-events.js';
import { MAX_FAKE_HOSTS, fakeSubnet } from './live/leases.js';
import { ROOT, WEFT, Rig, kill, sleep, waitFor, type Proc } from './live/rig.js';

const LEASES_JS = join(ROOT, 'dist/bench/live/leases.js');
const ETCD = 'http://198.18.0.2:2379';
const CHURN = 500; // removed, and as many added

let counts: number[];
try {
  const { values } = parseArgs({ options: { leases: { type: 'string', default: '1000,10000,30000' } } });
  counts = values.leases!.split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < CHURN || n + CHURN > MAX_FAKE_HOSTS + 1)) throw new Error(`--leases takes counts ${CHURN}–${MAX_FAKE_HOSTS + 1 - CHURN}, comma-separated`);
} catch (e) {
  process.stderr.write(`bench scale: ${(e as Error).message}\n`);
  process.exit(2);
}
for (const [cmd, pkg] of [['etcd', 'etcd-server'], ['ip', 'iproute2']]) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); } catch {
    process.stderr.write(`bench scale: needs '${cmd}': apt-get install -y ${pkg}\n`);
    process.exit(1);
  }
}
if (process.getuid?.() !== 0) {
  process.stderr.write('bench scale: needs root (network namespaces): sudo npm run bench -- --only scale\n');
  process.exit(1);
}

const rig = new Rig(2);
const stopAll = () => { rig.down(); process.exit(130); };
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

interface Row { n: number; startMs: number; rssMB: number; startIp: number; startCmds: number; churnMs: number; churnIp: number; stopMs: number; load: number }

async function writeLeases(prefix: string, op: 'put' | 'del', from: number, count: number, paceMs = 0, perTxn = 128): Promise<number> {
  const r = await rig.run(2, [process.execPath, LEASES_JS, ETCD, prefix, op, String(from), String(count), String(paceMs), String(perTxn)], 300_000);
  if (r.code !== 0) throw new Error(`leases.js ${op} ${from} ${count}: ${r.err || r.out}`);
  return (JSON.parse(r.out) as { startMs: number }).startMs;
}

function metrics(): Record<string, number> {
  const js = "fetch('http://127.0.0.1:9108/metrics').then(async (r) => process.stdout.write(await r.text()), (e) => { console.error(e.message); process.exit(1); })";
  const out: Record<string, number> = {};
  for (const line of rig.exec(1, [process.execPath, '-e', js], 30_000).split('\n')) {
    const m = /^(weft_[a-z_]+) ([\d.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function one(n: number): Promise<Row> {
  const prefix = `/bench/scale-${n}`;
  rig.exec(2, ['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', ETCD, 'put', `${prefix}/config`,
    '{"Network": "10.0.0.0/8", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}']);
  await writeLeases(prefix, 'put', 0, n);
  const load = loadavg()[0] / availableParallelism();

  // 10.0.1.0/24 is no fake host's (leases.ts): weft asks for it, so no lease written later lands on ours.
  const env = join(rig.tmpdir('env'), 'subnet.env');
  writeFileSync(env, 'FLANNEL_NETWORK=10.0.0.0/8\nFLANNEL_SUBNET=10.0.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  const t0 = Date.now();
  const w: Proc = rig.spawn(1, [process.execPath, WEFT, 'run', '--etcd-endpoints', ETCD, '--etcd-prefix', prefix, '--local', '198.18.0.1',
    '--subnet-file', env, '--metrics', '127.0.0.1:9108', '--control-socket', join(rig.tmpdir('sock'), 'weft.sock')]);
  await waitFor(() => /listening on/.test(w.stderr()) || !w.running(), 600_000, 'weft to start');
  if (!w.running()) throw new Error(`weft exited: ${w.stderr().slice(-2000)}`);
  const startMs = Date.now() - t0;
  const rssMB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${w.pid}/status`, 'utf8'))![1]) / 1024;
  if (!new RegExp(`${n} remote leases programmed`).test(w.stderr())) throw new Error(`weft did not program ${n} leases: ${w.stderr().slice(-2000)}`);
  const m0 = metrics();

  const ev = new KernelEvents(rig.spawn(1, ['ip', 'monitor', 'route', 'neigh']));
  await sleep(300);
  const added = Array.from({ length: CHURN }, (_, k) => fakeSubnet(n + k)), removed = Array.from({ length: CHURN }, (_, k) => fakeSubnet(k));
  const first = Math.min(...await Promise.all([writeLeases(prefix, 'del', 0, CHURN, 1000, 10), writeLeases(prefix, 'put', n, CHURN, 1000, 10)]));
  await waitFor(() => ev.done(added, removed) || !w.running(), 120_000, 'the kernel to follow 1,000 changes');
  if (!w.running()) throw new Error(`weft exited: ${w.stderr().slice(-2000)}`);
  const churnMs = ev.lastMs(added, removed) - first;
  await ev.stop();
  const m1 = metrics();

  const t1 = Date.now();
  kill(w.pid, 'SIGTERM');
  await w.exited;
  const stopMs = Date.now() - t1;
  return {
    n, startMs, rssMB, load, startIp: m0.weft_kernel_batches_total, startCmds: m0.weft_kernel_commands_total,
    churnMs, churnIp: m1.weft_kernel_batches_total - m0.weft_kernel_batches_total, stopMs,
  };
}

const rows: Row[] = [];
try {
  rig.up();
  const etcdDir = rig.tmpdir('etcd');
  const etcd = rig.spawn(2, ['etcd', '--name', 'bench', '--data-dir', etcdDir, '--listen-client-urls', ETCD, '--advertise-client-urls', ETCD,
    '--listen-peer-urls', 'http://198.18.0.2:2380', '--initial-advertise-peer-urls', 'http://198.18.0.2:2380',
    '--initial-cluster', 'bench=http://198.18.0.2:2380', '--log-level', 'warn', '--quota-backend-bytes', String(4 * 2 ** 30)]);
  await waitFor(() => {
    try { rig.exec(2, ['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', ETCD, 'endpoint', 'health']); return true; } catch { return !etcd.running(); }
  }, 30_000, 'etcd to answer');
  if (!etcd.running()) throw new Error(`etcd exited: ${etcd.stderr().slice(-2000)}`);
  for (const n of counts) {
    const r = await one(n);
    rows.push(r);
    process.stdout.write(`scale ${n}: start ${r.startMs} ms, rss ${r.rssMB.toFixed(0)} MB, ${r.startIp} ip processes (${r.startCmds} commands); ` +
      `1,000 changes in 1 s converged ${r.churnMs} ms after the first write, ${r.churnIp} ip processes; stop ${r.stopMs} ms; load ${r.load.toFixed(1)} per CPU\n`);
  }
} catch (e) {
  process.stderr.write(`bench scale: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  rig.down();
}
if (rows.length) {
  process.stdout.write('\n| leases | start → all programmed | RSS | ip processes (commands) at start | 1,000 changes in 1 s: converged after the first write | ip processes | stop | load per CPU |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- |\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.n.toLocaleString('en')} | ${(r.startMs / 1000).toFixed(1)} s | ${r.rssMB.toFixed(0)} MB | ${r.startIp} (${r.startCmds.toLocaleString('en')}) | ` +
      `${(r.churnMs / 1000).toFixed(2)} s | ${r.churnIp} | ${(r.stopMs / 1000).toFixed(1)} s | ${r.load.toFixed(1)} |\n`);
  }
}
