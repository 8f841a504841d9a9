// The live HostOps: forwarding entries go into weft's own table, neighbour
// entries and routes into the kernel through `ip -batch` per change set (one
// process per IP_BATCH_MAX commands, however many leases changed;
// asynchronous, so the forwarding loop keeps running meanwhile). Also the start-up questions about this host:
// which address is ours, IPv4 and IPv6 (--iface, or the default route's interface).

import { execFile, execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { RuntimeError, UsageError } from '../config/errors.js';
import type { Datapath, Refusal } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import type { HostOps } from './reconcile.js';
import type { ShownRoute } from './segment.js';

const IP_BATCH_TIMEOUT_MS = 10_000;
/**
 * Most commands per `ip -batch` process. A start in a network of 30,000
 * hosts is 60,000 commands; in one process they outran the timeout (the
 * kernel's route insertion slows as the table grows), so they go in runs
 * this long, one process after another, each well within it.
 */
export const IP_BATCH_MAX = 2000;

/** The largest routing table dump read: about 100 bytes a route, so room for a million. */
const ROUTE_DUMP_MAX = 128 << 20;

/** What programming the kernel has cost so far: `ip` processes run and the commands fed to them. */
export interface IpCounts { processes: number; commands: number }

export class LiveHostOps implements HostOps {
  readonly counts: IpCounts = { processes: 0, commands: 0 };

  constructor(private readonly dp: Datapath, private readonly v: VniState) {}

  fdbAdd(mac: number, ip: string): { reason: Refusal; text: string } | null {
    const reason = this.dp.tryAddStatic(this.v, mac, ip);
    return reason === null ? null : { reason, text: this.dp.refusalText(reason) };
  }

  fdbRemove(mac: number): void {
    this.dp.removeStatic(this.v, mac);
  }

  ip(cmds: string[]): Promise<{ cmd: string; error: string }[]> {
    return runIpBatch(cmds, this.counts);
  }

  ipSync(cmds: string[]): { cmd: string; error: string }[] {
    return ipRuns(cmds).flatMap((run) => { count(this.counts, run); return runIpBatchSync(run); });
  }

  routeTable(family: 4 | 6): Promise<ShownRoute[]> {
    return new Promise((resolve, reject) => {
      execFile('ip', ['-j', `-${family}`, 'route', 'show'], { timeout: IP_BATCH_TIMEOUT_MS, encoding: 'utf8', maxBuffer: ROUTE_DUMP_MAX }, (err, out, stderr) => {
        if (err) return reject(new Error(String(stderr).trim().split('\n')[0] || err.message));
        try {
          resolve(JSON.parse(out) as ShownRoute[]);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }
}

/** `cmds` cut into runs of at most IP_BATCH_MAX, in order. */
export function ipRuns(cmds: string[]): string[][] {
  const runs: string[][] = [];
  for (let i = 0; i < cmds.length; i += IP_BATCH_MAX) runs.push(cmds.slice(i, i + IP_BATCH_MAX));
  return runs;
}

function runIpBatchSync(cmds: string[]): { cmd: string; error: string }[] {
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: cmds.join('\n') + '\n', timeout: IP_BATCH_TIMEOUT_MS, stdio: ['pipe', 'ignore', 'pipe'] });
    return [];
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return batchFailures(cmds, String(err.stderr ?? ''), err.message);
  }
}

/**
 * Runs commands through `ip -force -batch -` (every line is tried, failures
 * reported as "Command failed -:N" after their message), IP_BATCH_MAX to a
 * process, and resolves with the failed lines and their messages.
 */
export async function runIpBatch(cmds: string[], counts?: IpCounts): Promise<{ cmd: string; error: string }[]> {
  const failed: { cmd: string; error: string }[] = [];
  for (const run of ipRuns(cmds)) {
    if (counts) count(counts, run);
    failed.push(...await runIpProcess(run));
  }
  return failed;
}

function count(c: IpCounts, run: string[]): void {
  c.processes++;
  c.commands += run.length;
}

function runIpProcess(cmds: string[]): Promise<{ cmd: string; error: string }[]> {
  return new Promise((resolve) => {
    const child = execFile('ip', ['-force', '-batch', '-'], { timeout: IP_BATCH_TIMEOUT_MS, encoding: 'utf8' }, (err, _out, stderr) => {
      if (!err) return resolve([]);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(cmds.map((cmd) => ({ cmd, error: 'the ip command is missing: apt-get install iproute2' })));
      resolve(batchFailures(cmds, String(stderr), err.message));
    });
    // An `ip` that ended early (killed at the timeout, or missing) closes its end: the callback above says why, and the broken pipe is not an error of its own.
    child.stdin!.on('error', () => {});
    child.stdin!.end(cmds.join('\n') + '\n');
  });
}

/** `ip -batch`'s stderr: each failure's message lines, then "Command failed -:N". */
function batchFailures(cmds: string[], stderr: string, fallback: string): { cmd: string; error: string }[] {
  const failed: { cmd: string; error: string }[] = [];
  let msg: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(line);
    if (m) {
      failed.push({ cmd: cmds[Number(m[1]) - 1] ?? `line ${m[1]}`, error: msg.join('; ') || 'failed' });
      msg = [];
    } else if (line.trim()) {
      msg.push(line.trim());
    }
  }
  if (failed.length === 0) failed.push({ cmd: cmds.join('; '), error: (stderr.trim() || fallback).split('\n')[0] });
  return failed;
}

function ipJson<T>(args: string[]): T {
  try {
    return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as T;
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new RuntimeError('the ip command is missing: install iproute2 (apt-get install iproute2)');
    throw new RuntimeError(`ip ${args.join(' ')}: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`);
  }
}

interface AddrInfo { ifname: string; mtu: number; addr_info?: { family: string; local: string; scope?: string }[] }

/**
 * This host's IPv6 underlay address, as flanneld picks its PublicIPv6:
 * --iface names an interface (its first global IPv6 address) or is an
 * address (IPv6: itself; IPv4: the interface holding it); without it, the
 * interface of the IPv6 default route.
 */
export function interfaceAddress6(iface: string | null): string {
  if (iface && isIP(iface) === 6) return iface;
  let dev = iface;
  if (iface && isIP(iface) === 4) {
    const all = ipJson<AddrInfo[]>(['-4', 'addr', 'show']);
    dev = all.find((l) => l.addr_info?.some((a) => a.local === iface))?.ifname ?? null;
    if (!dev) throw new UsageError(`--iface ${iface}: no interface has that address`);
  }
  if (!dev) {
    const routes = ipJson<{ dev?: string }[]>(['-6', 'route', 'show', 'default']);
    dev = routes[0]?.dev ?? null;
    if (!dev) throw new UsageError('no IPv6 default route to tell this host\'s IPv6 address by (net-conf.json has EnableIPv6): pass --public-ipv6 or --iface');
  }
  const links = ipJson<AddrInfo[]>(['-6', 'addr', 'show', 'dev', dev]);
  const a = links[0]?.addr_info?.find((x) => x.family === 'inet6' && x.scope === 'global');
  if (!a) throw new UsageError(`--iface ${dev}: no global IPv6 address on that interface (net-conf.json has EnableIPv6): add one or pass --public-ipv6`);
  return a.local;
}

/**
 * This host's underlay address as flanneld picks it: --iface names an
 * interface (its first global IPv4 address) or is an address itself; without
 * it, the interface of the default route.
 */
export function interfaceAddress(iface: string | null): string {
  if (iface && isIP(iface) === 4) return iface;
  let dev = iface;
  if (!dev) {
    const routes = ipJson<{ dev?: string }[]>(['-4', 'route', 'show', 'default']);
    dev = routes[0]?.dev ?? null;
    if (!dev) throw new UsageError('no default route to tell this host\'s address by: pass --public-ip, --iface or --local');
  }
  const links = ipJson<AddrInfo[]>(['-4', 'addr', 'show', 'dev', dev]);
  const a = links[0]?.addr_info?.find((x) => x.family === 'inet' && x.scope !== 'host');
  if (!a) throw new UsageError(`--iface ${dev}: no IPv4 address on that interface`);
  return a.local;
}
