// The live benchmark: iperf3 through weft and through the Linux kernel's
// vxlan device, on the same two-host netns rig, in the same run.
//
// Design notes
// - Both tunnels exist side by side for the whole run (weft: VNI 1, UDP
//   8472, 10.244.0.0/24; kernel: VNI 2, UDP 4789, 10.244.1.0/24) and take
//   turns carrying the load: for every repetition and case, one run through
//   each, the order flipping each time, so that drift (thermal, a noisy
//   neighbour) lands on both. weft's CPU while the kernel carries the load
//   is measured too, to show that an idle weft does not tax the kernel runs.
// - One iperf3 server per run (`-s -1`) in h2, the client in h1: a run that
//   fails cannot leave a wedged server behind for the next one.
// - CPU per GB counts both weft processes (utime + stime from /proc, all
//   threads) from just before the client starts to just after it ends,
//   against the payload bytes the receiver got.
// - Every step has a time limit and the whole run a budget; Ctrl-C,
//   SIGTERM, a failure or the budget running out all end in Rig.down().
//
// Usage: node dist/bench/throughput.js [--quick] [--reps N] [--seconds S] [--cases tcp-1,udp-64]
// (normally through `npm run bench`, which runs it inside `unshare --net`).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CASES, parseReport, type LoadCase } from './live/iperf.js';
import { cpuSeconds, peakRssBytes } from './live/procstat.js';
import { chart, count, num, summarise, table, type Heading, type RunRecord, type Tunnel } from './live/report.js';
import { ROOT, WEFT, Rig, kill, sleep, waitFor, type Proc } from './live/rig.js';

const IPERF_PORT = 5201;
/** What each tunnel looks like in host i (i = 1, 2). */
const OVERLAY: Record<Tunnel, (i: number) => string> = {
  weft: (i) => `10.244.0.${i}`,
  kernel: (i) => `10.244.1.${i}`,
};
const underlay = (i: number) => `198.18.0.${i}`;
/** Time a run may take beyond its nominal length (server start, connect, results exchange). */
const RUN_SLACK_S = 30;

interface Options { reps: number; seconds: number; cases: LoadCase[] }

function usage(msg: string): never {
  process.stderr.write(`live: ${msg}\nusage: node dist/bench/throughput.js [--quick] [--reps N] [--seconds S] [--cases ${CASES.map((c) => c.id).join(',')}]\n`);
  process.exit(2);
}

function options(argv: string[]): Options {
  let v;
  try {
    v = parseArgs({ args: argv, options: { quick: { type: 'boolean' }, reps: { type: 'string' }, seconds: { type: 'string' }, cases: { type: 'string' } } }).values;
  } catch (e) {
    usage((e as Error).message);
  }
  const int = (s: string | undefined, dflt: number, lo: number, hi: number, name: string) => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < lo || n > hi) usage(`--${name} must be an integer ${lo}–${hi}, got '${s}'`);
    return n;
  };
  const reps = int(v.reps, v.quick ? 1 : 3, 1, 50, 'reps');
  const seconds = int(v.seconds, v.quick ? 3 : 10, 1, 600, 'seconds');
  let cases = [...CASES];
  if (v.cases !== undefined) {
    const ids = v.cases.split(',').map((s) => s.trim()).filter(Boolean);
    for (const id of ids) if (!CASES.some((c) => c.id === id)) usage(`unknown case '${id}'`);
    cases = CASES.filter((c) => ids.includes(c.id));
  }
  return { reps, seconds, cases };
}

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Everything that would make the run fail later, checked before anything is built. */
function preflight(): void {
  const fail = (msg: string) => { process.stderr.write(`live: ${msg}\n`); process.exit(1); };
  if (process.getuid?.() !== 0) fail('needs root (network namespaces, TAP devices): sudo npm run bench (or npm run bench -- --only micro)');
  if (!have('ip')) fail('install iproute2: apt-get install -y iproute2');
  if (!have('iperf3')) fail('install iperf3: apt-get install -y iperf3');
  if (!existsSync(WEFT)) fail(`weft is not built (${relative(ROOT, WEFT)} missing): npm ci`);
}

const progress = (s: string) => process.stderr.write(s);

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

function tail(s: string, lines = 5): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

// ---- setup ----

function addKernelVxlan(rig: Rig, i: number, j: number): void {
  rig.exec(i, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '2', 'dstport', '4789', 'local', underlay(i), 'remote', underlay(j), 'dev', 'eth0']);
  rig.exec(i, ['ip', 'addr', 'add', `${OVERLAY.kernel(i)}/24`, 'dev', 'vx0']);
  rig.exec(i, ['ip', 'link', 'set', 'vx0', 'up']);
}

async function startWeft(rig: Rig, i: number, j: number): Promise<Proc> {
  const p = rig.spawn(i, [process.execPath, WEFT, 'run', '--local', underlay(i), '--peer', underlay(j),
    '--address', `${OVERLAY.weft(i)}/24`, '--tap', 'weft0', '--vni', '1', '--port', '8472']);
  await waitFor(() => /listening on/.test(p.stderr()) || !p.running(), 15_000, `weft to start in ${rig.ns(i)}`);
  if (!p.running()) throw new Error(`weft in ${rig.ns(i)} exited at start:\n${tail(p.stderr())}`);
  return p;
}

function pingable(rig: Rig, t: Tunnel): boolean {
  try {
    rig.exec(1, ['ping', '-c', '3', '-i', '0.2', '-W', '1', OVERLAY[t](2)], 15_000);
    return true;
  } catch {
    return false;
  }
}

// ---- one run ----

/** weft is gone: the run cannot go on (unlike a failed iperf3 run, which is recorded and skipped). */
class WeftExited extends Error {}

function weftGone(w: Proc): WeftExited {
  return new WeftExited(`weft (pid ${w.pid}) has exited; its last words:\n${tail(w.stderr())}`);
}

/** CPU seconds used so far by all weft processes together. */
function weftCpu(wefts: Proc[]): number {
  let sum = 0;
  for (const w of wefts) {
    try {
      sum += cpuSeconds(w.pid);
    } catch {
      throw weftGone(w);
    }
  }
  return sum;
}

async function oneRun(rig: Rig, wefts: Proc[], c: LoadCase, t: Tunnel, rep: number, seconds: number): Promise<RunRecord> {
  for (const w of wefts) if (!w.running()) throw weftGone(w);
  const server = rig.spawn(2, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '--forceflush']);
  const rec: RunRecord = { case: c.id, tunnel: t, rep, sample: null, error: null, weftCpuS: 0 };
  try {
    await waitFor(() => /listening/i.test(server.stdout()) || !server.running(), 10_000, 'the iperf3 server');
    if (!server.running()) throw new Error(`iperf3 server exited: ${tail(server.stderr() || server.stdout(), 2)}`);
    const cpu0 = weftCpu(wefts);
    const r = await rig.run(1, ['iperf3', '-c', OVERLAY[t](2), '-p', String(IPERF_PORT), '-t', String(seconds), '-J',
      '--connect-timeout', '5000', ...c.args], (seconds + RUN_SLACK_S) * 1000, Promise.race(wefts.map((w) => w.exited)));
    for (const w of wefts) if (!w.running()) throw weftGone(w);
    rec.weftCpuS = weftCpu(wefts) - cpu0;
    if (r.timedOut) throw new Error(`iperf3 did not finish within ${seconds + RUN_SLACK_S} s`);
    rec.sample = parseReport(r.out, c);
  } catch (e) {
    if (e instanceof WeftExited) throw e;
    rec.error = (e as Error).message;
  }
  // The server exits after its one test; give it a moment, then make sure.
  await Promise.race([server.exited, sleep(5000)]);
  if (server.running()) kill(server.pid, 'SIGKILL');
  await server.exited;
  return rec;
}

function mmss(s: number): string {
  s = Math.max(0, Math.round(s));
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

// ---- the whole run ----

async function main(rig: Rig, o: Options): Promise<number> {
  const started = new Date();
  const heading: Heading = {
    reps: o.reps, seconds: o.seconds, kernel: release(), cpus: availableParallelism(),
    iperf3: firstLine('iperf3', ['--version']).replace(/^iperf /, '').split(' ')[0],
    weftCommit: firstLine('git', ['describe', '--always', '--dirty']),
  };

  // iperf3 and both tunnels share the CPUs: anything else running skews both sides.
  const load = loadavg()[0];
  if (load > heading.cpus / 2) progress(`live: warning: the machine is busy (load average ${load.toFixed(1)} on ${heading.cpus} CPUs); numbers will be noisy\n`);
  progress(`live: building rig ${rig.name} (2 hosts)…\n`);
  rig.up();
  addKernelVxlan(rig, 1, 2);
  addKernelVxlan(rig, 2, 1);
  const wefts = [await startWeft(rig, 1, 2), await startWeft(rig, 2, 1)];
  progress(`live: weft running in ${rig.ns(1)} and ${rig.ns(2)} (pids ${wefts.map((w) => w.pid).join(', ')}); kernel vx0 (VNI 2, port 4789) beside it\n`);
  for (const t of ['weft', 'kernel'] as const) {
    if (!pingable(rig, t)) throw new Error(`no ping reply across the ${t} tunnel (${OVERLAY[t](1)} → ${OVERLAY[t](2)})` + (t === 'weft' ? `:\n${tail(wefts[0].stderr())}` : ''));
  }

  const total = o.reps * o.cases.length * 2;
  progress(`live: ${o.reps} rep(s) × ${o.cases.length} case(s) × 2 tunnels × ${o.seconds} s = ${total} runs, about ${mmss(total * (o.seconds + 1.5))}\n`);
  const runs: RunRecord[] = [];
  const t0 = Date.now();
  let n = 0;
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const [k, c] of o.cases.entries()) {
      const order: Tunnel[] = (rep + k) % 2 ? ['weft', 'kernel'] : ['kernel', 'weft'];
      for (const t of order) {
        n++;
        progress(`[${String(n).padStart(String(total).length)}/${total}] rep ${rep}/${o.reps}  ${c.id.padEnd(9)} ${t.padEnd(6)} `);
        const r = await oneRun(rig, wefts, c, t, rep, o.seconds);
        runs.push(r);
        const left = ((Date.now() - t0) / n) * (total - n) / 1000;
        const s = r.sample;
        progress(s
          ? `${num(s.gbps).padStart(6)} Gbit/s ${count(s.pps).padStart(8)} pkt/s${s.lossPct !== null ? `  loss ${num(s.lossPct)} %` : ''}${t === 'weft' ? `  weft CPU ${num(r.weftCpuS)} s` : ''}  (${mmss(left)} left)\n`
          : `FAILED: ${r.error}\n`);
        await sleep(300);
      }
    }
  }

  const rss: Record<string, number> = {};
  wefts.forEach((w, i) => { rss[rig.ns(i + 1).replace(`${rig.name}-`, '')] = peakRssBytes(w.pid); });
  for (const w of wefts) kill(w.pid, 'SIGTERM');
  await Promise.race([Promise.all(wefts.map((w) => w.exited)), sleep(3000)]);
  rig.down();

  const sums = summarise(o.cases, runs);
  const idleCpuS = runs.filter((r) => r.tunnel === 'kernel').reduce((a, r) => a + r.weftCpuS, 0);
  const text = table(heading, sums, rss, idleCpuS);
  const dir = join(ROOT, 'bench/results', started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-'));
  mkdirSync(dir, { recursive: true });
  const json = {
    version: 1,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    config: { reps: o.reps, seconds: o.seconds, cases: o.cases, weft: { vni: 1, port: 8472, overlay: '10.244.0.0/24' }, kernel: { vni: 2, port: 4789, overlay: '10.244.1.0/24' } },
    host: { ...heading, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: load },
    summary: sums,
    weft: { peakRssBytes: rss, idleCpuS },
    runs,
  };
  writeFileSync(join(dir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, 'chart.svg'), chart(heading, sums));
  writeFileSync(join(dir, 'table.txt'), text);
  process.stdout.write('\n' + text);
  process.stdout.write(`results: ${relative(process.cwd(), dir) || dir}/{results.json,chart.svg,table.txt}\n`);
  const failed = runs.filter((r) => r.error).length;
  if (failed) progress(`live: ${failed} of ${runs.length} runs failed (see "error" in results.json)\n`);
  return failed ? 1 : 0;
}

const o = options(process.argv.slice(2));
preflight();
const rig = new Rig(2);
const budgetS = o.reps * o.cases.length * 2 * (o.seconds + RUN_SLACK_S + 10) + 120;
const finish = (code: number) => { clearTimeout(watchdog); rig.down(); process.exit(code); };
const watchdog = setTimeout(() => {
  progress(`\nlive: the run exceeded its budget of ${mmss(budgetS)}; stopping\n`);
  finish(1);
}, budgetS * 1000);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => { progress(`\nlive: ${sig}: stopping weft and iperf3, removing rig ${rig.name}\n`); finish(code); });
}
process.on('exit', () => rig.down());
main(rig, o).then(finish, (e: Error) => {
  progress(`\nlive: ${e.message}\n`);
  finish(1);
});
