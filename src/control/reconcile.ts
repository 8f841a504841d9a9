// From leases to host state. Two steps, each testable without root:
//
//   watch events ──LeaseTracker──▶ add/remove of remote leases ──Reconciler──▶ FDB + neighbour + route
//
// LeaseTracker keeps the set of remote leases it has seen. Events change it
// one at a time; a snapshot (a watcher that fell behind, or a store back from
// an outage) is diffed against it, so the layers below only ever see adds and
// removes. Our own lease, leases of other backends or VNIs, and leases that
// overlap our subnet are left out (and said so once).
//
// Reconciler programs what flannel's vxlan backend programs for each remote
// lease (pkg/backend/vxlan/vxlan_network.go), in this order, and undoes it in
// reverse:
//   1. forwarding entry: remote VtepMAC → its PublicIP, static (never aged),
//      in weft's own table (the kernel's `bridge fdb … permanent` for flannel.1);
//   2. neighbour: the remote subnet's network address → VtepMAC, `nud
//      permanent` on the TAP;
//   3. route: the remote subnet via that address, `onlink`, dev the TAP.
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
import { contains, formatSubnet, overlaps, subnetKey, type Subnet } from './ip4.js';
import { numberToIpv4 } from '../wire/ipv4.js';
import { decodeAttrs } from './lease.js';
import type { StoredLease, WatchEvent } from './store.js';
import type { Refusal } from '../datapath/datapath.js';

export interface RemoteLease {
  subnet: Subnet;
  publicIp: string;
  vtepMac: number;
  revision: number;
}

export type LeaseChange =
  | { type: 'add'; lease: RemoteLease; old: RemoteLease | null }
  | { type: 'remove'; lease: RemoteLease };

export class LeaseTracker {
  readonly known = new Map<string, RemoteLease>();
  private readonly skipped = new Map<string, number>(); // key → revision already reported

  constructor(
    private readonly own: Subnet,
    private readonly network: Subnet,
    private readonly vni: number,
    private readonly log: (line: string) => void = () => {},
    private readonly backend: 'vxlan' | 'udp' = 'vxlan',
  ) {}

  /** Applies one watch event; returns what changed, removes first. */
  apply(e: WatchEvent): LeaseChange[] {
    switch (e.type) {
      case 'put': {
        const r = this.accept(e.lease);
        return r ? this.set(r) : this.drop(subnetKey(e.lease.subnet));
      }
      case 'delete':
        return this.drop(subnetKey(e.subnet));
      case 'snapshot': {
        const next = new Map<string, RemoteLease>();
        for (const l of e.leases) {
          const r = this.accept(l);
          if (r) next.set(subnetKey(r.subnet), r);
        }
        const out: LeaseChange[] = [];
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
    if (old && old.publicIp === r.publicIp && old.vtepMac === r.vtepMac) {
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

  /** The lease as a remote VTEP to program, or null (ours, or not usable: said once per revision). */
  private accept(l: StoredLease): RemoteLease | null {
    if (l.subnet.ip === this.own.ip && l.subnet.len === this.own.len) return null;
    const skip = (why: string): null => {
      const k = subnetKey(l.subnet);
      if (this.skipped.get(k) !== l.revision) {
        this.skipped.set(k, l.revision);
        this.log(`weft: ignoring lease ${formatSubnet(l.subnet)}: ${why}`);
      }
      return null;
    };
    if (overlaps(l.subnet, this.own)) return skip(`it overlaps our subnet ${formatSubnet(this.own)}`);
    if (!contains(this.network, l.subnet)) return skip(`it is outside the network ${formatSubnet(this.network)}`);
    const a = decodeAttrs(l.value);
    if (typeof a === 'string') return skip(a);
    // flanneld's udp leases name no backend (lease.ts); they carry no VNI or MAC.
    if (this.backend === 'udp') {
      if (a.backendType !== '' && a.backendType !== 'udp') return skip(`backend "${a.backendType}", not udp`);
      return { subnet: l.subnet, publicIp: a.publicIp, vtepMac: 0, revision: l.revision };
    }
    if (a.backendType !== 'vxlan') return skip(`backend "${a.backendType}", not vxlan`);
    if (a.vni !== this.vni) return skip(`VNI ${a.vni}, ours is ${this.vni}`);
    return { subnet: l.subnet, publicIp: a.publicIp, vtepMac: a.vtepMac!, revision: l.revision };
  }
}

/** Why a lease was not programmed: a table was full (datapath.ts), or weft could not take it at all. */
export type LeaseRefusal = Refusal | 'invalid';

/** Every reason, in the order the counters list them. */
export const LEASE_REFUSALS: readonly LeaseRefusal[] = ['peer_table_full', 'fdb_full', 'source_set_full', 'invalid'];

/** What an operator raises to make room, per reason. */
export const RAISE: Record<LeaseRefusal, string> = {
  peer_table_full: '--peer-capacity', source_set_full: '--peer-capacity', fdb_full: '--fdb-max', invalid: 'nothing (fix the lease)',
};

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

  private readonly addCmds: (l: RemoteLease, tap: string) => string[];
  private readonly removeCmds: (l: RemoteLease, tap: string) => string[];

  constructor(
    private readonly ops: HostOps,
    private readonly tap: string,
    private readonly log: (line: string) => void = () => {},
    backend: 'vxlan' | 'udp' = 'vxlan',
  ) {
    // The udp backend's leases are routes in weft's own table (HostOps):
    // the kernel holds one route for the whole network, set up with the TUN.
    this.addCmds = backend === 'udp' ? () => [] : addCmds;
    this.removeCmds = backend === 'udp' ? () => [] : removeCmds;
  }

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
      this.log(`weft: lease ${formatSubnet(r.lease.subnet)} → ${this.via(r.lease)} (taken now: room was made)`);
    }
    this.rearm();
    if (cmds.length) this.report(await this.ops.ip(cmds));
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
            after.push(() => this.ops.fdbRemove(prev.vtepMac, prev.subnet));
            this.programmed.delete(k);
            freed = true;
          }
          continue;
        }
        if (prev && prev.vtepMac !== l.vtepMac) {
          after.push(() => this.ops.fdbRemove(prev.vtepMac, prev.subnet));
          freed = true;
        }
        // 2. and 3. then neighbour and route.
        cmds.push(...this.addCmds(l, this.tap));
        this.programmed.set(k, l);
        this.log(`weft: lease ${formatSubnet(l.subnet)} → ${this.via(l)}${prev ? ' (changed)' : ''}`);
      } else {
        if (this.refused.delete(k)) {
          this.rearm();
          continue;
        }
        if (!prev) continue;
        cmds.push(...this.removeCmds(prev, this.tap));
        after.push(() => this.ops.fdbRemove(prev.vtepMac, prev.subnet));
        this.programmed.delete(k);
        freed = true;
        this.log(`weft: lease ${formatSubnet(l.subnet)} removed`);
      }
    }
    return { cmds, after, freed };
  }

  /**
   * The forwarding entry for `l`; null when it is in, else the refusal,
   * recorded (counted and, once per reason, logged). Nothing a lease holds
   * throws out of here: an address the table cannot take is refused too.
   */
  private tryFdb(l: RemoteLease, retry: boolean): LeaseRefusal | null {
    let reason: LeaseRefusal, text: string;
    try {
      const r = this.ops.fdbAdd(l.vtepMac, l.publicIp, l.subnet);
      if (r === null) return null;
      ({ reason, text } = r);
    } catch (e) {
      reason = 'invalid';
      text = (e as Error).message;
    }
    const k = subnetKey(l.subnet);
    if (retry) return reason;
    this.refused.set(k, { lease: l, reason });
    this.refusedTotal.set(reason, (this.refusedTotal.get(reason) ?? 0) + 1);
    if (reason === 'invalid') {
      this.log(`weft: lease ${formatSubnet(l.subnet)} refused: ${text}`);
    } else if (!this.warned.has(reason)) {
      this.warned.add(reason);
      this.log(`weft: lease ${formatSubnet(l.subnet)} (${l.publicIp}) refused: ${text}; leases that do not fit are left out ` +
        `(weft_leases_refused{reason="${reason}"}, weft peers) and taken when a removal makes room: raise ${RAISE[reason]}`);
    }
    return reason;
  }

  /** Where a lease's traffic goes, for the log: a VTEP, or (udp backend, no MAC) a host. */
  private via(l: RemoteLease): string {
    return l.vtepMac === 0 ? l.publicIp : `vtep ${formatMac(l.vtepMac)} at ${l.publicIp}`;
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

export function addCmds(l: RemoteLease, tap: string): string[] {
  const gw = numberToIpv4(l.subnet.ip);
  return [
    `neigh replace ${gw} lladdr ${formatMac(l.vtepMac)} dev ${tap} nud permanent`,
    `route replace ${formatSubnet(l.subnet)} via ${gw} dev ${tap} onlink`,
  ];
}

export function removeCmds(l: RemoteLease, tap: string): string[] {
  const gw = numberToIpv4(l.subnet.ip);
  return [`route del ${formatSubnet(l.subnet)} via ${gw} dev ${tap}`, `neigh del ${gw} dev ${tap}`];
}
