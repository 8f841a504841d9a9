// The live benchmark's hosts: network namespaces built by scripts/rig.sh,
// and every process started in them tracked by PID, so that a finished run,
// a failure, Ctrl-C or SIGTERM all end the same way: the tracked processes
// are killed by PID and the rig is removed (which also kills whatever still
// runs inside its namespaces). Nothing is created in the root namespace.
// Temporary directories (tinc's configuration) are the rig's too and go
// with it.
//
//        netns NAME-h1                          netns NAME-h2
//   +---------------------------+          +---------------------------+
//   | weft0  10.244.0.1/24 weft |          | weft0  10.244.0.2/24 weft |
//   | vx0    10.244.1.1/24 vxlan|          | vx0    10.244.1.2/24 vxlan|
//   | tinc0  10.244.2.1/24 tinc |          | tinc0  10.244.2.2/24 tinc |
//   | eth0   198.18.0.1/24      |          | eth0   198.18.0.2/24      |
//   +------------|--------------+          +------------|--------------+
//                +------ br0 in netns NAME-sw ----------+
//
// Kept apart from test/helpers on purpose: the benchmark is not a test and
// must not depend on test code. Every command has a time limit.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, seen from dist/bench/live. */
export const ROOT = resolve(here, '../../..');
export const WEFT = join(ROOT, 'dist/src/cli/main.js');
const RIG_SH = join(ROOT, 'scripts/rig.sh');

/** Output kept per process: enough for an error message, bounded for long runs. */
const KEEP_CHARS = 64 * 1024;

export interface Proc {
  /** The PID of the command itself: `ip netns exec` execs it in place. */
  pid: number;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code, or -1 when killed by a signal. */
  exited: Promise<number>;
  running: () => boolean;
}

export interface RunResult { code: number; out: string; err: string; timedOut: boolean }

export class Rig {
  readonly name: string;
  private readonly procs = new Set<Proc>();
  private readonly dirs: string[] = [];
  private isUp = false;

  constructor(readonly hosts: number) {
    // rig.sh takes 1–8 letters/digits; the PID keeps parallel runs apart.
    this.name = `wb${process.pid % 100000}`;
  }

  up(): void {
    execFileSync('bash', [RIG_SH, 'up', this.name, String(this.hosts)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    this.isUp = true;
  }

  ns(i: number): string { return `${this.name}-h${i}`; }

  /** A fresh directory under the system's temp dir, removed by down(). */
  tmpdir(what: string): string {
    const d = mkdtempSync(join(tmpdir(), `weft-bench-${this.name}-${what}-`));
    this.dirs.push(d);
    return d;
  }

  /** Runs a short command in host i; throws with its stderr on failure. */
  exec(i: number, cmd: string[], timeoutMs = 10_000): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(i), ...cmd], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts a command in host i, tracked for cleanup until it exits. */
  spawn(i: number, cmd: string[]): Proc {
    const child = spawn('ip', ['netns', 'exec', this.ns(i), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const keep = (s: string, d: Buffer) => (s.length > KEEP_CHARS ? s.slice(-KEEP_CHARS / 2) : s) + d.toString();
    child.stdout!.on('data', (d: Buffer) => { out = keep(out, d); });
    child.stderr!.on('data', (d: Buffer) => { err = keep(err, d); });
    let done = false;
    const p: Proc = {
      pid: child.pid ?? -1,
      child,
      stdout: () => out,
      stderr: () => err,
      running: () => !done,
      exited: new Promise<number>((res) => {
        const finish = (code: number) => { if (!done) { done = true; this.procs.delete(p); res(code); } };
        child.on('error', (e) => { err += String(e); finish(-1); });
        child.on('close', (code, sig) => finish(code ?? (sig ? -1 : 0)));
      }),
    };
    if (p.pid < 0) throw new Error(`could not start ${cmd[0]} in ${this.ns(i)}`);
    this.procs.add(p);
    return p;
  }

  /**
   * Runs a command in host i to completion. It is killed (SIGKILL, by PID)
   * after timeoutMs, or as soon as `abandon` settles (e.g. when the process
   * it measures has died and waiting on would only run into the timeout).
   */
  async run(i: number, cmd: string[], timeoutMs: number, abandon?: Promise<unknown>): Promise<RunResult> {
    const p = this.spawn(i, cmd);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; kill(p.pid, 'SIGKILL'); }, timeoutMs);
    abandon?.then(() => kill(p.pid, 'SIGKILL'), () => kill(p.pid, 'SIGKILL'));
    const code = await p.exited;
    clearTimeout(timer);
    return { code, out: p.stdout(), err: p.stderr(), timedOut };
  }

  /** Stops every tracked process (SIGKILL by PID), removes the namespaces and temp dirs. Idempotent, synchronous. */
  down(): void {
    for (const p of this.procs) if (p.running()) kill(p.pid, 'SIGKILL');
    this.procs.clear();
    for (const d of this.dirs.splice(0)) {
      try { rmSync(d, { recursive: true, force: true }); } catch { /* reported below only if the rig itself fails */ }
    }
    if (!this.isUp) return;
    this.isUp = false;
    try {
      execFileSync('bash', [RIG_SH, 'down', this.name], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      process.stderr.write(`live: could not remove rig ${this.name}: run  sudo bash scripts/rig.sh down ${this.name}\n`);
    }
  }
}

export function kill(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* already gone */ }
}

/** Polls `cond` every 20 ms; throws after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
