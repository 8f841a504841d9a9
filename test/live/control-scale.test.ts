// A network of 10,000 hosts in a real etcd (a 10.0.0.0/8 of /24s; the fake
// hosts' leases written by bench/live/leases.js, h2 a real weft among them):
//
//   1. start-up: h1's weft programs every lease (route, permanent neighbour,
//      forwarding entry) within 10 s of start, resident memory under 200 MB,
//      and reaches h2 through the overlay;
//   2. churn: 200 removals and 200 additions written in one burst converge —
//      routes, neighbours and forwarding entries exactly as the leases say —
//      within 2 s, in a handful of `ip -batch` processes;
//   3. a watch that falls behind: etcd→h1 blocked (iptables, so the watch
//      stream stalls while the UDP underlay keeps flowing), 200 lease changes
//      and 1,500 rewrites of unchanged leases written meanwhile, the history
//      compacted past them, unblocked: etcd cancels the watch, weft re-lists
//      10,000 leases and programs only the 200 that changed — `ip monitor`
//      sees no route or neighbour of an unchanged lease removed or re-added,
//      and a ping flood to h2 across the re-list loses nothing.
//
//   h1: weft --metrics   h2: weft --peer-capacity 1   (both --etcd-endpoints http://198.18.0.254:2379)
//        └──── 198.18.0.0/24 ── br0 198.18.0.254 ── etcd   [switch namespace]
//
// The kernel's routing lock is one for the whole machine, so h2 takes only
// h1's lease (10.0.1.0/24 is listed before every fake host's, and h2 starts
// after h1) and refuses the rest, which costs it no kernel work: the machine
// programs one 10,000-lease table, not two. Convergence is timed from the
// first write to the last route or neighbour event `ip monitor` reports in
// h1 (no polling of a 10,000-line table while weft programs it).
//
// etcd's socket send buffer is capped (tcp_wmem in the switch namespace,
// 64 KB) so that a stalled watch stream backs up into etcd within a few
// hundred events instead of megabytes, as it would on a slow link.
//
// The 10 s and 2 s are the issue's, for a machine of its own; on a shared
// one they stretch with the load (budget(), printed with each figure).
//
// WEFT_SCALE_LEASES sets the count (default 10,000, the network; CI
// runs the full count); `npm run bench -- --only scale` runs 1k, 10k and 30k.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Rig, ping, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd } from '../helpers/etcd.js';
import { ROOT, WEFT, tempDir } from '../helpers/paths.js';
import { memory } from '../helpers/proc-stats.js';
import { requireTool } from '../helpers/require.js';
import { fakeLease, fakeSubnet } from '../../bench/live/leases.js';
import { KernelEvents } from '../../bench/live/kernel-events.js';

const N = Number(process.env.WEFT_SCALE_LEASES ?? 10_000);
const PREFIX = '/coreos.com/network';
const LEASES_JS = join(ROOT, 'dist/bench/live/leases.js');
const H1 = '10.0.1.0/24', H2 = '10.0.2.0/24';
const range = (from: number, count: number) => Array.from({ length: count }, (_, k) => from + k);

/**
 * A time budget the issue sets for a machine of its own (10 s to start, 2 s
 * to converge), stretched by how many runnable tasks share each CPU now: the
 * engineers' test runs share this machine, and the kernel's route insertion
 * and `ip` wait their turn like everything else. Printed with each figure.
 */
function budget(ms: number): { ms: number; why: string } {
  const load = loadavg()[0] / availableParallelism();
  return load > 1 ? { ms: Math.round(ms * load), why: `${ms} ms × load ${load.toFixed(1)} per CPU` } : { ms, why: `${ms} ms` };
}

let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
/** Fake hosts whose leases are in etcd now. */
const live = new Set<number>();

function weftArgs(i: number, subnet: string): string[] {
  const env = join(tmp.dir, `h${i}.env`);
  writeFileSync(env, `FLANNEL_NETWORK=10.0.0.0/8\nFLANNEL_SUBNET=${subnet.replace('.0/24', '.1/24')}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
  return ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', env];
}

/** Writes (put) or deletes fake hosts' leases from h2's namespace; resolves when etcd has them all, with when the first write went. */
async function leases(op: 'put' | 'del', from: number, count: number, perTxn = 128): Promise<number> {
  const p = rig.spawn(2, [process.execPath, LEASES_JS, etcd.endpoint, PREFIX, op, String(from), String(count), '0', String(perTxn)]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`leases.js ${op} ${from} ${count} exited ${code}: ${p.stderr()}`);
  for (const i of range(from, count)) if (op === 'put') live.add(i); else live.delete(i);
  return (JSON.parse(p.stdout()) as { startMs: number }).startMs;
}

/** weft's last log lines (or the first of each phase of a start), each with its time since t0 (for a failure's message). */
function timeline(p: Proc, t0: number, last = 12, phases = false): string {
  let lines = p.stderr().split('\n').filter(Boolean);
  if (phases) {
    const first = (re: RegExp) => lines.find((l) => re.test(l)) ?? '';
    lines = [lines[0], first(/→ vtep/), first(/remote leases? programmed/), first(/listening on/)];
  }
  return lines.slice(-last).map((l) => {
    try { const j = JSON.parse(l) as { time: string; msg: string }; return `  +${Date.parse(j.time) - t0} ms ${j.msg.slice(0, 160)}`; } catch { return l; }
  }).join('\n');
}

/** True when h1's routes and permanent neighbours on weft0 are exactly h2's lease and the live fake hosts'. */
function converged(): boolean {
  const routes = new Set(rig.exec(1, ['ip', '-o', 'route', 'show', 'dev', 'weft0']).split('\n').map((l) => l.split(' ')[0]).filter((x) => x.includes('/')));
  const neigh = new Set(rig.exec(1, ['ip', 'neigh', 'show', 'dev', 'weft0', 'nud', 'permanent']).split('\n').filter(Boolean).map((l) => `${l.split(' ')[0]}/24`));
  if (routes.size !== live.size + 1 || neigh.size !== live.size + 1 || !routes.has(H2) || !neigh.has(H2)) return false;
  for (const i of live) if (!routes.has(fakeSubnet(i)) || !neigh.has(fakeSubnet(i))) return false;
  return true;
}

/** h1's route and neighbour events from `ip monitor`; `settled` waits for the changes asked about and answers when the last happened. */
function kernelEvents(): KernelEvents & { settled: (added: string[], removed: string[], ms: number) => Promise<number> } {
  const ev = new KernelEvents(rig.spawn(1, ['ip', 'monitor', 'route', 'neigh']));
  return Object.assign(ev, {
    settled: async (added: string[], removed: string[], ms: number) => {
      await waitFor(() => ev.done(added, removed), ms, 'the kernel to follow the leases');
      return ev.lastMs(added, removed);
    },
  });
}

async function metrics(): Promise<Record<string, number>> {
  const js = "fetch('http://127.0.0.1:9108/metrics').then(async (r) => process.stdout.write(await r.text()), (e) => { console.error(e.message); process.exit(1); })";
  const out: Record<string, number> = {};
  for (const line of rig.exec(1, [process.execPath, '-e', js]).split('\n')) {
    const m = /^(weft_[a-z_]+(?:\{[^}]*\})?) ([\d.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

test.before(async () => {
  requireTool('iptables', 'iptables');
  rig = Rig.up(2);
  tmp = tempDir('etcdscale');
  rig.execSw(['sysctl', '-q', '-w', 'net.ipv4.tcp_wmem=4096 16384 65536']);
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, '{"Network": "10.0.0.0/8", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}');
  await leases('put', 0, N);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test(`start-up: ${N} leases programmed within 10 s, RSS under 200 MB; h2 reachable`, async () => {
  const limit = budget(10_000);
  const t0 = Date.now();
  w[1] = await rig.weft(1, [...weftArgs(1, H1), '--metrics', '127.0.0.1:9108'], 120_000);
  const ms = Date.now() - t0;
  const rssMB = memory(w[1].pid).rssKiB / 1024;
  const err = w[1].stderr();
  assert.match(err, new RegExp(`${N} remote leases programmed; watching`));
  assert.not.match(err, /refused|internal error/);
  const m = await metrics();
  process.stdout.write(`\n  ${N} leases: every route, neighbour and forwarding entry in place ${ms} ms after start (budget ${limit.why}); rss ${rssMB.toFixed(0)} MB; ` +
    `${m.weft_kernel_batches_total} ip processes, ${m.weft_kernel_commands_total} commands\n${timeline(w[1], t0, 4, true)}\n`);
  w[2] = await rig.weft(2, [...weftArgs(2, H2), '--peer-capacity', '1'], 60_000);
  await waitFor(converged, 10_000, 'h1 to route to every lease and h2');
  assert.is((await metrics()).weft_fdb_entries, N + 1);
  assert.is(m.weft_fdb_entries, N, 'the forwarding entries were in when weft said listening');
  assert.ok(ms < limit.ms, `start-up took ${ms} ms, budget ${limit.why}:\n${timeline(w[1], t0, 4, true)}`);
  assert.ok(rssMB < 200, `rss ${rssMB} MB`);
  assert.match(w[2].stderr(), new RegExp(`1 remote lease programmed, ${N} refused`));
  assert.is(ping(rig, 1, '10.0.2.0', 3).received, 3);
  assert.is(ping(rig, 2, '10.0.1.0', 3).received, 3);
});

test('churn: 200 removals and 200 additions in one burst converge within 2 s', async () => {
  const before = await metrics();
  const ev = kernelEvents();
  await new Promise((r) => setTimeout(r, 200)); // ip monitor subscribed
  const limit = budget(2000);
  const t = Date.now();
  const t0 = Math.min(...await Promise.all([leases('del', 0, 200), leases('put', N, 200)]));
  const written = Date.now() - t0;
  const ms = (await ev.settled(range(N, 200).map(fakeSubnet), range(0, 200).map(fakeSubnet), 20_000)) - t0;
  await ev.stop();
  const m = await metrics();
  assert.ok(converged(), 'routes and neighbours exactly as the leases say');
  assert.is(m.weft_fdb_entries, N + 1, 'forwarding entries: 200 gone, 200 new');
  assert.is(m.weft_remote_leases, N + 1);
  const fdb = rig.exec(1, [process.execPath, WEFT, 'fdb', 'show']);
  const entry = (i: number) => { const v = JSON.parse(fakeLease(PREFIX, i).value) as { PublicIP: string; BackendData: { VtepMAC: string } }; return `${v.BackendData.VtepMAC} dev weft0 dst ${v.PublicIP} `; };
  assert.ok(fdb.includes(entry(N)), 'the first added lease\'s entry');
  assert.ok(fdb.includes(entry(N + 199)), 'the last added lease\'s entry');
  assert.not.ok(fdb.includes(entry(0)), 'the first removed lease\'s entry');
  const batches = m.weft_kernel_batches_total - before.weft_kernel_batches_total;
  process.stdout.write(`\n  burst of 200 removals + 200 additions (written in ${written} ms): converged ${ms} ms after the first write (budget ${limit.why}), ` +
    `${batches} ip processes, ${m.weft_kernel_commands_total - before.weft_kernel_commands_total} commands\n`);
  assert.ok(ms < limit.ms, `converged in ${ms} ms, budget ${limit.why} (writers started ${t0 - t} ms after the test asked):\n${timeline(w[1], t0)}`);
  assert.ok(batches <= 10, `${batches} ip processes for one burst`);
  assert.is(ping(rig, 1, '10.0.2.0', 2).received, 2);
});

test('a watch that falls behind a compaction re-lists without touching unchanged leases; a ping flood to h2 loses nothing', async () => {
  const before = await metrics();
  const ev = kernelEvents();
  const flood = rig.spawn(1, ['ping', '-c', '800', '-i', '0.01', '-W', '2', '10.0.2.0']);
  const block = ['INPUT', '-p', 'tcp', '--sport', '2379', '-j', 'DROP'];
  rig.exec(1, ['iptables', '-A', ...block]);
  try {
    // While the watch is stalled: 1,500 unchanged leases rewritten one by one, as renewals come — a response each, more
    // than etcd buffers for a watcher (128 responses, and 64 KB of socket), so it falls behind — then 100 removals
    // and 100 additions, which only the re-list can bring.
    await leases('put', 300, 1500, 1);
    await Promise.all([leases('del', 200, 100), leases('put', N + 200, 100)]);
    etcd.ctl(['compact', String(etcd.revision())]);
  } finally {
    rig.exec(1, ['iptables', '-D', ...block]);
  }
  const t0 = Date.now();
  try {
    await waitFor(() => /the watch fell behind|lease store unreachable/.test(w[1].stderr()), 30_000, 'weft to re-list');
  } catch (e) {
    throw new Error(`${(e as Error).message}:\n${timeline(w[1], t0)}`);
  }
  const ms = (await ev.settled(range(N + 200, 100).map(fakeSubnet), range(200, 100).map(fakeSubnet), 20_000)) - t0;
  const sent = await flood.exited;
  await new Promise((r) => setTimeout(r, 200));
  await ev.stop();
  const line = w[1].stderr().split('\n').find((l) => /the watch fell behind|lease store unreachable/.test(l))!;
  assert.match(line, new RegExp(`the watch fell behind \\(etcd cancelled the watch: the revisions it needed were compacted\\); re-listed ${N + 1} remote leases: 200 changes`));
  const loss = /(\d+) packets transmitted, (\d+) received/.exec(flood.stdout());
  assert.ok(loss, flood.stdout() + flood.stderr());
  assert.is(loss![2], loss![1], `no loss across the re-list: ${loss![0]}`);
  assert.is(sent, 0, `ping: ${loss![0]}`);

  // Every route or neighbour the kernel saw change belongs to a lease that changed, each once (route and neighbour).
  const changed = new Set([...range(200, 100), ...range(N + 200, 100)].map(fakeSubnet));
  const stray = [...ev.touched.keys()].filter((x) => !changed.has(x));
  assert.equal(stray, [], `routes or neighbours of unchanged leases touched: ${stray.slice(0, 5).join(' ')}`);
  assert.is(ev.touched.size, 200, 'each changed lease seen by the kernel');
  assert.ok(converged(), 'routes and neighbours exactly as the leases say');
  const m = await metrics();
  assert.is(m.weft_fdb_removed_total - before.weft_fdb_removed_total, 100, 'forwarding entries removed: the 100 removed leases\' only');
  assert.is(m.weft_fdb_entries, N + 1);
  const said = (JSON.parse(line) as { msg: string }).msg;
  process.stdout.write(`\n  ${said}; converged ${ms} ms after etcd→h1 was unblocked (TCP's retransmission back-off included); ` +
    `${m.weft_kernel_commands_total - before.weft_kernel_commands_total} ip commands; ping ${loss![0]}\n`);
});

test('both stop cleanly', async () => {
  for (const i of [1, 2]) assert.is(await stopWeft(w[i], 30_000), 0, w[i].stderr().slice(-2000));
});

test.run();
