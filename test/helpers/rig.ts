// Live-test rig: hosts as network namespaces (scripts/rig.sh), processes
// started inside them and tracked by PID, everything torn down at the end,
// also when a test fails or the process is killed.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, WEFT } from './paths.js';
import { parseSnmp } from '../../bench/live/netns-counters.js';
import { requireRoot, requireTool } from './require.js';

const RIG = join(ROOT, 'scripts/rig.sh');
const live = new Set<Rig>();

function cleanupAll(): void {
  for (const r of live) r.down();
}
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { cleanupAll(); process.exit(130); });

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

let counter = 0;

export class Rig {
  readonly name: string;
  readonly n: number;
  private procs: Proc[] = [];
  private isUp = false;

  private constructor(n: number, prefix: string) {
    this.name = `${prefix}${process.pid % 100000}${String.fromCharCode(97 + (counter++ % 26))}`;
    this.n = n;
  }

  /** `prefix` (one or two letters) keeps one test file's namespaces apart from another's. */
  static up(n: number, prefix = 'w'): Rig {
    requireRoot();
    requireTool('ip', 'iproute2');
    const r = new Rig(n, prefix);
    execFileSync('bash', [RIG, 'up', r.name, String(n)], { stdio: ['ignore', 'ignore', 'pipe'] });
    r.isUp = true;
    live.add(r);
    return r;
  }

  ns(i: number): string { return `${this.name}-h${i}`; }
  underlay(i: number): string { return `198.18.0.${i}`; }
  underlay6(i: number): string { return `fd00:198:18::${i}`; }

  /** Runs a command in host i and returns its stdout; throws with stderr on failure. */
  exec(i: number, cmd: string[], timeoutMs = 30_000): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(i), ...cmd], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Like exec, but returns the exit status instead of throwing. */
  try(i: number, cmd: string[], timeoutMs = 30_000): { status: number; out: string; err: string } {
    try {
      return { status: 0, out: this.exec(i, cmd, timeoutMs), err: '' };
    } catch (e) {
      const x = e as { status?: number; stdout?: string; stderr?: string };
      return { status: x.status ?? 1, out: x.stdout ?? '', err: x.stderr ?? '' };
    }
  }

  /** Host i's kernel counters from /proc/net/snmp: table (`Ip`, `Tcp`, `Udp`, …) → counter → value. */
  snmp(i: number): Record<string, Record<string, number>> {
    return parseSnmp(this.exec(i, ['cat', '/proc/net/snmp']));
  }

  /** Starts a long-running command in host i, tracked for cleanup. */
  spawn(i: number, cmd: string[]): Proc {
    return this.spawnIn(this.ns(i), cmd);
  }

  private spawnIn(ns: string, cmd: string[]): Proc {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((res) => child.on('exit', (code, sig) => res(code ?? (sig ? -1 : null))));
    const p: Proc = { child, pid: child.pid!, stdout: () => out, stderr: () => err, exited };
    this.procs.push(p);
    return p;
  }

  /** The switch namespace (holds br0, the underlay bridge). */
  sw(): string { return `${this.name}-sw`; }

  /** Adds an address to the switch's bridge, so a service in the switch namespace is on the underlay (e.g. etcd). */
  addSwitchAddress(cidr: string): void {
    execFileSync('ip', ['-n', this.sw(), 'addr', 'add', cidr, 'dev', 'br0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Runs a command in the switch namespace and returns its stdout. */
  execSw(cmd: string[], timeoutMs = 30_000): string {
    return execFileSync('ip', ['netns', 'exec', this.sw(), ...cmd], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts a long-running command in the switch namespace, tracked for cleanup. */
  spawnSw(cmd: string[]): Proc {
    return this.spawnIn(this.sw(), cmd);
  }

  /** Starts weft in host i with `args`; resolves once it says it is listening. */
  async weft(i: number, args: string[], timeoutMs = 10_000): Promise<Proc> {
    const p = this.spawn(i, [process.execPath, WEFT, 'run', ...args]);
    await waitFor(() => /listening on/.test(p.stderr()) || p.child.exitCode !== null, timeoutMs, 'weft to start');
    if (p.child.exitCode !== null) throw new Error(`weft exited ${p.child.exitCode}: ${p.stderr()}`);
    return p;
  }

  /** Stops every process this rig started and removes its namespaces. Idempotent. */
  down(): void {
    for (const p of this.procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    this.procs = [];
    if (this.isUp) {
      this.isUp = false;
      try { execFileSync('bash', [RIG, 'down', this.name], { stdio: 'ignore' }); } catch { /* best effort */ }
    }
    live.delete(this);
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface WeftStatus {
  counters: Record<string, number>;
  fdb: { mac: string; dst: string; vni: number; state: string }[];
}

/** Asks a running weft for its status (SIGUSR1) and parses the log record (JSON, "event":"status") it writes. */
export async function weftStatus(p: Proc): Promise<WeftStatus> {
  const before = p.stderr().length;
  process.kill(p.pid, 'SIGUSR1');
  let line = '';
  await waitFor(() => {
    const m = /^\{.*"event":"status".*\}\n/m.exec(p.stderr().slice(before));
    if (m) line = m[0];
    return m !== null;
  }, 5000, 'weft status');
  return JSON.parse(line) as WeftStatus;
}

/** Stops weft with SIGTERM; resolves with its exit code. */
export async function stopWeft(p: Proc, timeoutMs = 3000): Promise<number | null> {
  process.kill(p.pid, 'SIGTERM');
  const t = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs));
  const r = await Promise.race([p.exited, t]);
  if (r === 'timeout') throw new Error(`weft did not stop within ${timeoutMs} ms of SIGTERM`);
  return r;
}

/** `ping` from host i; returns the received count and the average RTT in ms. */
export function ping(rig: Rig, i: number, dst: string, count = 3, extra: string[] = []): { received: number; avgMs: number } {
  const r = rig.try(i, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', ...extra, dst], 20_000);
  const rec = /(\d+) received/.exec(r.out);
  const avg = /= [\d.]+\/([\d.]+)\//.exec(r.out);
  return { received: rec ? Number(rec[1]) : 0, avgMs: avg ? Number(avg[1]) : NaN };
}
