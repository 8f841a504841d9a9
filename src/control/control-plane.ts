// The control plane inside `weft run`, in the order it runs:
//
//   prepareControl (before any device exists)
//     1. open the store (file or etcd) and read net-conf.json (from
//        --net-config-path or `<prefix>/config`): VNI, port, MTU;
//     2. work out our public IP and a VTEP MAC that is the same after every
//        restart (stableMac of host, public IP, TAP name and VNI);
//     3. take a lease (allocate.ts): ours from before, the subnet-file's, or
//        a random free one. The daemon then opens the TAP with the subnet's
//        network address as /32 and the MTU, and starts forwarding.
//   start (TAP up, forwarder running)
//     4. write subnet.env;
//     5. list the leases and program every remote one (reconcile.ts), then
//        watch for changes from the listed revision;
//     6. renew our lease RENEW_MARGIN before it lapses; with direct paths,
//        check every ROUTE_CHECK_MS that our direct routes are still in the
//        kernel and put back any that went (route-check.ts).

//   shutdown
//     7. stop watching, remove every route, neighbour and forwarding entry
//        programmed, and keep the lease, so a restart gets the same subnet
//        back at once.
//
// If our own lease disappears from the store (deleted by an operator, or
// lapsed while we could not renew), weft stops with an error, as flanneld
// does: carrying on would route a subnet another host may now hold.
// While the store is unreachable nothing is removed: existing traffic keeps
// flowing, and the first snapshot after the outage is diffed in.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { RuntimeError, UsageError } from '../config/errors.js';
import type { ControlConfig } from '../config/control-config.js';
import type { Datapath } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import { underlayMtu } from '../io/link.js';
import { UNDERLAY_MTU_DEFAULT, overlayMtu } from '../wire/vxlan.js';
import { udpBackendMtu } from '../datapath/udp-routes.js';
import { formatMac, stableMac } from '../wire/mac.js';
import { acquireLease, renewDelayMs, renewLease } from './allocate.js';
import { LEASE_TTL_MS, PEER_CAPACITY_CEILING, ROUTE_CHECK_MS } from './defaults.js';
import { FileStore } from './file-store.js';
import { LiveHostOps, interfaceAddress, interfaceAddress6, type IpCounts } from './host.js';
import { formatSubnet, hasV4, sameSubnet } from './ip4.js';
import { formatIpv6, formatSubnet6 } from './ip6.js';
import { numberToIpv4 } from '../wire/ipv4.js';
import { parseNetConf, type NetConf } from './net-conf.js';
import { configChangeLine } from './config-watch.js';
import { LEASE_REFUSALS, LeaseTracker, Reconciler, type HostOps, type LeaseChange, type RemoteLease } from './reconcile.js';
import { RouteCheck } from './route-check.js';
import type { LeaseStore, StoredLease, StoreWatch, WatchEvent } from './store.js';
import { LEASE_PATHS, describeSegment, networkSegment, type LeasePath, type Segment } from './segment.js';
import { readPreviousSubnet, subnetEnv, writeSubnetEnv } from './subnet-env.js';

/** Retry a failed renewal this often. */
const RENEW_RETRY_MS = 60_000;

export interface RunSide {
  tap: string;
  local: string | null;
  /** The --mac the user gave, or null to derive one. */
  mac: number | null;
}

/** Steps 1–3: everything the daemon needs to know before it opens devices. */
export async function prepareControl(ctl: ControlConfig, run: RunSide, log: (line: string) => void): Promise<ControlPlane> {
  const store: LeaseStore = ctl.store.kind === 'file'
    ? new FileStore(ctl.store.path)
    : new (await import('./etcd-store.js')).EtcdStore(ctl.store.endpoints, ctl.store.prefix, { security: ctl.store.security });
  try {
    const conf = await readNetConf(store, ctl);
    const h = hostAddresses(conf, ctl, run.local);
    const mac = run.mac ?? stableMac(`${hostname()}/${h.publicIp ?? h.publicIpv6}/${run.tap}/${conf.vni}`);
    const under = underlayMtu(h.bindIp ?? h.publicIp ?? h.publicIpv6, null);
    // host-gw adds no header: its pods get the underlay's MTU, as flanneld's (RouteNetwork.Mtu).
    const mtu = conf.backend === 'udp' ? udpBackendMtu(under) : conf.backend === 'host-gw' ? under ?? UNDERLAY_MTU_DEFAULT : conf.mtu ?? overlayMtu(under, conf.ipv6 ? 6 : 4);
    const segment = networkSegment(conf, h.bindIp ?? h.publicIp ?? h.publicIpv6, undefined, h.publicIpv6);
    const own = await acquireLease(store, {
      conf,
      attrs: { publicIp: h.publicIp, backendType: conf.backend, vni: conf.vni, vtepMac: mac, publicIpv6: h.publicIpv6, vtepMac6: h.publicIpv6 ? mac : null },
      previous: readPreviousSubnet(ctl.subnetFile),
      log,
    });
    const pub = [h.publicIp ? `public ip ${h.publicIp}` : '', h.publicIpv6 ? `public ipv6 ${h.publicIpv6}` : ''].filter(Boolean).join(', ');
    const how = conf.backend === 'udp' ? `udp backend port ${conf.port}` : conf.backend === 'host-gw' ? 'host-gw' : `vtep mac ${formatMac(mac)}`;
    const seg = segment ? `, direct routes to hosts on ${describeSegment(segment)}` : '';
    log(`weft: lease ${formatSubnet(own.subnet)} in ${networkText(conf)} from ${store.describe} (${pub}, ${how}${seg})`);
    return new ControlPlane(store, ctl, conf, own, { ...h, mac, mtu, segment }, log);
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * Our public addresses and where to bind, per the network's families. An
 * IPv4-only network binds --local (or --iface's address) as before. With
 * IPv6 on, the socket is IPv6 and bound to `::` unless --local names an IPv6
 * address: a dual-stack socket (net.ipv6.bindv6only = 0, Linux's default)
 * takes both underlays, which a dual-stack network needs, since flanneld
 * hosts send IPv4 overlay traffic over IPv4 and IPv6 over IPv6. A --local
 * IPv4 address then only names our PublicIP.
 */
export function hostAddresses(conf: NetConf, ctl: ControlConfig, local: string | null):
{ publicIp: string | null; publicIpv6: string | null; bindIp: string | null; family: 4 | 6 } {
  const local4 = local && isIP(local) === 4 ? local : null;
  const local6 = local && isIP(local) === 6 ? local : null;
  if (local6 && conf.ipv4) throw new UsageError(`--local ${local6}: IPv6, but net-conf.json has an IPv4 network: weft binds :: for both; leave --local out or give the IPv4 address`);
  let publicIp: string | null = null, publicIpv6: string | null = null;
  if (conf.ipv4) {
    const ifaceIp = ctl.iface ? interfaceAddress(ctl.iface) : null;
    publicIp = ctl.publicIp ?? local4 ?? ifaceIp ?? interfaceAddress(null);
    if (!conf.ipv6) return { publicIp, publicIpv6: null, bindIp: local4 ?? ifaceIp, family: 4 };
  } else if (local4) {
    throw new UsageError(`--local ${local4}: IPv4, but the network is IPv6-only (EnableIPv4 false): give an IPv6 --local or leave it out`);
  }
  publicIpv6 = ctl.publicIpv6 ?? local6 ?? interfaceAddress6(ctl.iface);
  if (!conf.ipv4) return { publicIp: null, publicIpv6, bindIp: local6, family: 6 };
  // host-gw has no socket: the kernel routes both families.
  if (conf.backend !== 'host-gw' && readFileOr('/proc/sys/net/ipv6/bindv6only', '0').trim() === '1') {
    throw new RuntimeError('net.ipv6.bindv6only is 1: a dual-stack network needs one socket for IPv4 and IPv6; sysctl -w net.ipv6.bindv6only=0');
  }
  return { publicIp, publicIpv6, bindIp: null, family: 6 };
}

function readFileOr(path: string, dflt: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return dflt; }
}

/** `10.244.0.0/16`, `10.244.0.0/16 + fd00:244::/48`, or `fd00:244::/48`, for log lines. */
export function networkText(conf: Pick<NetConf, 'ipv4' | 'network' | 'ipv6'>): string {
  return [conf.ipv4 ? formatSubnet(conf.network) : '', conf.ipv6 ? formatSubnet6(conf.ipv6.network) : ''].filter(Boolean).join(' + ');
}

/**
 * How many VTEPs the network can have: one per subnet, 2^(SubnetLen −
 * prefix) (ours included, which leaves one to spare), at most
 * PEER_CAPACITY_CEILING. The peer table (and the source allow-list sized
 * from it) takes this when --peer-capacity is not given.
 */
export function leasePeerCapacity(conf: Pick<NetConf, 'network' | 'subnetLen'>): number {
  return Math.min(PEER_CAPACITY_CEILING, 2 ** (conf.subnetLen - conf.network.len));
}

/** Where the store keeps net-conf.json, for log lines. */
function configWhere(ctl: ControlConfig): string {
  return ctl.store.kind === 'etcd' ? `${ctl.store.prefix}/config` : `${ctl.store.path} "config"`;
}

async function readNetConf(store: LeaseStore, ctl: ControlConfig): Promise<NetConf> {
  if (ctl.netConfigPath) {
    let text: string;
    try {
      text = readFileSync(ctl.netConfigPath, 'utf8');
    } catch (e) {
      throw new UsageError(`--net-config-path ${ctl.netConfigPath}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return parseNetConf(text, ctl.netConfigPath);
  }
  const text = await store.getConfig();
  const where = configWhere(ctl);
  if (text === null) {
    throw new UsageError(ctl.store.kind === 'etcd'
      ? `no network configuration at ${where}: etcdctl put ${where} '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', or pass --net-config-path`
      : `no network configuration in ${ctl.store.path}: pass --net-config-path FILE (net-conf.json)`);
  }
  return parseNetConf(text, where);
}

/** Remote leases programmed (in all, by the family of each side, by each side's family and path); refused now and refused since start, by reason (every reason and path present, 0 or not). */
export interface LeaseCounts {
  programmed: number; families: { ipv4: number; ipv6: number }; paths: { ipv4: Record<LeasePath, number>; ipv6: Record<LeasePath, number> };
  refused: Record<string, number>; refusedTotal: Record<string, number>;
  /** With direct paths: route checks done and direct routes put back since start. */
  routes?: { checks: number; restored: number };
}

/**
 * A lease for `weft peers` and the status record: the IPv4 side as before,
 * the IPv6 side's fields when it has one (a host-gw lease has no MACs).
 * `path` is the first side's (IPv4, or IPv6 in an IPv6-only network);
 * `path6` the IPv6 side's when the lease has both.
 */
function leaseView(l: RemoteLease): { subnet: string; publicIp: string | null; vtepMac: string | null; path: LeasePath; subnet6?: string; publicIpv6?: string; vtepMac6?: string | null; path6?: LeasePath } {
  const v6 = l.subnet.v6 && l.publicIpv6 ? l.subnet.v6 : null;
  return {
    subnet: formatSubnet(l.subnet), publicIp: l.publicIp, vtepMac: l.vtepMac === null || l.path === 'udp' ? null : formatMac(l.vtepMac),
    path: (l.publicIp === null && v6 ? l.path6 : l.path) ?? 'vxlan',
    ...(v6 ? { subnet6: formatSubnet6(v6), publicIpv6: l.publicIpv6!, vtepMac6: l.vtepMac6 == null ? null : formatMac(l.vtepMac6) } : {}),
    ...(v6 && l.publicIp !== null ? { path6: l.path6 ?? 'vxlan' } : {}),
  };
}

export class ControlPlane {
  /** Called once if our lease is lost; the daemon stops. */
  onLost: (why: string) => void = () => {};
  private tracker: LeaseTracker;
  private reconciler: Reconciler | null = null;
  private watch: StoreWatch | null = null;
  private configWatch: StoreWatch | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private routeCheck: RouteCheck | null = null;
  /** A route check is queued behind the batch that runs now. */
  private routeCheckQueued = false;
  private chain: Promise<void> = Promise.resolve();
  /** Changes waiting for the next batch, and whether a batch is queued to take them. */
  private pending: LeaseChange[] = [];
  private drainQueued = false;
  /** Batches handed to the reconciler (each one `ip -batch`, plus one when refused leases are retried). */
  batches = 0;
  /** The `ip` processes and commands the live host ran (none with a host twin). */
  private ipCounts: IpCounts | null = null;
  /** A retry of the refused leases is queued (room was made outside a lease change). */
  private roomQueued = false;
  private outage = false;
  /** A renewal failed and waits for its retry: the store's return brings it forward. */
  private renewFailed = false;
  private stopped = false;

  constructor(
    readonly store: LeaseStore,
    readonly ctl: ControlConfig,
    readonly conf: NetConf,
    public own: StoredLease,
    readonly host: { publicIp: string | null; publicIpv6?: string | null; bindIp: string | null; family?: 4 | 6; mac: number; mtu: number; segment?: Segment | null },
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    // Every remote lease is checked against the network and against us (lease-check.ts) before anything of it is programmed.
    const ownIps = [host.publicIp, host.publicIpv6, host.bindIp].filter((ip): ip is string => !!ip);
    this.tracker = new LeaseTracker(own.subnet, {
      network: conf.network, subnetLen: conf.subnetLen, network6: conf.ipv6?.network ?? null, subnetLen6: conf.ipv6?.subnetLen ?? 0,
      backendType: conf.backend, vni: conf.vni, ownIps: [...new Set(ownIps)], ownMac: host.mac,
    }, log, { directRouting: conf.directRouting, segment: host.segment ?? null });
  }

  /**
   * What the daemon's run configuration becomes: the subnet's network
   * address as /32 (flannel's convention). An IPv6-only lease has none
   * here; its /128 is added by start(), as the IPv6 half of a dual one is.
   */
  get address(): { ip: string; prefix: number; family: 4 } | null {
    return hasV4(this.own.subnet) ? { ip: numberToIpv4(this.own.subnet.ip), prefix: 32, family: 4 } : null;
  }

  /**
   * The IPv6 address start() gives the TAP: the IPv6 subnet's network
   * address as /128, as flanneld gives flannel-v6.<VNI>; `nodad`, because
   * duplicate address detection would hold it tentative (unusable as a
   * source) for a second, and the lease already makes it ours alone.
   */
  get address6(): string | null {
    return this.own.subnet.v6 ? `${formatIpv6(this.own.subnet.v6.ip)}/128` : null;
  }

  /** Steps 4–6. `ops` defaults to the live host (weft's FDB + ip). */
  async start(dp: Datapath, v: VniState, tap: string, ops: HostOps = new LiveHostOps(dp, v)): Promise<void> {
    writeSubnetEnv(this.ctl.subnetFile, subnetEnv(this.conf, this.own.subnet, this.host.mtu, false));
    // host-gw has no TAP to hold it: the pods' bridge holds the subnet's addresses there.
    if (this.address6 && this.conf.backend !== 'host-gw') {
      const failed = await ops.ip([`addr replace ${this.address6} dev ${tap} nodad`]);
      if (failed.length) throw new RuntimeError(`cannot give ${tap} its IPv6 address ${this.address6}: ${failed[0].error}`);
    }
    this.reconciler = new Reconciler(ops, tap, this.log, this.host.segment?.dev ?? null);
    this.ipCounts = ops instanceof LiveHostOps ? ops.counts : null;
    // An entry that left the forwarding table (`weft fdb del`, a learned MAC
    // aged out) may be the room a refused lease waits for; a removed lease's
    // own room is retried by the reconciler, so this one costs a second look.
    dp.fdb.onRoom = () => this.roomMade();
    const { leases, revision } = await this.store.list();
    await this.enqueue(this.tracker.apply({ type: 'snapshot', leases, revision }));
    this.watch = this.store.watch(revision, (e) => this.onEvent(e));
    // Read once at start, as flanneld does; a later change is only said (config-watch.ts).
    if (!this.ctl.netConfigPath && this.store.watchConfig) {
      this.configWatch = this.store.watchConfig((text) => {
        const line = this.stopped ? null : configChangeLine(this.conf, text, configWhere(this.ctl));
        if (line) this.log(line);
      });
    }
    this.scheduleRenew(renewDelayMs(this.own.expiresMs, this.now(), this.ctl.renewMarginMs));
    if (this.host.segment) {
      this.routeCheck = new RouteCheck(ops, this.log);
      this.routeTimer = setInterval(() => this.queueRouteCheck(), ROUTE_CHECK_MS);
      this.routeTimer.unref();
    }
    const n = this.reconciler.programmed.size, refused = this.reconciler.refused.size;
    this.log(`weft: ${n} remote lease${n === 1 ? '' : 's'} programmed${refused ? `, ${refused} refused (see weft peers)` : ''}; watching ${this.store.describe}`);
  }

  /**
   * Step 7, synchronous so that it can run from a signal handler before the
   * TAP closes. `keepRoutes`: the TAP stays (a handover, --keep-tap), so do
   * the routes and neighbours on it, for the weft that takes it next.
   */
  shutdown(keepRoutes = false): void {
    if (this.stopped) return;
    this.stopped = true;
    this.watch?.close();
    this.configWatch?.close();
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.routeTimer) clearInterval(this.routeTimer);
    if (this.reconciler && !keepRoutes) this.reconciler.clearSync();
    void this.store.close();
  }

  /** For the SIGUSR1 status line. */
  status(): object {
    return {
      subnet: formatSubnet(this.own.subnet), publicIp: this.host.publicIp, ...(this.host.publicIpv6 ? { publicIpv6: this.host.publicIpv6 } : {}),
      vtepMac: formatMac(this.host.mac), store: this.store.describe,
      storeReachable: !this.outage,
      leases: [...(this.reconciler?.programmed.values() ?? [])].map(leaseView),
      refused: [
        // A refused lease takes no path: its line says why instead.
        ...[...(this.reconciler?.refused.values() ?? [])].map((r) => ({ ...leaseView(r.lease), path: undefined, path6: undefined, reason: r.reason })),
        // What a refused lease says is not to be trusted, so only its key and why are shown.
        ...[...this.tracker.invalid.values()].map((r) => ({ subnet: formatSubnet(r.subnet), publicIp: '-', vtepMac: '-', reason: r.reason, why: r.why })),
      ],
    };
  }

  /** `ip` processes run and commands fed to them since start (zero with a host twin). */
  ipWork(): IpCounts {
    return { processes: this.ipCounts?.processes ?? 0, commands: this.ipCounts?.commands ?? 0 };
  }

  /** Remote leases programmed, and refused now (by reason): what the metrics and `weft stats` count. */
  leaseCounts(): LeaseCounts {
    const refused: Record<string, number> = {}, refusedTotal: Record<string, number> = {};
    for (const r of LEASE_REFUSALS) { refused[r] = 0; refusedTotal[r] = this.reconciler?.refusedTotal.get(r) ?? 0; }
    for (const r of this.reconciler?.refused.values() ?? []) refused[r.reason]++;
    for (const r of this.tracker.invalid.values()) refused[r.reason]++;
    refusedTotal.invalid += this.tracker.invalidTotal;
    refusedTotal.off_segment += this.tracker.offSegmentTotal;
    const families = { ipv4: 0, ipv6: 0 };
    const zero = () => Object.fromEntries(LEASE_PATHS.map((p) => [p, 0])) as Record<LeasePath, number>;
    const paths = { ipv4: zero(), ipv6: zero() };
    for (const l of this.reconciler?.programmed.values() ?? []) {
      if (l.publicIp !== null) { families.ipv4++; paths.ipv4[l.path ?? 'vxlan']++; }
      if (l.publicIpv6) { families.ipv6++; paths.ipv6[l.path6 ?? 'vxlan']++; }
    }
    const r = this.reconciler;
    return {
      programmed: r?.programmed.size ?? 0, families, paths, refused, refusedTotal,
      ...(this.host.segment ? { routes: { checks: this.routeCheck?.checks ?? 0, restored: this.routeCheck?.restored ?? 0 } } : {}),
    };
  }

  private onEvent(e: WatchEvent): void {
    if (this.stopped) return;
    // Called from the store's watcher: whatever a lease holds must not throw into it.
    try {
      this.takeEvent(e);
    } catch (err) {
      this.log(`weft: lease event ${e.type} not taken: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private takeEvent(e: WatchEvent): void {
    if (e.type === 'outage') {
      this.outage = true;
      this.log(`weft: lease store unreachable (${e.reason}); keeping ${this.reconciler?.programmed.size ?? 0} remote leases programmed, retrying`);
      return;
    }
    if (this.lostOwn(e)) return;
    const changes = this.tracker.apply(e);
    if (e.type === 'snapshot' && e.reason && !this.outage) {
      // Only what differs is programmed: a lease that did not change keeps its route, neighbour and entry untouched.
      this.log(`weft: the watch fell behind (${e.reason}); re-listed ${this.tracker.known.size} remote leases: ${changes.length} change${changes.length === 1 ? '' : 's'}`);
    }
    if (e.type === 'snapshot' && this.outage) {
      this.outage = false;
      this.log(`weft: lease store reachable again; resynced (${changes.length} change${changes.length === 1 ? '' : 's'}, ${this.tracker.known.size} remote leases)`);
      // A renewal missed during the outage is not left to its retry timer:
      // the lease has been running down all along.
      if (this.renewFailed) this.scheduleRenew(0);
    }
    void this.enqueue(changes);
  }

  /** True (and stops) when the event says our lease is gone or someone else's now. */
  private lostOwn(e: WatchEvent): boolean {
    const mine = this.own.subnet;
    let why: string | null = null;
    if (e.type === 'delete' && sameSubnet(e.subnet, mine)) why = 'was deleted from the store';
    if (e.type === 'put' && sameSubnet(e.lease.subnet, mine) && e.lease.value !== this.own.value) why = 'was taken over by another host';
    if (e.type === 'snapshot') {
      const l = e.leases.find((x) => sameSubnet(x.subnet, mine));
      if (!l) why = 'is no longer in the store';
      else if (l.value !== this.own.value) why = 'was taken over by another host';
    }
    if (e.type === 'put' && sameSubnet(e.lease.subnet, mine) && !why) this.own = { ...this.own, revision: e.lease.revision };
    if (!why) return false;
    this.lose(`our lease ${formatSubnet(mine)} ${why}; restart weft to take a lease again`);
    return true;
  }

  private lose(why: string): void {
    if (this.stopped) return;
    this.onLost(why);
  }

  /**
   * Queues changes for the reconciler. Changes that arrive together — one
   * watch response's events, or all that came while the previous batch's
   * `ip` ran — are applied together: one `ip -batch` for the burst, run
   * asynchronously so the forwarding loop keeps going meanwhile.
   */
  private enqueue(changes: LeaseChange[]): Promise<void> {
    if (changes.length === 0) return this.chain;
    this.pending.push(...changes);
    if (this.drainQueued) return this.chain;
    this.drainQueued = true;
    this.chain = this.chain.then(() => {
      this.drainQueued = false;
      const batch = this.pending;
      this.pending = [];
      this.batches++;
      // A failure here must not end the process nor stop every later change: said, and the chain goes on.
      return (this.stopped ? undefined : this.reconciler!.apply(batch))?.catch((e: unknown) =>
        this.log(`weft: programming ${batch.length} lease change${batch.length === 1 ? '' : 's'} failed: ${(e as Error)?.message ?? String(e)}`));
    });
    return this.chain;
  }

  /** Queues one route check behind whatever batch runs now (one at a time: a slow one is not stacked on). */
  private queueRouteCheck(): void {
    if (this.stopped || this.routeCheckQueued || !this.reconciler || !this.routeCheck) return;
    this.routeCheckQueued = true;
    this.chain = this.chain.then(() => {
      this.routeCheckQueued = false;
      if (this.stopped) return;
      return this.routeCheck!.run(this.reconciler!.ownedRoutes()).catch((e: unknown) => this.log(`weft: route check failed: ${(e as Error)?.message ?? String(e)}`));
    });
  }

  /** Queues one retry of the refused leases behind whatever batch runs now (several calls meanwhile: one retry). */
  private roomMade(): void {
    if (this.stopped || this.roomQueued || !this.reconciler || this.reconciler.refused.size === 0) return;
    this.roomQueued = true;
    this.chain = this.chain.then(() => {
      this.roomQueued = false;
      if (this.stopped) return;
      this.batches++;
      return this.reconciler!.retryRefused().catch((e: unknown) => this.log(`weft: retrying refused leases failed: ${(e as Error)?.message ?? String(e)}`));
    });
  }

  private scheduleRenew(delayMs: number): void {
    if (this.stopped) return;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), Math.min(delayMs, 2 ** 31 - 1));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    let got: StoredLease | null;
    try {
      got = await renewLease(this.store, this.own, LEASE_TTL_MS);
    } catch (e) {
      if (this.now() >= this.own.expiresMs && this.own.expiresMs > 0) {
        this.lose(`our lease ${formatSubnet(this.own.subnet)} lapsed: could not renew it (${(e as Error).message})`);
        return;
      }
      this.log(`weft: could not renew our lease ${formatSubnet(this.own.subnet)} (${(e as Error).message}); retrying in ${RENEW_RETRY_MS / 1000} s, or as soon as the store is back`);
      this.renewFailed = true;
      this.scheduleRenew(RENEW_RETRY_MS);
      return;
    }
    this.renewFailed = false;
    if (!got) {
      this.lose(`our lease ${formatSubnet(this.own.subnet)} is gone or held by another host; restart weft to take a lease again`);
      return;
    }
    this.own = got;
    this.log(`weft: renewed lease ${formatSubnet(got.subnet)} until ${new Date(got.expiresMs).toISOString()}`);
    this.scheduleRenew(renewDelayMs(got.expiresMs, this.now(), this.ctl.renewMarginMs));
  }
}
