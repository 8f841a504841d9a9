// Pods for the CNI tests: empty named network namespaces (what a container
// runtime makes before it calls a plugin), and weft-cni run inside a host's
// namespace the way a runtime runs it (CNI_* variables, the config on stdin,
// the reference plugins in CNI_PATH). Every namespace made here is removed at
// the end, also when a test fails or the process is killed.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** The Debian package's directory of the reference plugins (bridge, host-local, …). */
export const CNI_BIN = '/usr/lib/cni';
export const WEFT_CNI = join(ROOT, 'dist/src/cni/main.js');

/** Fails (never skips) without the reference plugins, with the line that installs them. */
export function requireCniPlugins(): void {
  for (const p of ['bridge', 'host-local']) {
    if (!existsSync(join(CNI_BIN, p))) {
      throw new Error(`this test needs the CNI reference plugins (${join(CNI_BIN, p)}): install them with: apt-get install -y containernetworking-plugins`);
    }
  }
}

const live = new Set<Pods>();
process.on('exit', () => { for (const p of live) p.down(); });

export class Pods {
  private made: string[] = [];

  /** `prefix`: letters and digits, unique to the test run (pod namespaces are `<prefix>-<name>`). */
  constructor(private readonly prefix: string) {
    live.add(this);
  }

  /** Makes pod `name`'s namespace (lo up, as a runtime leaves it); returns its path for CNI_NETNS. */
  add(name: string): string {
    const ns = `${this.prefix}-${name}`;
    execFileSync('ip', ['netns', 'add', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.made.push(ns);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return `/run/netns/${ns}`;
  }

  ns(name: string): string { return `${this.prefix}-${name}`; }

  /** Runs a command in pod `name`; the exit status and output, never a throw. */
  try(name: string, cmd: string[], timeoutMs = 30_000): { status: number; out: string; err: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.ns(name), ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
  }

  exec(name: string, cmd: string[]): string {
    const r = this.try(name, cmd);
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} in pod ${name}: exit ${r.status}: ${r.err}`);
    return r.out;
  }

  /** Removes pod `name`'s namespace (as a runtime does when the container is gone). */
  remove(name: string): void {
    const ns = this.ns(name);
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
    this.made = this.made.filter((n) => n !== ns);
  }

  down(): void {
    for (const ns of this.made) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
    }
    this.made = [];
    live.delete(this);
  }
}

export interface CniRun { status: number; out: string; err: string; json: Record<string, unknown> | null }

/**
 * Runs weft-cni in namespace `hostNs` with CNI_COMMAND `command`, `conf` on
 * stdin (an object is sent as JSON, a string as it is) and `vars` over
 * CNI_PATH=/usr/lib/cni.
 */
export function runCni(hostNs: string, command: string | null, conf: unknown, vars: Record<string, string> = {}): CniRun {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: CNI_BIN, ...vars };
  if (command !== null) env.CNI_COMMAND = command;
  const r = spawnSync('ip', ['netns', 'exec', hostNs, process.execPath, WEFT_CNI], {
    input: typeof conf === 'string' ? conf : JSON.stringify(conf), env, encoding: 'utf8', timeout: 60_000,
  });
  let json: Record<string, unknown> | null = null;
  try { json = JSON.parse(r.stdout) as Record<string, unknown>; } catch { /* no JSON: json stays null */ }
  return { status: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '', json };
}

/** Waits (at most 10 s) until no IPv6 address in namespace `ns` is tentative (duplicate address detection done). */
export async function ipv6Settled(ns: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (execFileSync('ip', ['-n', ns, '-6', 'addr', 'show', 'tentative'], { encoding: 'utf8' }).trim() !== '') {
    if (Date.now() > end) throw new Error(`IPv6 addresses in ${ns} still tentative after 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
