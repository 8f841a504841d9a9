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
import type { TestCerts } from './tls-certs.js';

/**
 * etcd behind TLS: `certs` (tls-certs.ts) gives etcd its server certificate
 * and, with clientCertAuth, makes it demand a client certificate signed by
 * their CA. `alsoListen` adds more underlay addresses it serves on (each is
 * added to the switch), e.g. one its certificate does not name.
 */
export interface EtcdOptions { certs?: TestCerts; clientCertAuth?: boolean; alsoListen?: string[] }

export const ETCD_IP = '198.18.0.254';
export const ETCD_ENDPOINT = `http://${ETCD_IP}:2379`;

export class Etcd {
  private proc: Proc | null = null;
  private readonly dataDir: string;
  readonly endpoint: string;
  /** etcdctl's `--user` once authentication is on (enableAuth). */
  private ctlUser: string | null = null;

  private constructor(private readonly rig: Rig, private readonly opts: EtcdOptions = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'weft-etcd-'));
    this.endpoint = this.url(ETCD_IP);
  }

  /** The client URL on `ip`: https:// when etcd has certificates. */
  url(ip: string): string { return `${this.opts.certs ? 'https' : 'http'}://${ip}:2379`; }

  /** Starts etcd in the rig's switch namespace and waits until it answers. */
  static async start(rig: Rig, opts: EtcdOptions = {}): Promise<Etcd> {
    requireTool('etcd', 'etcd-server');
    requireTool('etcdctl', 'etcd-client');
    rig.addSwitchAddress(`${ETCD_IP}/24`);
    for (const ip of opts.alsoListen ?? []) rig.addSwitchAddress(`${ip}/24`);
    const e = new Etcd(rig, opts);
    await e.start();
    return e;
  }

  async start(): Promise<void> {
    this.proc = this.rig.spawnSw([
      'etcd', '--name', 'weft-test', '--data-dir', this.dataDir,
      '--listen-client-urls', [ETCD_IP, ...this.opts.alsoListen ?? []].map((ip) => this.url(ip)).join(','), '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', `http://${ETCD_IP}:2380`, '--initial-advertise-peer-urls', `http://${ETCD_IP}:2380`,
      '--initial-cluster', `weft-test=http://${ETCD_IP}:2380`, '--log-level', 'warn',
      ...(this.opts.certs ? ['--cert-file', this.opts.certs.server, '--key-file', this.opts.certs.serverKey] : []),
      ...(this.opts.certs && this.opts.clientCertAuth ? ['--client-cert-auth', '--trusted-ca-file', this.opts.certs.ca] : []),
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
    const c = this.opts.certs;
    const tls = c ? ['--cacert', c.ca, ...(this.opts.clientCertAuth ? ['--cert', c.client, '--key', c.clientKey] : [])] : [];
    const user = this.ctlUser ? ['--user', this.ctlUser] : [];
    return this.rig.execSw(['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', this.endpoint, '--command-timeout=5s', ...tls, ...user, ...args], 15_000);
  }

  /**
   * Turns etcd's authentication on: a root user (for the test's own
   * etcdctl), and `user` with `password` and a role that may read and write
   * `prefix`/ and nothing else, as an operator would set flannel up.
   */
  enableAuth(user: string, password: string, prefix: string): void {
    this.ctl(['user', 'add', 'root:weft-test-root']);
    this.ctl(['user', 'grant-role', 'root', 'root']);
    this.ctl(['user', 'add', `${user}:${password}`]);
    this.ctl(['role', 'add', 'flannel']);
    this.ctl(['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', `${prefix}/`]);
    this.ctl(['user', 'grant-role', user, 'flannel']);
    this.ctl(['auth', 'enable']);
    this.ctlUser = 'root:weft-test-root';
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
