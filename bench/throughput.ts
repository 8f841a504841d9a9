// The live benchmark: iperf3 through weft, through the Linux kernel's
// vxlan device, through tinc (a userspace C tunnel, the reference the
// small-packet target is set against) and through Open vSwitch's userspace
// datapath (the userspace VTEP a user would otherwise pick; set up in
// tunnels/ovs.ts), on the same two-host netns rig, in the same run.
//
// Design notes
// - The tunnels exist side by side for the whole run (weft: VNI 1, UDP
//   8472, 10.244.0.0/24; kernel: VNI 2, UDP 4789, 10.244.1.0/24; tinc 1.0:
//   switch mode, UDP 655, 10.244.2.0/24; OVS: VNI 3, UDP 4789 over its own
//   underlay link, 10.244.3.0/24) and take turns carrying the load:
//   for every repetition and case, one run through each, the order rotating
//   each time, so that drift (thermal, a noisy neighbour) lands on all.
//   weft's CPU while another tunnel carries the load is measured too, to
//   show that an idle weft does not tax the other runs.
// - tinc and OVS are optional: without one the run says how to install it
//   and goes on without it. It runs with Cipher = none and
//   Digest = none (no encryption, no MAC, like VXLAN) and its TAP at MTU
//   1450 like weft0 and vx0, so all three carry the same inner packets.
//   PMTUDiscovery = no: with it, tinc 1.0 sends frames larger than the
//   path MTU found so far over its TCP meta connection until discovery
//   settles (seconds to ~30 s), which would land in the first runs; with
//   the MTU fixed at 1450 every frame fits one UDP datagram from the start.
// - One iperf3 server per run (`-s -1`) in h2, the client in h1: a run that
//   fails cannot leave a wedged server behind for the next one.
// - CPU per GB counts both weft processes (utime + stime from /proc, all
//   threads) from just before the client starts to just after it ends,
//   against the payload bytes the receiver got; the same for both tincd
//   processes on tinc runs, and both hosts' ovs-vswitchd and ovsdb-server
//   on OVS runs.
// - Every step has a time limit and the whole run a budget; Ctrl-C,
//   SIGTERM, a failure or the budget running out all end in Rig.down().
//
// Usage: node dist/bench/throughput.js [--quick] [--reps N] [--seconds S] [--cases tcp-1,udp-64]
// (normally through `npm run bench`, which runs it inside `unshare --net`).

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CASES, parseReport, type LoadCase } from './live/iperf.js';
import { cpuSeconds, peakRssBytes } from './live/procstat.js';
import { chart, count, num, summarise, table, type Heading, type RunRecord, type Tunnel } from './live/report.js';
import { ROOT, WEFT, Rig, kill, sleep, waitFor, type Proc } from './live/rig.js';
import { startWeft, tail, underlay, weftOverlay } from './live/weft.js';
import { OVS_PORT, OVS_VNI, ovsMissing, ovsOverlay, startOvs, stopOvs } from './tunnels/ovs.js';

const IPERF_PORT = 5201;
/** What each tunnel looks like in host i (i = 1, 2). */
const OVERLAY: Record<Tunnel, (i: number) => string> = {
  weft: weftOverlay,
  kernel: (i) => `10.244.1.${i}`,
  tinc: (i) => `10.244.2.${i}`,
  ovs: ovsOverlay,
};
const TINC_PORT = 655;
/** The same inner MTU as weft0 and vx0 (underlay 1500 − 50). */
const TINC_MTU = 1450;
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

/** Everything that would make the run fail later, checked before anything is built; returns whether tinc and OVS can be part of it. */
function preflight(): { tinc: boolean; ovs: boolean } {
  const fail = (msg: string) => { process.stderr.write(`live: ${msg}\n`); process.exit(1); };
  if (process.getuid?.() !== 0) fail('needs root (network namespaces, TAP devices): sudo npm run bench (or npm run bench -- --only micro)');
  if (!have('ip')) fail('install iproute2: apt-get install -y iproute2');
  if (!have('iperf3')) fail('install iperf3: apt-get install -y iperf3');
  if (!existsSync(WEFT)) fail(`weft is not built (${relative(ROOT, WEFT)} missing): npm ci`);
  const tinc = have('tincd');
  if (!tinc) process.stderr.write('live: install tinc for the userspace reference: apt-get install -y tinc (going on without it)\n');
  const ovsLine = ovsMissing();
  if (ovsLine) process.stderr.write(`live: install Open vSwitch for the userspace-VTEP reference: ${ovsLine} (going on without it)\n`);
  return { tinc, ovs: ovsLine === null };
}

const progress = (s: string) => process.stderr.write(s);

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

// ---- setup ----

function addKernelVxlan(rig: Rig, i: number, j: number): void {
  rig.exec(i, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '2', 'dstport', '4789', 'local', underlay(i), 'remote', underlay(j), 'dev', 'eth0']);
  rig.exec(i, ['ip', 'addr', 'add', `${OVERLAY.kernel(i)}/24`, 'dev', 'vx0']);
  rig.exec(i, ['ip', 'link', 'set', 'vx0', 'up']);
}

function pingable(rig: Rig, t: Tunnel, size?: number): boolean {
  try {
    rig.exec(1, ['ping', '-c', '3', '-i', '0.2', '-W', '1', ...(size ? ['-M', 'do', '-s', String(size)] : []), OVERLAY[t](2)], 15_000);
    return true;
  } catch {
    return false;
  }
}

// ---- tinc ----

/**
 * tinc 1.0 configuration for both hosts, in one temp dir of the rig:
 * DIR/h{i}/tinc.conf, tinc-up, rsa_key.priv and hosts/h1, hosts/h2 (each
 * host file is written once, gets its public key from `tincd -K`, and is
 * copied to the other host). Cipher, Digest, MACLength and PMTUDiscovery
 * are host variables in 1.0 and are the same in both host files.
 */
function configureTinc(rig: Rig): string[] {
  const base = rig.tmpdir('tinc');
  const dirs = [1, 2].map((i) => join(base, `h${i}`));
  for (const [k, d] of dirs.entries()) {
    const i = k + 1;
    mkdirSync(join(d, 'hosts'), { recursive: true });
    writeFileSync(join(d, 'tinc.conf'), [
      `Name = h${i}`,
      'Mode = switch',
      'Interface = tinc0',
      'AddressFamily = ipv4',
      `BindToAddress = ${underlay(i)}`,
      // h1 dials h2; one meta connection is enough for two nodes.
      ...(i === 1 ? ['ConnectTo = h2'] : []),
    ].join('\n') + '\n');
    writeFileSync(join(d, 'hosts', `h${i}`), [
      `Address = ${underlay(i)}`,
      `Port = ${TINC_PORT}`,
      'Cipher = none',
      'Digest = none',
      'MACLength = 0',
      'Compression = 0',
      'PMTUDiscovery = no',
    ].join('\n') + '\n');
    // Run by tincd itself (in the host's namespace) once the TAP exists.
    writeFileSync(join(d, 'tinc-up'), [
      '#!/bin/sh',
      'set -e',
      `ip link set "$INTERFACE" mtu ${TINC_MTU}`,
      `ip addr add ${OVERLAY.tinc(i)}/24 dev "$INTERFACE"`,
      'ip link set "$INTERFACE" up',
    ].join('\n') + '\n');
    chmodSync(join(d, 'tinc-up'), 0o755);
    // Appends the public key to hosts/h{i}; stdin closed, so it asks nothing.
    rig.exec(i, ['tincd', '-c', d, '-K'], 60_000);
  }
  copyFileSync(join(dirs[0], 'hosts', 'h1'), join(dirs[1], 'hosts', 'h1'));
  copyFileSync(join(dirs[1], 'hosts', 'h2'), join(dirs[0], 'hosts', 'h2'));
  return dirs;
}

/** tincd in the foreground (-D: logs to stderr, no fork, so the PID is tincd's), tracked by the rig. */
async function startTincd(rig: Rig, i: number, dir: string, started: Proc[]): Promise<Proc> {
  const p = rig.spawn(i, ['tincd', '-c', dir, '-D', `--pidfile=${join(dir, 'tincd.pid')}`, '-d1']);
  started.push(p);
  await waitFor(() => /^Ready$/m.test(p.stderr()) || !p.running(), 15_000, `tincd to start in ${rig.ns(i)}`);
  if (!p.running()) throw new Error(`tincd in ${rig.ns(i)} exited at start:\n${tail(p.stderr())}`);
  return p;
}

/** Both tincds up, connected, and carrying full-size frames over UDP; throws with tinc's own words if not. */
async function startTinc(rig: Rig): Promise<Proc[]> {
  const dirs = configureTinc(rig);
  const started: Proc[] = [];
  try {
    return await connectTinc(rig, dirs, started);
  } catch (e) {
    await stop(started);
    throw e;
  }
}

async function connectTinc(rig: Rig, dirs: string[], started: Proc[]): Promise<Proc[]> {
  // h2 first, so that h1's first connection attempt finds it listening (a
  // refused one would wait 5 s to retry).
  const h2 = await startTincd(rig, 2, dirs[1], started);
  const h1 = await startTincd(rig, 1, dirs[0], started);
  const tincs = [h1, h2];
  const logs = () => tincs.map((p, k) => `h${k + 1}: ${tail(p.stderr(), 3)}`).join('\n');
  await waitFor(() => /Connection with h2 .* activated/.test(h1.stderr()) || !h1.running() || !h2.running(), 20_000, 'tinc\'s meta connection h1 → h2')
    .catch((e: Error) => { throw new Error(`${e.message}\n${logs()}`); });
  // The first packets may go while keys are exchanged: retry for a while.
  const end = Date.now() + 20_000;
  while (!pingable(rig, 'tinc', TINC_MTU - 28)) {
    if (Date.now() > end || !h1.running() || !h2.running()) {
      throw new Error(`no full-size ping reply across tinc (${OVERLAY.tinc(1)} → ${OVERLAY.tinc(2)}):\n${logs()}`);
    }
    await sleep(500);
  }
  return tincs;
}

async function stop(ps: Proc[]): Promise<void> {
  for (const p of ps) kill(p.pid, 'SIGTERM');
  await Promise.race([Promise.all(ps.map((p) => p.exited)), sleep(3000)]);
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

/** CPU seconds used so far by a userspace tunnel's processes (tincds, OVS daemons); throws (failing only this run) if one has gone. */
function tunnelCpu(procs: Proc[]): number {
  let sum = 0;
  for (const p of procs) {
    if (!p.running()) throw new Error(`${p.child.spawnargs.find((a) => /^(tincd|ovs)/.test(a)) ?? 'a tunnel process'} (pid ${p.pid}) has exited; its last words:\n${tail(p.stderr())}`);
    sum += cpuSeconds(p.pid);
  }
  return sum;
}

/** The processes of the userspace tunnels other than weft (tinc, OVS), each empty when it is not part of the run. */
type Others = Partial<Record<Tunnel, Proc[]>>;

async function oneRun(rig: Rig, wefts: Proc[], others: Others, c: LoadCase, t: Tunnel, rep: number, seconds: number): Promise<RunRecord> {
  for (const w of wefts) if (!w.running()) throw weftGone(w);
  // A tunnel's own CPU is counted on its runs only; a dead tincd or OVS daemon fails those (recorded), not the benchmark.
  const mine = others[t] ?? [];
  const counted = t === 'tinc' || t === 'ovs';
  const rec: RunRecord = { case: c.id, tunnel: t, rep, sample: null, error: null, weftCpuS: 0, tunnelCpuS: counted ? 0 : null };
  let server: Proc | null = null;
  try {
    const own0 = tunnelCpu(mine);
    server = rig.spawn(2, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '--forceflush']);
    const srv = server;
    await waitFor(() => /listening/i.test(srv.stdout()) || !srv.running(), 10_000, 'the iperf3 server');
    if (!srv.running()) throw new Error(`iperf3 server exited: ${tail(srv.stderr() || srv.stdout(), 2)}`);
    const cpu0 = weftCpu(wefts);
    // Stop waiting as soon as a process the run depends on dies.
    const carriers = [...wefts, ...mine];
    const r = await rig.run(1, ['iperf3', '-c', OVERLAY[t](2), '-p', String(IPERF_PORT), '-t', String(seconds), '-J',
      '--connect-timeout', '5000', ...c.args], (seconds + RUN_SLACK_S) * 1000, Promise.race(carriers.map((w) => w.exited)));
    for (const w of wefts) if (!w.running()) throw weftGone(w);
    rec.weftCpuS = weftCpu(wefts) - cpu0;
    if (counted) rec.tunnelCpuS = tunnelCpu(mine) - own0;
    if (r.timedOut) throw new Error(`iperf3 did not finish within ${seconds + RUN_SLACK_S} s`);
    rec.sample = parseReport(r.out, c);
  } catch (e) {
    if (e instanceof WeftExited) throw e;
    rec.error = (e as Error).message;
  }
  // The server exits after its one test; give it a moment, then make sure.
  if (server) {
    await Promise.race([server.exited, sleep(5000)]);
    if (server.running()) kill(server.pid, 'SIGKILL');
    await server.exited;
  }
  return rec;
}

function mmss(s: number): string {
  s = Math.max(0, Math.round(s));
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

// ---- the whole run ----

async function main(rig: Rig, o: Options, tincWanted: boolean, ovsWanted: boolean): Promise<number> {
  const started = new Date();
  // iperf3 and the tunnels share the CPUs: anything else running skews every side.
  const load = loadavg()[0];
  const heading: Heading = {
    reps: o.reps, seconds: o.seconds, kernel: release(), cpus: availableParallelism(),
    iperf3: firstLine('iperf3', ['--version']).replace(/^iperf /, '').split(' ')[0],
    weftCommit: firstLine('git', ['describe', '--always', '--dirty']),
    tinc: tincWanted ? firstLine('tincd', ['--version']).replace(/^tinc version /, '').split(' ')[0] : null,
    ovs: null,
    loadAverage: load,
  };

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
  // tinc failing to come up costs its rows (and the exit code), not weft's and the kernel's.
  let tincs: Proc[] = [];
  let tincSkipped: string | null = tincWanted ? null : 'tincd is not installed (apt-get install -y tinc)';
  if (tincWanted) {
    try {
      tincs = await startTinc(rig);
      progress(`live: tinc ${heading.tinc} running in both hosts (pids ${tincs.map((p) => p.pid).join(', ')}; switch mode, UDP ${TINC_PORT}, no cipher, no MAC)\n`);
    } catch (e) {
      tincSkipped = `tinc did not come up: ${(e as Error).message}`;
      progress(`live: ${tincSkipped}\nlive: going on with weft and the kernel only\n`);
      heading.tinc = null;
    }
  }
  let ovs: Proc[] = [];
  let ovsSkipped: string | null = ovsWanted ? null : `Open vSwitch is not installed (${ovsMissing()})`;
  if (ovsWanted) {
    try {
      const up = await startOvs(rig);
      ovs = up.procs;
      heading.ovs = up.version;
      progress(`live: Open vSwitch ${up.version} userspace datapath running in both hosts (pids ${ovs.map((p) => p.pid).join(', ')}; VNI ${OVS_VNI}, UDP ${OVS_PORT}, no userspace TSO)\n`);
    } catch (e) {
      ovsSkipped = `OVS did not come up: ${(e as Error).message}`;
      progress(`live: ${ovsSkipped}\nlive: going on without OVS\n`);
    }
  }
  const others: Others = { tinc: tincs, ovs };
  const tunnels: Tunnel[] = ['weft', 'kernel', ...(tincs.length ? ['tinc' as const] : []), ...(ovs.length ? ['ovs' as const] : [])];

  const total = o.reps * o.cases.length * tunnels.length;
  progress(`live: ${o.reps} rep(s) × ${o.cases.length} case(s) × ${tunnels.length} tunnels × ${o.seconds} s = ${total} runs, about ${mmss(total * (o.seconds + 1.5))}\n`);
  const runs: RunRecord[] = [];
  const t0 = Date.now();
  let n = 0;
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const [k, c] of o.cases.entries()) {
      // Two tunnels: the order flips each time; more: it rotates, so each
      // goes first, second, … and last equally often over as many cases.
      const order: Tunnel[] = tunnels.length === 2
        ? ((rep + k) % 2 ? ['weft', 'kernel'] : ['kernel', 'weft'])
        : tunnels.map((_, j) => tunnels[(j + rep - 1 + k) % tunnels.length]);
      for (const t of order) {
        n++;
        progress(`[${String(n).padStart(String(total).length)}/${total}] rep ${rep}/${o.reps}  ${c.id.padEnd(9)} ${t.padEnd(6)} `);
        const r = await oneRun(rig, wefts, others, c, t, rep, o.seconds);
        runs.push(r);
        const left = ((Date.now() - t0) / n) * (total - n) / 1000;
        const s = r.sample;
        progress(s
          ? `${num(s.gbps).padStart(6)} Gbit/s ${count(s.pps).padStart(8)} pkt/s${s.lossPct !== null ? `  loss ${num(s.lossPct)} %` : ''}${t === 'weft' ? `  weft CPU ${num(r.weftCpuS)} s` : ''}${r.tunnelCpuS !== null ? `  ${t} CPU ${num(r.tunnelCpuS)} s` : ''}  (${mmss(left)} left)\n`
          : `FAILED: ${r.error}\n`);
        await sleep(300);
      }
    }
  }

  const host = (i: number) => rig.ns(i + 1).replace(`${rig.name}-`, '');
  const rss: Record<string, number> = {};
  wefts.forEach((w, i) => { rss[host(i)] = peakRssBytes(w.pid); });
  const tincRss: Record<string, number> = {};
  tincs.forEach((p, i) => { try { if (p.running()) tincRss[host(i)] = peakRssBytes(p.pid); } catch { /* gone */ } });
  await stop([...wefts, ...tincs]);
  await stopOvs(ovs);
  rig.down();

  const sums = summarise(o.cases, runs, tincs.length > 0, ovs.length > 0);
  const idle = (t: Tunnel) => runs.filter((r) => r.tunnel === t).reduce((a, r) => a + r.weftCpuS, 0);
  const idleCpuS = idle('kernel');
  const idleCpuSTinc = tincs.length ? idle('tinc') : null;
  const idleCpuSOvs = ovs.length ? idle('ovs') : null;
  const text = table(heading, sums, { rssBytes: rss, tincRssBytes: tincRss, idleCpuS, idleCpuSTinc, tincSkipped, idleCpuSOvs, ovsSkipped });
  const dir = join(ROOT, 'bench/results', started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-'));
  mkdirSync(dir, { recursive: true });
  const json = {
    version: 1,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    config: {
      reps: o.reps, seconds: o.seconds, cases: o.cases, tunnels,
      weft: { vni: 1, port: 8472, overlay: '10.244.0.0/24' },
      kernel: { vni: 2, port: 4789, overlay: '10.244.1.0/24' },
      tinc: tincs.length
        ? { version: heading.tinc, mode: 'switch', port: TINC_PORT, overlay: '10.244.2.0/24', cipher: 'none', digest: 'none', macLength: 0, mtu: TINC_MTU, pmtuDiscovery: false }
        : { skipped: tincSkipped },
      ovs: ovs.length
        ? { version: heading.ovs, datapath: 'netdev', vni: OVS_VNI, port: OVS_PORT, overlay: '10.244.3.0/24', underlay: '198.18.1.0/24', userspaceTso: false, mtu: 1450 }
        : { skipped: ovsSkipped },
    },
    host: { ...heading, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: load },
    summary: sums,
    weft: { peakRssBytes: rss, idleCpuS, idleCpuSTinc, idleCpuSOvs },
    tinc: tincs.length ? { peakRssBytes: tincRss } : null,
    runs,
  };
  writeFileSync(join(dir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, 'chart.svg'), chart(heading, sums));
  writeFileSync(join(dir, 'table.txt'), text);
  process.stdout.write('\n' + text);
  process.stdout.write(`results: ${relative(process.cwd(), dir) || dir}/{results.json,chart.svg,table.txt}\n`);
  const failed = runs.filter((r) => r.error).length;
  if (failed) progress(`live: ${failed} of ${runs.length} runs failed (see "error" in results.json)\n`);
  // tinc missing is the machine's choice; tinc installed but not working is a failure.
  const tincFailed = tincWanted && tincs.length === 0;
  if (tincFailed) progress('live: tinc is installed but did not come up (see above): exit 1\n');
  const ovsFailed = ovsWanted && ovs.length === 0;
  if (ovsFailed) progress('live: Open vSwitch is installed but did not come up (see above): exit 1\n');
  return failed || tincFailed || ovsFailed ? 1 : 0;
}

const o = options(process.argv.slice(2));
const wanted = preflight();
const rig = new Rig(2);
const budgetS = o.reps * o.cases.length * (2 + Number(wanted.tinc) + Number(wanted.ovs)) * (o.seconds + RUN_SLACK_S + 10) + 240;
const finish = (code: number) => { clearTimeout(watchdog); rig.down(); process.exit(code); };
const watchdog = setTimeout(() => {
  progress(`\nlive: the run exceeded its budget of ${mmss(budgetS)}; stopping\n`);
  finish(1);
}, budgetS * 1000);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => { progress(`\nlive: ${sig}: stopping weft, tinc, OVS and iperf3, removing rig ${rig.name}\n`); finish(code); });
}
process.on('exit', () => rig.down());
main(rig, o, wanted.tinc, wanted.ovs).then(finish, (e: Error) => {
  progress(`\nlive: ${e.message}\n`);
  finish(1);
});
