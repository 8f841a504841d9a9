// A real etcd for the live tests, run where the hosts can reach it: inside
// the rig's switch namespace, on an underlay address given to the bridge
// (198.18.0.254). The root namespace's loopback is not reachable from the
// hosts' namespaces, and nothing is created there.
//
//   h1 … hN ── 198.18.0.0/24 ── br0 (198.18.0.254) ── etcd :2379   [netns NAME-sw]
//
// Temporary data dir; `stop()` and `start()` simulate an outage on the same
// data; `done()` stops it and removes the data. The rig's teardown kills it
// too, by PID, if a test dies first.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './require.js';
import { waitFor, type Proc, type Rig } from './rig.js';

export const ETCD_IP = '198.18.0.254';
export const ETCD_ENDPOINT = `http://${ETCD_IP}:2379`;

export class Etcd {
  private proc: Proc | null = null;
  private readonly dataDir: string;
  readonly endpoint = ETCD_ENDPOINT;

  private constructor(private readonly rig: Rig) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'weft-etcd-'));
  }

  /** Starts etcd in the rig's switch namespace and waits until it answers. */
  static async start(rig: Rig): Promise<Etcd> {
    requireTool('etcd', 'etcd-server');
    requireTool('etcdctl', 'etcd-client');
    rig.addSwitchAddress(`${ETCD_IP}/24`);
    const e = new Etcd(rig);
    await e.start();
    return e;
  }

  async start(): Promise<void> {
    this.proc = this.rig.spawnSw([
      'etcd', '--name', 'weft-test', '--data-dir', this.dataDir,
      '--listen-client-urls', ETCD_ENDPOINT, '--advertise-client-urls', ETCD_ENDPOINT,
      '--listen-peer-urls', `http://${ETCD_IP}:2380`, '--initial-advertise-peer-urls', `http://${ETCD_IP}:2380`,
      '--initial-cluster', `weft-test=http://${ETCD_IP}:2380`, '--log-level', 'warn',
    ]);
    const p = this.proc;
    await waitFor(() => p.child.exitCode !== null || this.healthy(), 20_000, 'etcd to answer');
    if (p.child.exitCode !== null) throw new Error(`etcd exited ${p.child.exitCode}: ${p.stderr().slice(-2000)}`);
  }

  /** Stops etcd (SIGTERM, then SIGKILL after 5 s); the data stays. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    process.kill(p.pid, 'SIGTERM');
    const t = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await p.exited;
    clearTimeout(t);
  }

  async done(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** etcdctl (API v3) against this etcd, from the switch namespace. */
  ctl(args: string[]): string {
    return this.rig.execSw(['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', ETCD_ENDPOINT, '--command-timeout=5s', ...args], 15_000);
  }

  put(key: string, value: string): void { this.ctl(['put', key, value]); }

  /** Every key under `prefix` with its value and mod revision. */
  list(prefix: string): { key: string; value: string; modRevision: number }[] {
    const j = JSON.parse(this.ctl(['get', '--prefix', prefix, '-w', 'json'])) as { kvs?: { key: string; value: string; mod_revision: number }[] };
    return (j.kvs ?? []).map((kv) => ({ key: b64(kv.key), value: b64(kv.value), modRevision: kv.mod_revision }));
  }

  /** The store's current revision. */
  revision(): number {
    const j = JSON.parse(this.ctl(['get', '/', '-w', 'json'])) as { header: { revision: number } };
    return j.header.revision;
  }

  private healthy(): boolean {
    try {
      this.ctl(['endpoint', 'health']);
      return true;
    } catch {
      return false;
    }
  }
}

function b64(s: string): string { return Buffer.from(s, 'base64').toString(); }

/**
 * Waits (10 s at most) until each of `hosts` routes to every other's subnet:
 * a host that listed the leases before another took its lease hears of it by
 * the watch a moment later, and a ping sent before that fails at once.
 */
export async function routesConverged(rig: Rig, hosts: number[], subnet: string[]): Promise<void> {
  for (const i of hosts) {
    for (const j of hosts) {
      if (i === j) continue;
      await waitFor(() => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(subnet[j]), 10_000, `h${i} to route to h${j}'s ${subnet[j]}`);
    }
  }
}
