// Allocation policy: which subnet this host takes, kept apart from the stores
// (store.ts) so every store gets the same rules, flannel's
// (pkg/subnet/etcd/local_manager.go, tryAcquireLease):
//
//   1. A live lease with our PublicIP is ours from before a restart: keep it
//      (rewritten with our current attributes and a fresh TTL).
//   2. Else the subnet from our subnet file, if it is in the network and free.
//   3. Else a random free subnet in [SubnetMin, SubnetMax]. Random, not the
//      first free one, so hosts starting together rarely collide; when two do,
//      the store's create-if-absent lets one win and the other tries again.
//
// A lease of ours that no longer fits the network configuration (the
// operator changed Network or SubnetLen) is deleted, as flannel does.
//
// Dual-stack and IPv6-only networks (net-conf.json EnableIPv6): a lease has
// an IPv6 half (Subnet.v6), picked the same way and independently of the
// IPv4 one, as flannel's allocateSubnet does. "Ours" is matched on PublicIP,
// or on PublicIPv6 in an IPv6-only network (flannel matches PublicIP only,
// which is 0.0.0.0 on every IPv6-only host). The stores' create refuses a
// lease when a live one holds either half (ip4.ts sharesHalf), so two hosts
// racing never get one IPv6 subnet under two different keys.

import { RuntimeError } from '../config/errors.js';
import { contains, formatSubnet, hasV4, leasesOverlap, mask4, NO_V4, overlaps, sameSubnet, size4, subnetKey, type Subnet } from './ip4.js';
import { contains6, formatSubnet6, mask6, overlaps6, size6, type Subnet6 } from './ip6.js';
import { decodeAttrs, encodeAttrs, type LeaseAttrs } from './lease.js';
import type { NetConf } from './net-conf.js';
import type { LeaseStore, StoredLease } from './store.js';
import { LEASE_TTL_MS, RENEW_MARGIN_MS } from './defaults.js';

/** How many free subnets to gather before picking one at random (flannel: 100). */
const FREE_SAMPLE = 100;
/** create attempts before giving up, each after re-listing (lost races). */
const MAX_TRIES = 10;

export interface AcquireOptions {
  conf: NetConf;
  attrs: LeaseAttrs;
  ttlMs?: number;
  /** The subnet named in our subnet file, if any. */
  previous?: Subnet | null;
  /** An integer in [0, n): injected so tests are repeatable. */
  random?: (n: number) => number;
  log?: (line: string) => void;
}

/** Takes a lease for this host; resolves with it as stored. */
export async function acquireLease(store: LeaseStore, o: AcquireOptions): Promise<StoredLease> {
  const ttl = o.ttlMs ?? LEASE_TTL_MS;
  const random = o.random ?? ((n: number) => Math.floor(Math.random() * n));
  const log = o.log ?? (() => {});
  const value = encodeAttrs(o.attrs);
  const network = o.conf.network;

  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const { leases } = await store.list();

    // 1. Ours from before.
    const mine = leases.filter((l) => {
      const a = decodeAttrs(l.value);
      if (typeof a === 'string') return false;
      return o.conf.ipv4 ? a.publicIp === o.attrs.publicIp : (a.publicIpv6 ?? null) === (o.attrs.publicIpv6 ?? null);
    });
    for (const l of mine) {
      if (!fits(o.conf, l.subnet)) {
        log(`weft: deleting our old lease ${formatSubnet(l.subnet)}: outside the network configuration`);
        await store.delete(l.subnet);
        continue;
      }
      const got = await store.update(l.subnet, value, ttl, l.revision);
      if (got) return got;
      break; // changed under us: list again
    }
    if (mine.some((l) => fits(o.conf, l.subnet))) continue;

    // 2. The subnet in our subnet file.
    const prev = o.previous;
    if (prev && fits(o.conf, prev) && !leases.some((l) => leasesOverlap(l.subnet, prev))) {
      const got = await store.create(prev, value, ttl);
      if (got) return got;
      continue;
    }

    // 3. A random free one (each half).
    let pick: Subnet = NO_V4;
    if (o.conf.ipv4) {
      const free = freeSubnets(o.conf, leases, FREE_SAMPLE);
      if (free.length === 0) {
        throw new RuntimeError(`no free subnet left in ${formatSubnet(network)} (SubnetLen /${o.conf.subnetLen}, ${leases.length} leases); widen the network or delete stale leases`);
      }
      pick = free[random(free.length)];
    }
    if (o.conf.ipv6) {
      const free6 = freeSubnets6(o.conf.ipv6, leases, FREE_SAMPLE);
      if (free6.length === 0) {
        throw new RuntimeError(`no free IPv6 subnet left in ${formatSubnet6(o.conf.ipv6.network)} (IPv6SubnetLen /${o.conf.ipv6.subnetLen}, ${leases.length} leases); widen the network or delete stale leases`);
      }
      pick = { ...pick, v6: free6[random(free6.length)] };
    }
    const got = await store.create(pick, value, ttl);
    if (got) return got;
    log(`weft: subnet ${formatSubnet(pick)} was taken by another host at the same moment; trying again`);
  }
  throw new RuntimeError(`could not take a subnet lease after ${MAX_TRIES} tries: other hosts keep taking the same subnets`);
}

/** True when `s` (both halves) is a subnet this configuration could have handed out. */
export function fits(conf: NetConf, s: Subnet): boolean {
  const v4 = conf.ipv4 === false
    ? !hasV4(s)
    : s.len === conf.subnetLen && contains(conf.network, s) && s.ip >= conf.subnetMin && s.ip <= conf.subnetMax;
  const c6 = conf.ipv6 ?? null, s6 = s.v6;
  const v6 = c6 === null
    ? s6 === undefined
    : s6 !== undefined && s6.len === c6.subnetLen && contains6(c6.network, s6) && s6.ip >= c6.subnetMin && s6.ip <= c6.subnetMax;
  return v4 && v6;
}

/** Up to `max` free subnets in [SubnetMin, SubnetMax], lowest first. */
export function freeSubnets(conf: NetConf, leases: StoredLease[], max: number): Subnet[] {
  // IPv6-only leases (0.0.0.0/0) hold no IPv4 subnet.
  const v4 = leases.filter((l) => hasV4(l.subnet));
  const taken = new Set(v4.filter((l) => l.subnet.len === conf.subnetLen).map((l) => subnetKey({ ip: l.subnet.ip, len: l.subnet.len })));
  const odd = v4.filter((l) => l.subnet.len !== conf.subnetLen).map((l) => l.subnet);
  const step = size4(conf.subnetLen);
  const out: Subnet[] = [];
  // Each step either finds a free subnet (at most `max`) or skips one held by
  // a lease, so the walk is bounded by max + the number of leases it meets
  // (an odd-sized lease can cover several steps; the range bounds those).
  for (let ip = conf.subnetMin; ip <= conf.subnetMax && out.length < max; ip += step) {
    const s: Subnet = { ip: (ip & mask4(conf.subnetLen)) >>> 0, len: conf.subnetLen };
    if (taken.has(subnetKey(s)) || odd.some((o) => overlaps(o, s))) continue;
    out.push(s);
  }
  return out;
}

/** Up to `max` free IPv6 subnets in [IPv6SubnetMin, IPv6SubnetMax], lowest first; bounded as freeSubnets is. */
export function freeSubnets6(c6: NonNullable<NetConf['ipv6']>, leases: StoredLease[], max: number): Subnet6[] {
  const held = leases.map((l) => l.subnet.v6).filter((x): x is Subnet6 => x !== undefined);
  const taken = new Set(held.filter((h) => h.len === c6.subnetLen).map((h) => h.ip));
  const odd = held.filter((h) => h.len !== c6.subnetLen);
  const step = size6(c6.subnetLen);
  const out: Subnet6[] = [];
  for (let ip = c6.subnetMin; ip <= c6.subnetMax && out.length < max; ip += step) {
    const s: Subnet6 = { ip: ip & mask6(c6.subnetLen), len: c6.subnetLen };
    if (taken.has(s.ip) || odd.some((h) => overlaps6(h, s))) continue;
    out.push(s);
  }
  return out;
}

/** When to renew: `marginMs` before expiry, never in the past. */
export function renewDelayMs(expiresMs: number, nowMs: number, marginMs = RENEW_MARGIN_MS): number {
  return Math.max(0, expiresMs - marginMs - nowMs);
}

/**
 * Renews our lease: rewrites it with a fresh TTL if it is still as we left
 * it. Resolves with the renewed lease, or null when it is gone or another
 * host holds the subnet now (the caller stops: a host must not keep using a
 * subnet it lost).
 */
export async function renewLease(store: LeaseStore, own: StoredLease, ttlMs = LEASE_TTL_MS): Promise<StoredLease | null> {
  const got = await store.update(own.subnet, own.value, ttlMs, own.revision);
  if (got) return got;
  // The revision moved: fine if it still holds our value (e.g. an operator re-put it).
  const cur = await store.get(own.subnet);
  if (!cur || !sameSubnet(cur.subnet, own.subnet) || cur.value !== own.value) return null;
  return store.update(own.subnet, own.value, ttlMs, cur.revision);
}
