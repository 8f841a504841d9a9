// Where the CPU goes on one `tcp-1` run of the weft pair: user and system
// time of each weft, system calls, a kernel + user profile (perf) and a
// JavaScript profile (V8's), each per GB the receiver got.
//
// Design notes
// - Four phases, each one iperf3 `tcp-1` run of --seconds through the weft
//   pair on a fresh two-host rig, so that no instrument colours another's
//   numbers:
//     1. clean: nothing attached; utime and stime of each weft from
//        /proc/PID/stat, the machine's idle share from /proc/stat, and weft's
//        own batch counters (`weft stats --json`: TAP reads and socket
//        reads, and the packets they moved);
//     2. syscalls: `perf stat` counting each weft's system-call entries by
//        tracepoint (exact, and cheap next to strace, which stops the
//        process at every call);
//     3. perf: `perf record -g` (cpu-clock: a VM has no hardware counters)
//        on both wefts, weft started with --perf-basic-prof so its JIT
//        frames have names; the report split into user and kernel symbols;
//     4. V8: a new weft pair under `node --cpu-prof`, stopped by SIGTERM so
//        that Node writes the profiles; self time summed per function.
// - Phases 2 and 3 need `perf` (Debian's linux-perf) and a kernel that
//   allows perf_event_open; without them the report says which and goes on.
// - With `--against DIR` (another checkout, built: the commit before a
//   change), none of that: instead --reps turns of a clean run and a
//   system-call count (phases 1 and 2) for this tree's weft pair and for
//   DIR's, the order alternating every turn so that both see the same
//   machine; the medians per GB side by side. What an A/B of a change to
//   the data path needs, within the VM's ±20 % from run to run.
// - Every process is started through the rig and tracked by PID; Ctrl-C,
//   SIGTERM, a failure or the time budget all end in Rig.down(). The
//   perf map files weft writes to /tmp are removed by PID.
//
// Usage: sudo npm run bench -- --only profile [--seconds S] [--reps N --against DIR]
//   (or: sudo unshare --net node dist/bench/profile.js [--seconds S] [--reps N --against DIR])

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CASES, parseReport, type Sample } from './live/iperf.js';
import { cpuTimes } from './live/procstat.js';
import { num, stat } from './live/report.js';
import { ROOT, WEFT, Rig, kill, sleep, waitFor, type Proc } from './live/rig.js';
import { startWeft, tail, weftOverlay } from './live/weft.js';
import { selfTimes, type SelfTimes } from './live/cpuprofile.js';

const IPERF_PORT = 5201;
const TCP1 = CASES.find((c) => c.id === 'tcp-1')!;
/** The system calls counted one by one; the rest is `raw_syscalls:sys_enter` minus their sum. */
const SYSCALLS = ['read', 'write', 'writev', 'sendmmsg', 'sendmsg', 'recvmmsg', 'recvmsg', 'epoll_wait', 'epoll_pwait', 'futex', 'ioctl'];
const progress = (s: string) => process.stderr.write(`profile: ${s}\n`);

function usage(msg: string): never {
  process.stderr.write(`profile: ${msg}\nusage: node dist/bench/profile.js [--seconds S] [--reps N --against DIR]\n`);
  process.exit(2);
}

function options(): { seconds: number; reps: number; against: string | null } {
  let v;
  try {
    v = parseArgs({ options: { seconds: { type: 'string' }, reps: { type: 'string' }, against: { type: 'string' } } }).values;
  } catch (e) {
    usage((e as Error).message);
  }
  const seconds = v.seconds === undefined ? 10 : Number(v.seconds);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 120) usage(`--seconds must be an integer 2–120, got '${v.seconds}'`);
  const reps = v.reps === undefined ? 3 : Number(v.reps);
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) usage(`--reps must be an integer 1–20, got '${v.reps}'`);
  const against = v.against ?? null;
  if (against !== null && !existsSync(join(against, 'dist/src/cli/main.js'))) usage(`--against: no built weft in ${against} (run npm ci there)`);
  return { seconds, reps, against };
}

/** Why perf cannot be used here, or null when it can (one tracepoint count and one cpu-clock sample of `true`). */
function perfProblem(): string | null {
  try {
    execFileSync('perf', ['stat', '-e', 'raw_syscalls:sys_enter,cpu-clock', '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    return null;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') return 'perf is not installed: apt-get install -y linux-perf';
    return `perf does not work here (perf_event_open refused, or no tracefs): ${tail(err.stderr?.toString() ?? err.message, 2)}`;
  }
}

// ---- one measured run ----

interface Sides<T> { h1: T; h2: T }
type Cpu = { user: number; system: number };

const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/** /proc/stat's first line: all CPUs' time so far, and how much of it idle (idle + iowait), in ticks. */
function machineTicks(): { total: number; idle: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + f[4] };
}

/** What one run measured; fromUs/toUs: when iperf3 ran, on CLOCK_MONOTONIC (µs), the clock of V8's profiles. */
interface Run { sample: Sample; cpu: Sides<Cpu>; idlePct: number; fromUs: number; toUs: number }

/**
 * One iperf3 tcp-1 run from h1 to h2 through weft; `during` starts whatever
 * watches the run (it gets the run's length and returns a promise that
 * settles when the watching is done).
 */
async function tcp1(rig: Rig, wefts: Proc[], seconds: number, during?: () => Promise<unknown>): Promise<Run> {
  const server = rig.spawn(2, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '--forceflush']);
  await waitFor(() => /listening/i.test(server.stdout()) || !server.running(), 10_000, 'the iperf3 server');
  const t0 = wefts.map((w) => cpuTimes(w.pid)), m0 = machineTicks(), fromUs = monoUs();
  const watching = during?.();
  const r = await rig.run(1, ['iperf3', '-c', weftOverlay(2), '-p', String(IPERF_PORT), '-t', String(seconds), '-J', '--connect-timeout', '5000'],
    (seconds + 30) * 1000, Promise.race(wefts.map((w) => w.exited)));
  const t1 = wefts.map((w) => cpuTimes(w.pid)), m1 = machineTicks(), toUs = monoUs();
  await watching;
  await Promise.race([server.exited, sleep(5000)]);
  if (server.running()) kill(server.pid, 'SIGKILL');
  if (r.timedOut) throw new Error(`iperf3 did not finish within ${seconds + 30} s`);
  const d = (k: number): Cpu => ({ user: t1[k].user - t0[k].user, system: t1[k].system - t0[k].system });
  return { sample: parseReport(r.out, TCP1), cpu: { h1: d(0), h2: d(1) }, idlePct: (100 * (m1.idle - m0.idle)) / (m1.total - m0.total), fromUs, toUs };
}

/** `weft stats --json` of host i's weft: the batch counters (reads and the packets they moved, per direction). */
function batches(rig: Rig, i: number): Record<string, { reads: number; packets: number }> {
  const out = rig.exec(i, [process.execPath, WEFT, 'stats', '--json'], 15_000);
  return (JSON.parse(out) as { batches: Record<string, { reads: number; packets: number }> }).batches;
}

async function pair(rig: Rig, nodeFlags: (i: number) => string[] = () => [], weft = WEFT): Promise<Proc[]> {
  rig.up();
  const wefts = [await startWeft(rig, 1, 2, nodeFlags(1), weft), await startWeft(rig, 2, 1, nodeFlags(2), weft)];
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      rig.exec(1, ['ping', '-c', '2', '-i', '0.2', '-W', '1', weftOverlay(2)]);
      return wefts;
    } catch {
      if (Date.now() > end) throw new Error(`no ping reply across weft:\n${tail(wefts[0].stderr())}`);
      await sleep(300);
    }
  }
}

async function stopPair(rig: Rig, wefts: Proc[]): Promise<void> {
  for (const w of wefts) kill(w.pid, 'SIGTERM');
  await Promise.race([Promise.all(wefts.map((w) => w.exited)), sleep(10_000)]);
  rig.down();
}

// ---- the phases ----

const perGB = (s: number, r: Run) => s / (r.sample.bytes / 1e9);

function cpuLines(r: Run): string[] {
  return (['h1', 'h2'] as const).map((h) => {
    const c = r.cpu[h];
    return `  weft ${h === 'h1' ? 'sender  ' : 'receiver'} (${h}): user ${num(c.user)} s + system ${num(c.system)} s = ${num(c.user + c.system)} s; per GB: user ${num(perGB(c.user, r))} + system ${num(perGB(c.system, r))}`;
  });
}

function runLine(r: Run): string {
  return `  ${num(r.sample.gbps)} Gbit/s, ${num(r.sample.bytes / 1e9)} GB received in ${num(r.sample.seconds)} s; the machine ${num(r.idlePct)} % idle`;
}

/** `perf stat` output (-x, CSV) as counts per event name. */
function perfCounts(csv: string): Record<string, number> {
  const o: Record<string, number> = {};
  for (const line of csv.split('\n')) {
    const f = line.split(',');
    if (f.length < 3 || !/^\d+$/.test(f[0])) continue;
    o[f[2].replace(/^syscalls:sys_enter_/, '')] = Number(f[0]);
  }
  return o;
}

type Counts = Record<string, Record<string, number>>;

/** One tcp-1 run with `perf stat` counting each weft's system calls; `tag` names its files in `dir`. */
async function syscallRun(rig: Rig, seconds: number, dir: string, weft = WEFT, tag = ''): Promise<{ r: Run; counts: Counts }> {
  const wefts = await pair(rig, undefined, weft);
  try {
    const events = ['raw_syscalls:sys_enter', ...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`)].join(',');
    const files = wefts.map((_, k) => join(dir, `syscalls${tag}-h${k + 1}.csv`));
    // perf stat runs beside iperf3 for the run's length (its own `sleep` bounds it).
    const r = await tcp1(rig, wefts, seconds, () => Promise.all(wefts.map((w, k) =>
      rig.run(k + 1, ['perf', 'stat', '-x', ',', '-o', files[k], '-e', events, '-p', String(w.pid), '--', 'sleep', String(seconds)], (seconds + 20) * 1000))));
    const counts: Counts = {};
    wefts.forEach((_, k) => {
      const c = perfCounts(existsSync(files[k]) ? readFileSync(files[k], 'utf8') : '');
      const total = c['raw_syscalls:sys_enter'] ?? NaN;
      const named = SYSCALLS.reduce((a, s) => a + (c[s] ?? 0), 0);
      counts[`h${k + 1}`] = { total, ...Object.fromEntries(SYSCALLS.map((s) => [s, c[s] ?? 0])), other: total - named };
    });
    return { r, counts };
  } finally {
    await stopPair(rig, wefts);
  }
}

async function phaseSyscalls(rig: Rig, seconds: number, dir: string, report: string[], json: Record<string, unknown>): Promise<void> {
  const { r, counts } = await syscallRun(rig, seconds, dir);
  report.push('', `2. system calls (perf stat, tracepoints), ${seconds} s:`, runLine(r), ...cpuLines(r));
  for (const [h, c] of Object.entries(counts)) {
    const parts = [...SYSCALLS, 'other'].filter((s) => c[s] > 0).map((s) => `${s} ${num(perGB(c[s], r) / 1000)} k`).join(', ');
    report.push(`  ${h}: ${num(perGB(c.total, r) / 1000)} k system calls per GB (${parts})`);
  }
  json.syscalls = { run: r, counts };
}

/** Where a sample landed, by the object it was in: the kernel, JIT-compiled JavaScript, Node/V8 itself, weft's addon, libc. */
function category(dso: string): string {
  if (dso === '[kernel.kallsyms]' || dso.startsWith('[kernel')) return 'kernel';
  if (dso.startsWith('[JIT]') || dso.startsWith('perf-')) return 'JavaScript (JIT)';
  if (dso === 'node') return 'node/V8 (runtime, builtins, compiler, GC)';
  if (dso === 'weft_native.node') return 'weft addon (C)';
  if (/^libc[.-]/.test(dso)) return 'libc';
  return 'other';
}

interface PerfSample { pid: number; main: boolean; sym: string; dso: string }

/** Every sample of a perf.data as (process, main thread or not, symbol, object), from `perf script` (no call chains). */
function perfSamples(data: string): PerfSample[] {
  const out = execFileSync('perf', ['script', '-i', data, '-F', 'pid,tid,ip,sym,dso', '-G'],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const samples: PerfSample[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (m) samples.push({ pid: Number(m[1]), main: m[1] === m[2], sym: m[3] || '[unknown]', dso: m[4].replace(/^.*\//, '') });
  }
  return samples;
}

/** One process's samples: the share of each kind of code, of its main thread, and the top symbols (% of its samples). */
function perfReport(all: PerfSample[], pid: number): { samples: number; mainPct: number; shares: Record<string, number>; top: [string, number][] } {
  const mine = all.filter((x) => x.pid === pid);
  const pct = (n: number) => (100 * n) / Math.max(1, mine.length);
  const shares: Record<string, number> = {}, syms = new Map<string, number>();
  for (const x of mine) {
    const c = category(x.dso);
    shares[c] = (shares[c] ?? 0) + 1;
    const where = c === 'kernel' ? 'k' : c === 'JavaScript (JIT)' ? 'JIT' : x.dso;
    const key = `${x.sym.replace(/^JS:\*?/, '').replace(/ file:\/\/\S*\/dist\//, ' ')} [${where}]`;
    syms.set(key, (syms.get(key) ?? 0) + 1);
  }
  for (const c of Object.keys(shares)) shares[c] = pct(shares[c]);
  const top = [...syms.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, n]): [string, number] => [k, pct(n)]);
  return { samples: mine.length, mainPct: pct(mine.filter((x) => x.main).length), shares, top };
}

async function phasePerf(rig: Rig, seconds: number, dir: string, report: string[], json: Record<string, unknown>): Promise<void> {
  const wefts = await pair(rig, () => ['--perf-basic-prof-only-functions']);
  const data = join(dir, 'perf.data');
  try {
    const r = await tcp1(rig, wefts, seconds, () => rig.run(1, ['perf', 'record', '-e', 'cpu-clock', '-F', '999', '-g', '-o', data,
      '-p', wefts.map((w) => w.pid).join(','), '--', 'sleep', String(seconds)], (seconds + 60) * 1000));
    report.push('', `3. perf record -g (cpu-clock, 999 Hz) on both wefts, ${seconds} s:`, runLine(r), ...cpuLines(r));
    const all = perfSamples(data);
    const per: Record<string, ReturnType<typeof perfReport>> = {};
    wefts.forEach((w, k) => {
      const h = `h${k + 1}`;
      const p = perfReport(all, w.pid);
      per[h] = p;
      writeFileSync(join(dir, `perf-${h}.txt`), p.top.map(([s, v]) => `${num(v).padStart(6)} %  ${s}`).join('\n') + '\n');
      const shares = Object.entries(p.shares).sort((x, y) => y[1] - x[1]).map(([c, v]) => `${c} ${num(v)} %`).join(', ');
      report.push(`  ${h} (${k ? 'receiver' : 'sender'}): ${p.samples} samples, ${num(p.mainPct)} % on the main thread; by kind of code: ${shares}`,
        '    top symbols (self, % of this weft\'s samples):', ...p.top.slice(0, 20).map(([s, v]) => `    ${num(v).padStart(6)} %  ${s}`));
    });
    json.perf = { run: r, per };
  } finally {
    await stopPair(rig, wefts);
    for (const w of wefts) rmSync(`/tmp/perf-${w.pid}.map`, { force: true });
  }
}

async function phaseV8(rig: Rig, seconds: number, dir: string, report: string[], json: Record<string, unknown>): Promise<void> {
  const profDir = (i: number) => join(dir, `cpuprofile-h${i}`);
  for (const i of [1, 2]) mkdirSync(profDir(i), { recursive: true });
  const wefts = await pair(rig, (i) => ['--cpu-prof', `--cpu-prof-dir=${profDir(i)}`]);
  let r: Run;
  try {
    r = await tcp1(rig, wefts, seconds);
  } finally {
    await stopPair(rig, wefts);
  }
  report.push('', `4. V8 profiler (node --cpu-prof) on both wefts' main threads, samples taken while iperf3 ran (${seconds} s):`, runLine(r), ...cpuLines(r));
  const per: Record<string, SelfTimes> = {};
  for (const i of [1, 2]) {
    const files = readdirSync(profDir(i)).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) { report.push(`  h${i}: no profile written (weft did not exit cleanly?)`); continue; }
    const t = selfTimes(JSON.parse(readFileSync(join(profDir(i), files[0]), 'utf8')), r);
    per[`h${i}`] = { ...t, rows: t.rows.slice(0, 40) };
    report.push(`  h${i} (${i === 1 ? 'sender' : 'receiver'}): busy ${num(t.busyMs)} ms, waiting in the event loop ${num(t.idleMs)} ms; self time of the busy part, top functions:`,
      ...t.rows.slice(0, 16).map((x) => `    ${num(x.ms).padStart(7)} ms ${num(x.pct).padStart(5)} %  ${x.name}`));
  }
  json.v8 = { run: r, per };
}

// ---- A/B against another build ----

/** One variant's turns: per GB, user and system of each side; system calls per GB of each side. */
interface Turns { runs: Run[]; calls: { r: Run; counts: Counts }[] }

async function ab(rig: Rig, seconds: number, reps: number, against: string, dir: string, report: string[], json: Record<string, unknown>): Promise<void> {
  const weft = { this: WEFT, base: join(against, 'dist/src/cli/main.js') };
  const turns: Record<'this' | 'base', Turns> = { this: { runs: [], calls: [] }, base: { runs: [], calls: [] } };
  const perf = perfProblem();
  for (let k = 0; k < reps; k++) {
    for (const which of (k % 2 === 0 ? ['this', 'base'] : ['base', 'this']) as ('this' | 'base')[]) {
      progress(`turn ${k + 1}/${reps}: ${which}, clean run`);
      const wefts = await pair(rig, undefined, weft[which]);
      try {
        turns[which].runs.push(await tcp1(rig, wefts, seconds));
      } finally {
        await stopPair(rig, wefts);
      }
      if (perf !== null) continue;
      progress(`turn ${k + 1}/${reps}: ${which}, system calls`);
      turns[which].calls.push(await syscallRun(rig, seconds, dir, weft[which], `-${which}-${k + 1}`));
    }
  }
  const med = (xs: number[]) => stat(xs)?.median ?? NaN;
  report.push('', `A/B: this tree against ${against}, ${reps} turns of ${seconds} s each, alternating; medians, per GB the receiver got:`);
  for (const which of ['this', 'base'] as const) {
    const t = turns[which];
    const side = (h: 'h1' | 'h2', f: 'user' | 'system') => med(t.runs.map((r) => perGB(r.cpu[h][f], r)));
    const calls = (h: 'h1' | 'h2') => med(t.calls.map(({ r, counts }) => perGB(counts[h].total, r) / 1000));
    report.push(`  ${which}: ${num(med(t.runs.map((r) => r.sample.gbps)))} Gbit/s; sender user ${num(side('h1', 'user'))} + system ${num(side('h1', 'system'))}, `
      + `receiver user ${num(side('h2', 'user'))} + system ${num(side('h2', 'system'))}; pair user ${num(med(t.runs.map((r) => perGB(r.cpu.h1.user + r.cpu.h2.user, r))))}`
      + ` + system ${num(med(t.runs.map((r) => perGB(r.cpu.h1.system + r.cpu.h2.system, r))))} s/GB; machine idle ${num(med(t.runs.map((r) => r.idlePct)))} %`
      + (t.calls.length > 0 ? `; system calls ${num(calls('h1'))} k sender, ${num(calls('h2'))} k receiver per GB` : `; system calls: not counted (${perf})`));
    for (const r of t.runs) report.push(`    ${runLine(r).trim()}`, ...cpuLines(r).map((l) => `  ${l}`));
  }
  json.ab = { against, reps, turns };
}

// ---- main ----

async function main(rig: Rig, seconds: number, reps: number, against: string | null): Promise<number> {
  const started = new Date();
  const dir = join(ROOT, 'bench/results', `profile-${started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const perf = perfProblem();
  const report = [`weft profile: tcp-1 through the weft pair, ${seconds} s per phase; Linux ${release()}; weft ${execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim()}`];
  const json: Record<string, unknown> = { version: 1, started: started.toISOString(), seconds, perf: perf ?? 'ok' };
  if (against !== null) {
    await ab(rig, seconds, reps, against, dir, report, json);
    return done(dir, report, json);
  }

  progress('phase 1: clean run');
  const wefts = await pair(rig);
  let clean: Run;
  let b: Record<string, Record<string, { reads: number; packets: number }>>;
  try {
    const b0 = [batches(rig, 1), batches(rig, 2)];
    clean = await tcp1(rig, wefts, seconds);
    const b1 = [batches(rig, 1), batches(rig, 2)];
    b = Object.fromEntries([0, 1].map((k) => [`h${k + 1}`, Object.fromEntries(Object.keys(b1[k]).map((d) =>
      [d, { reads: b1[k][d].reads - b0[k][d].reads, packets: b1[k][d].packets - b0[k][d].packets }]))]));
  } finally {
    await stopPair(rig, wefts);
  }
  report.push('', `1. clean run (nothing attached), ${seconds} s:`, runLine(clean), ...cpuLines(clean));
  for (const [h, dirs] of Object.entries(b)) {
    report.push(`  ${h} batches per GB: ${Object.entries(dirs).map(([d, x]) => `${d} ${num(perGB(x.reads, clean) / 1000)} k reads moving ${num(x.packets / Math.max(1, x.reads))} packets each`).join('; ')}`);
  }
  json.clean = { run: clean, batches: b };

  if (perf === null) {
    progress('phase 2: system calls (perf stat)');
    await phaseSyscalls(rig, seconds, dir, report, json);
    progress('phase 3: perf record');
    await phasePerf(rig, seconds, dir, report, json);
  } else {
    report.push('', `2.–3. perf: not measured: ${perf}`);
  }
  progress('phase 4: V8 profiler');
  await phaseV8(rig, seconds, dir, report, json);

  return done(dir, report, json);
}

function done(dir: string, report: string[], json: Record<string, unknown>): number {
  json.finished = new Date().toISOString();
  writeFileSync(join(dir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, 'report.txt'), report.join('\n') + '\n');
  process.stdout.write('\n' + report.join('\n') + '\n');
  process.stdout.write(`results: ${relative(process.cwd(), dir) || dir}/\n`);
  return 0;
}

const { seconds, reps, against } = options();
if (process.getuid?.() !== 0) usage('needs root (network namespaces, TAP devices): sudo npm run bench -- --only profile');
for (const [cmd, pkg] of [['iperf3', 'iperf3'], ['ip', 'iproute2']]) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', timeout: 5000 });
  } catch {
    progress(`install ${cmd}: apt-get install -y ${pkg}`);
    process.exit(1);
  }
}
if (!existsSync(WEFT)) { progress(`weft is not built (${relative(ROOT, WEFT)} missing): npm ci`); process.exit(1); }
const rig = new Rig(2);
const finish = (code: number) => { clearTimeout(watchdog); rig.down(); process.exit(code); };
// Four phases of one run each (A/B: two runs per variant and turn), plus rig and weft start-up and perf's report.
const budgetS = (against !== null ? 4 * reps : 4) * (seconds + 60) + 240;
const watchdog = setTimeout(() => { progress(`the run exceeded its budget of ${budgetS} s; stopping`); finish(1); }, budgetS * 1000);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => { progress(`${sig}: stopping weft, perf and iperf3, removing rig ${rig.name}`); finish(code); });
}
process.on('exit', () => rig.down());
main(rig, seconds, reps, against).then(finish, (e: Error) => {
  progress(e.message);
  finish(1);
});
