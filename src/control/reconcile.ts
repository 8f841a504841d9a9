// From leases to host state. Two steps, each testable without root:
//
//   watch events ──LeaseTracker──▶ add/remove of remote leases ──Reconciler──▶ FDB + neighbour + route
//
// LeaseTracker keeps the set of remote leases it has seen. Events change it
// one at a time; a snapshot (a watcher that fell behind, or a store back from
// an outage) is diffed against it, so the layers below only ever see adds and
// removes. Our own lease is left out, and so is every lease that is not
// usable (lease-check.ts): refused, said once, counted and listed, and taken
// when a later write makes it right. Each lease taken carries its path
// (segment.ts): 'vxlan' is programmed as below; 'udp' is only a route in
// weft's own table (HostOps); 'direct' (host-gw, or vxlan with
// DirectRouting for a host on our segment) is one kernel route via the host
// on the underlay, with no forwarding entry and no neighbour. Each side has
// its own path (a dual-stack lease's IPv4 host may be on our segment while
// its IPv6 host is not). A lease whose host moves between segments changes
// path: the new route replaces the old.
//
// Reconciler programs what flannel's vxlan backend programs for each remote
// lease (pkg/backend/vxlan/vxlan_network.go), for each family the lease and
// our network both carry, in this order, and undoes it in reverse:
//   1. forwarding entry: remote VtepMAC → its PublicIP (IPv4 side), and
//      BackendV6Data's VtepMAC → its PublicIPv6 (IPv6 side), static (never
//      aged), in weft's own table (the kernel's `bridge fdb … permanent` on
//      flannel.1 and flannel-v6.1);
//   2. neighbour: the remote subnet's network address → that side's VtepMAC,
//      `nud permanent` on the TAP;
//   3. route: the remote subnet via that address, `onlink`, dev the TAP.
// weft carries both families on one TAP (docs/control-plane.md says why). A
// flanneld host has two devices with two MACs, so its two sides are two
// forwarding entries, each to its own underlay: IPv6 overlay traffic reaches
// flannel-v6.<VNI> over IPv6, as flanneld expects. A weft host names one MAC
// for both sides; a MAC has one VTEP in the forwarding table, so both
// families then go to its IPv4 address (a weft takes either underlay).
// The route is what makes the kernel send, so it goes last on add and first
// on remove: no packet is routed towards a lease whose MAC or VTEP is not in
// place yet.
//
// Why a permanent neighbour entry rather than answering ARP inside weft:
// it is what flanneld installs, so a weft host and a flannel host hold the
// same kernel state and the same `ip neigh` shows it; the kernel then never
// ARPs for a remote gateway at all, so no broadcast crosses the overlay and
// weft's flood list can stay empty; and the data path stays a pure VXLAN
// forwarder with no ARP parsing or reply building on the hot path. The price
// is kernel state that must be removed again — done on lease removal and at
// shutdown, and the kernel drops it anyway when weft's TAP goes away.

import { formatMac } from '../wire/mac.js';
import { formatSubnet, hasV4, leasesOverlap, sameSubnet, subnetKey, type Subnet } from './ip4.js';
import { formatIpv6, formatSubnet6 } from './ip6.js';
import { numberToIpv4 } from '../wire/ipv4.js';
import { checkLease, type LeaseCheckContext } from './lease-check.js';
import type { StoredLease, WatchEvent } from './store.js';
import { RAISE_FOR, type Refusal } from '../datapath/datapath.js';
import { directRouteCmds, leasePaths, type DirectRoute, type LeasePath, type Segment, type ShownRoute } from './segment.js';
import type { BackendType } from './net-conf.js';

/**
 * A remote lease as programmed: the IPv4 side (publicIp, vtepMac) and the
 * IPv6 side (subnet.v6, publicIpv6, vtepMac6), each present only when both
 * the lease and our network carry that family.
 */
export interface RemoteLease {
  subnet: Subnet;
  publicIp: string | null;
  vtepMac: number | null;
  publicIpv6?: string | null;
  vtepMac6?: number | null;
  revision: number;
  /** How its IPv4 side's traffic leaves (segment.ts); absent: 'vxlan'. */
  path?: LeasePath;
  /** How its IPv6 side's traffic leaves; absent: 'vxlan'. */
  path6?: LeasePath;
}

/** The forwarding entries a lease needs: one per distinct VTEP MAC (see the file's comment for a shared MAC). */
export function fdbEntries(l: RemoteLease): { mac: number; ip: string }[] {
  const out: { mac: number; ip: string }[] = [];
  const v4 = l.publicIp !== null && l.vtepMac !== null && l.path !== 'direct';
  if (v4) out.push({ mac: l.vtepMac!, ip: l.publicIp! });
  if (l.publicIpv6 && l.vtepMac6 != null && l.path6 !== 'direct' && !(v4 && l.vtepMac6 === l.vtepMac)) out.push({ mac: l.vtepMac6, ip: l.publicIpv6 });
  return out;
}

/** `vtep 02:… at 198.18.0.2` and/or `vtep 02:… at 2001:2::2` (a udp lease: its host's address), for log lines. */
export function describeVteps(l: RemoteLease): string {
  const sides: string[] = [];
  if (l.publicIp !== null && l.path === 'direct') sides.push(`direct via ${l.publicIp}`);
  else if (l.publicIp !== null && l.vtepMac === 0) sides.push(l.publicIp);
  else if (l.publicIp !== null && l.vtepMac !== null) sides.push(`vtep ${formatMac(l.vtepMac)} at ${l.publicIp}`);
  if (l.publicIpv6 && l.path6 === 'direct') sides.push(`direct via ${l.publicIpv6}`);
  else if (l.publicIpv6 && l.vtepMac6 != null) sides.push(`vtep ${formatMac(l.vtepMac6)} at ${l.publicIpv6}`);
  return sides.join(', ');
}

export type LeaseChange =
  | { type: 'add'; lease: RemoteLease; old: RemoteLease | null }
  | { type: 'remove'; lease: RemoteLease };

/**
 * A lease the tracker refused: checkLease said it is wrong ('invalid'), or
 * it is right but has no path here ('off_segment': a host-gw host off our
 * segment). Nothing of it is programmed until a write makes it right.
 */
export interface InvalidLease { subnet: Subnet; revision: number; why: string; reason: 'invalid' | 'off_segment' }

/** What decides a lease's path (segment.ts): vxlan's DirectRouting and our segment. */
export interface PathContext { directRouting: boolean; segment: Segment | null }

export class LeaseTracker {
  readonly known = new Map<string, RemoteLease>();
  /** Leases refused by checkLease now, by subnet key, with the value that was refused (said once per value). */
  readonly invalid = new Map<string, InvalidLease & { value: string }>();
  /** Refusals since start: each time a lease goes to a refused value it was not refused for already ('invalid'; 'off_segment'). */
  invalidTotal = 0;
  offSegmentTotal = 0;

  constructor(
    private readonly own: Subnet,
    private readonly check: LeaseCheckContext,
    private readonly log: (line: string) => void = () => {},
    private readonly paths: PathContext = { directRouting: false, segment: null },
  ) {}

  /** Applies one watch event; returns what changed, removes first. */
  apply(e: WatchEvent): LeaseChange[] {
    switch (e.type) {
      case 'put': {
        const r = this.accept(e.lease);
        return r ? this.set(r) : this.drop(subnetKey(e.lease.subnet));
      }
      case 'delete':
        this.invalid.delete(subnetKey(e.subnet));
        return this.drop(subnetKey(e.subnet));
      case 'snapshot': {
        const next = new Map<string, RemoteLease>();
        for (const l of e.leases) {
          const r = this.accept(l);
          if (r) next.set(subnetKey(r.subnet), r);
        }
        const out: LeaseChange[] = [];
        const present = new Set(e.leases.map((l) => subnetKey(l.subnet)));
        for (const k of [...this.invalid.keys()]) if (!present.has(k)) this.invalid.delete(k);
        for (const k of [...this.known.keys()]) if (!next.has(k)) out.push(...this.drop(k));
        for (const r of next.values()) out.push(...this.set(r));
        return out;
      }
      case 'outage':
        return [];
    }
  }

  private set(r: RemoteLease): LeaseChange[] {
    const k = subnetKey(r.subnet);
    const old = this.known.get(k) ?? null;
    if (old && old.path === r.path && old.path6 === r.path6 && old.publicIp === r.publicIp && old.vtepMac === r.vtepMac && (old.publicIpv6 ?? null) === (r.publicIpv6 ?? null) && (old.vtepMac6 ?? null) === (r.vtepMac6 ?? null)) {
      old.revision = r.revision;
      return [];
    }
    this.known.set(k, r);
    return [{ type: 'add', lease: r, old }];
  }

  private drop(k: string): LeaseChange[] {
    const old = this.known.get(k);
    if (!old) return [];
    this.known.delete(k);
    return [{ type: 'remove', lease: old }];
  }

  /**
   * The lease as a remote lease to program, with its path, or null: ours
   * (the control plane watches that one), or refused — by checkLease, or for
   * want of a path (a host-gw host off our segment) — recorded, counted and
   * said once per value, and forgotten when a write makes it right.
   */
  private accept(l: StoredLease): RemoteLease | null {
    if (sameSubnet(l.subnet, this.own)) return null;
    const k = subnetKey(l.subnet);
    const checked = checkLease(l.subnet, l.value, this.check);
    const a = typeof checked !== 'string' && leasesOverlap(l.subnet, this.own) ? `it overlaps our subnet ${formatSubnet(this.own)}` : checked;
    if (typeof a === 'string') return this.refuse(l, a, 'invalid');
    const p = leasePaths(this.check.backendType as BackendType, this.paths.directRouting, a.publicIp, a.publicIpv6, this.paths.segment);
    if ('refused' in p) return this.refuse(l, p.refused, 'off_segment');
    if (this.invalid.delete(k)) this.log(`weft: lease ${formatSubnet(l.subnet)} is valid now: taken`);
    // A udp lease has no MAC: its one table entry is a route keyed by the subnet (HostOps), marked by MAC 0.
    const vtepMac = p.path4 === 'udp' ? 0 : a.vtepMac;
    return {
      subnet: l.subnet, publicIp: a.publicIp, vtepMac, publicIpv6: a.publicIpv6, vtepMac6: a.vtepMac6, revision: l.revision,
      ...(p.path4 ? { path: p.path4 } : {}), ...(p.path6 ? { path6: p.path6 } : {}),
    };
  }

  /** Records a refusal (said and counted once per value) and forgets what was taken of the lease. */
  private refuse(l: StoredLease, why: string, reason: InvalidLease['reason']): null {
    const k = subnetKey(l.subnet);
    if (this.invalid.get(k)?.value !== l.value) {
      if (reason === 'invalid') this.invalidTotal++;
      else this.offSegmentTotal++;
      this.log(`weft: lease ${formatSubnet(l.subnet)} refused: ${why}; nothing of it is programmed ` +
        `(weft_leases_refused{reason="${reason}"}, weft peers), and it is taken once a write makes it right`);
    }
    this.invalid.set(k, { subnet: l.subnet, revision: l.revision, why, value: l.value, reason });
    return null;
  }
}

/** Why a lease was not programmed: a table was full (datapath.ts), or weft could not take it at all. */
export type LeaseRefusal = Refusal | 'invalid' | 'off_segment';

/** Every reason, in the order the counters list them. */
export const LEASE_REFUSALS: readonly LeaseRefusal[] = ['peer_table_full', 'fdb_full', 'source_set_full', 'invalid', 'off_segment'];

/** What an operator raises to make room, per reason. */
export const RAISE: Record<LeaseRefusal, string> = { ...RAISE_FOR, invalid: 'nothing (fix the lease)', off_segment: 'nothing (put the host on our segment)' };

/** What the reconciler changes on the host. The live one is in host.ts; tests use a recording twin. */
export interface HostOps {
  /**
   * Pins `mac` to the VTEP at `ip` in weft's forwarding table (static, never
   * aged); for the udp backend, routes `subnet` to `ip` in weft's route
   * table instead (the lease has no MAC). Null when done; else why a table refused it (then nothing
   * changed) and a line saying so. May throw on an address it cannot take.
   */
  fdbAdd(mac: number, ip: string, subnet: Subnet): { reason: Refusal; text: string } | null;
  fdbRemove(mac: number, subnet: Subnet): void;
  /** Runs `ip` commands (iproute2 batch syntax) in order; resolves with the ones that failed. */
  ip(cmds: string[]): Promise<{ cmd: string; error: string }[]>;
  /** The same, blocking: for shutdown, which must finish before the TAP closes. */
  ipSync(cmds: string[]): { cmd: string; error: string }[];
  /** The kernel's main routing table for a family (`ip -j route show`); absent in twins without a kernel (no route check then). */
  routeTable?(family: 4 | 6): Promise<ShownRoute[]>;
}

/** Errors that mean "already gone" when removing. */
const GONE = /No such process|No such file|Cannot find device|does not exist|not found/i;

/** A lease left out, and why. */
export interface RefusedLease { lease: RemoteLease; reason: LeaseRefusal }

export class Reconciler {
  readonly programmed = new Map<string, RemoteLease>();
  /** Leases a full table refused, retried whenever a removal makes room; by subnet key. */
  readonly refused = new Map<string, RefusedLease>();
  /** Refusals by reason since start (a lease counts once each time it goes from taken or new to refused). */
  readonly refusedTotal = new Map<LeaseRefusal, number>();
  /** Reasons already logged; a reason is logged again only after every lease it refused was taken or went. */
  private readonly warned = new Set<LeaseRefusal>();

  /** `underlay`: the interface direct routes leave by (segment.ts); null when no lease can take that path. */
  constructor(
    private readonly ops: HostOps,
    private readonly tap: string,
    private readonly log: (line: string) => void = () => {},
    private readonly underlay: string | null = null,
  ) {}

  private addCmds(l: RemoteLease, tap: string): string[] { return addCmds(l, tap, this.underlay); }
  private removeCmds(l: RemoteLease, tap: string): string[] { return removeCmds(l, tap, this.underlay); }

  /**
   * Programs a batch of changes: one `ip` batch for all of them. A lease a
   * full table refuses is left out and remembered; when the batch removed
   * something, the remembered ones are tried again (a second batch).
   */
  async apply(changes: LeaseChange[]): Promise<void> {
    if (changes.length === 0) return;
    const { cmds, after, freed } = this.plan(changes);
    this.report(await this.ops.ip(cmds));
    for (const fn of after) fn();
    if (freed && this.refused.size > 0) await this.retryRefused();
  }

  /** Tries every refused lease again, in the order they were refused. */
  async retryRefused(): Promise<void> {
    const cmds: string[] = [];
    for (const [k, r] of [...this.refused]) {
      if (this.tryFdb(r.lease, true) !== null) continue;
      this.refused.delete(k);
      cmds.push(...this.addCmds(r.lease, this.tap));
      this.programmed.set(k, r.lease);
      this.log(`weft: lease ${formatSubnet(r.lease.subnet)} → ${describeVteps(r.lease)} (taken now: room was made)`);
    }
    this.rearm();
    if (cmds.length) this.report(await this.ops.ip(cmds));
  }

  /** The direct routes programmed now: what the route check (route-check.ts) looks for. */
  ownedRoutes(): DirectRoute[] {
    return [...this.programmed.values()].flatMap((l) => directRoutes(l, this.underlay));
  }

  /** Removes everything programmed (shutdown). The leases stay in the store. */
  clearSync(): void {
    this.refused.clear();
    const { cmds, after } = this.plan([...this.programmed.values()].map((lease) => ({ type: 'remove' as const, lease })));
    this.report(this.ops.ipSync(cmds));
    for (const fn of after) fn();
  }

  private plan(changes: LeaseChange[]): { cmds: string[]; after: (() => void)[]; freed: boolean } {
    const cmds: string[] = [];
    const after: (() => void)[] = [];
    let freed = false;
    // A refused lease removed: the once-per-reason log re-armed after the batch (a pass over every refused lease, so once).
    let forgot = false;
    for (const c of changes) {
      const l = c.lease, k = subnetKey(l.subnet);
      // What is programmed for this subnet now: the tracker's `old` may have been refused.
      const prev = this.programmed.get(k) ?? null;
      if (c.type === 'add') {
        this.refused.delete(k);
        // 1. forwarding entry first (it replaces any older one for this MAC) …
        if (this.tryFdb(l, false) !== null) {
          // Left out; what the subnet had before must not keep pointing at the old VTEP.
          if (prev) {
            cmds.push(...this.removeCmds(prev, this.tap));
            after.push(() => { for (const e of fdbEntries(prev)) this.ops.fdbRemove(e.mac, prev.subnet); });
            this.programmed.delete(k);
            freed = true;
          }
          continue;
        }
        if (prev) {
          const now = new Set(fdbEntries(l).map((e) => e.mac));
          const gone = fdbEntries(prev).filter((e) => !now.has(e.mac));
          if (gone.length) {
            after.push(() => { for (const e of gone) this.ops.fdbRemove(e.mac, prev.subnet); });
            freed = true;
          }
          // A side the lease no longer carries: its neighbour and route go.
          cmds.push(...this.removeCmds(prev, this.tap).filter((c) => !this.addCmds(l, this.tap).some((a) => sameTarget(a, c))));
        }
        // 2. and 3. then neighbour and route.
        cmds.push(...this.addCmds(l, this.tap));
        this.programmed.set(k, l);
        this.log(`weft: lease ${formatSubnet(l.subnet)} → ${describeVteps(l)}${prev ? ' (changed)' : ''}`);
      } else {
        if (this.refused.delete(k)) {
          forgot = true;
          continue;
        }
        if (!prev) continue;
        cmds.push(...this.removeCmds(prev, this.tap));
        after.push(() => { for (const e of fdbEntries(prev)) this.ops.fdbRemove(e.mac, prev.subnet); });
        this.programmed.delete(k);
        freed = true;
        this.log(`weft: lease ${formatSubnet(l.subnet)} removed`);
      }
    }
    if (forgot) this.rearm();
    return { cmds, after, freed };
  }

  /**
   * The forwarding entries for `l` (one per side with its own MAC); null
   * when all are in, else the refusal, recorded (counted and, once per
   * reason, logged), and none of them left in. Nothing a lease holds throws
   * out of here: an address the table cannot take is refused too.
   */
  private tryFdb(l: RemoteLease, retry: boolean): LeaseRefusal | null {
    let reason: LeaseRefusal | null = null, text = '';
    const added: number[] = [];
    for (const e of fdbEntries(l)) {
      try {
        const r = this.ops.fdbAdd(e.mac, e.ip, l.subnet);
        if (r === null) { added.push(e.mac); continue; }
        ({ reason, text } = r);
      } catch (err) {
        reason = 'invalid';
        text = (err as Error).message;
      }
      break;
    }
    if (reason === null) return null;
    for (const mac of added) this.ops.fdbRemove(mac, l.subnet);
    const k = subnetKey(l.subnet);
    if (retry) return reason;
    this.refused.set(k, { lease: l, reason });
    this.refusedTotal.set(reason, (this.refusedTotal.get(reason) ?? 0) + 1);
    if (reason === 'invalid') {
      this.log(`weft: lease ${formatSubnet(l.subnet)} refused: ${text}`);
    } else if (!this.warned.has(reason)) {
      this.warned.add(reason);
      this.log(`weft: lease ${formatSubnet(l.subnet)} (${l.publicIp ?? l.publicIpv6}) refused: ${text}; leases that do not fit are left out ` +
        `(weft_leases_refused{reason="${reason}"}, weft peers) and taken when a removal makes room: raise ${RAISE[reason]}`);
    }
    return reason;
  }

  /** Forgets that a reason was logged once no lease is refused for it, so that the next time a table fills is logged too. */
  private rearm(): void {
    const live = new Set([...this.refused.values()].map((r) => r.reason));
    for (const r of [...this.warned]) if (!live.has(r)) this.warned.delete(r);
  }

  private report(failed: { cmd: string; error: string }[]): void {
    for (const f of failed) {
      if (/^(route del|neigh del)/.test(f.cmd) && GONE.test(f.error)) continue;
      this.log(`weft: ip ${f.cmd}: ${f.error}`);
    }
  }
}

/** The neighbour and route per tunnelled side: IPv4 (subnet, vtepMac) and IPv6 (subnet.v6, vtepMac6). */
function sides(l: RemoteLease): { gw: string; dst: string; mac: number }[] {
  const out: { gw: string; dst: string; mac: number }[] = [];
  if (l.vtepMac !== null && hasV4(l.subnet) && l.path !== 'direct') out.push({ gw: numberToIpv4(l.subnet.ip), dst: `${numberToIpv4(l.subnet.ip)}/${l.subnet.len}`, mac: l.vtepMac });
  if (l.vtepMac6 != null && l.subnet.v6 && l.path6 !== 'direct') out.push({ gw: formatIpv6(l.subnet.v6.ip), dst: formatSubnet6(l.subnet.v6), mac: l.vtepMac6 });
  return out;
}

/** The direct routes of a lease: one per side whose path is 'direct', via that side's host on `underlay`. */
export function directRoutes(l: RemoteLease, underlay: string | null): DirectRoute[] {
  const out: DirectRoute[] = [];
  if (l.path === 'direct' && l.publicIp !== null) out.push({ dst: `${numberToIpv4(l.subnet.ip)}/${l.subnet.len}`, via: l.publicIp, dev: underlay! });
  if (l.path6 === 'direct' && l.publicIpv6 && l.subnet.v6) out.push({ dst: formatSubnet6(l.subnet.v6), via: l.publicIpv6, dev: underlay! });
  return out;
}

/**
 * The kernel's part of a lease, by each side's path: a direct side's route
 * via its host on the underlay; a tunnelled side's neighbour and onlink
 * route on the TAP; nothing for a udp lease (the kernel holds one route for
 * the whole network, made with the TUN; the lease is a route in weft's table).
 */
export function addCmds(l: RemoteLease, tap: string, underlay: string | null = null): string[] {
  if (l.path === 'udp') return [];
  return [...directRoutes(l, underlay).map((r) => directRouteCmds(r).add), ...sides(l).flatMap(({ gw, dst, mac }) => [
    `neigh replace ${gw} lladdr ${formatMac(mac)} dev ${tap} nud permanent`,
    `route replace ${dst} via ${gw} dev ${tap} onlink`,
  ])];
}

export function removeCmds(l: RemoteLease, tap: string, underlay: string | null = null): string[] {
  if (l.path === 'udp') return [];
  return [...directRoutes(l, underlay).map((r) => directRouteCmds(r).del), ...sides(l).flatMap(({ gw, dst }) => [`route del ${dst} via ${gw} dev ${tap}`, `neigh del ${gw} dev ${tap}`])];
}

/** True when an add command and a remove command touch the same route or neighbour. */
function sameTarget(add: string, del: string): boolean {
  const a = add.split(' '), d = del.split(' ');
  return a[0] === d[0] && a[2] === d[2];
}
