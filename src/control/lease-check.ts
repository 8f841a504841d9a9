// A lease is input like any other. The store is shared by every host and
// by every operator's tooling, so what it holds can be wrong: a typo, a
// half-written script, a host that lies. Before a remote lease touches the
// host (a route, a neighbour entry) or the data path (a forwarding entry, the
// source allow-list), it passes `checkLease`, whatever the backend. The
// tracker (reconcile.ts) calls it in one place; what it refuses is logged
// once, counted as weft_leases_refused{reason="invalid"}, listed by `weft
// peers`, and taken as soon as a later write makes it right.
//
// The rules, in the order they are checked:
//   - the key is a subnet of the network with the network's SubnetLen, and
//     its IPv6 half one of the IPv6 network with IPv6SubnetLen, for each
//     family the network carries (the store already refused keys that are no
//     subnet at all);
//   - the value is at most LEASE_VALUE_MAX bytes (flannel's are ~150), then
//     a JSON object with the right types: PublicIP a string, BackendType a
//     string, BackendData an object, VNI a whole number, VtepMAC a string;
//   - BackendType is the network's (a udp network's leases may leave it out,
//     as flanneld's do);
//   - PublicIP (IPv4 side) and PublicIPv6 (IPv6 side) are unicast addresses: not
//     unspecified, loopback, multicast, broadcast or reserved, and not ours;
//   - for vxlan: BackendData (IPv4 side) and BackendV6Data (IPv6 side) each
//     have a VtepMAC that is a unicast, non-zero MAC not ours, and the
//     network's VNI (absent: 1, as flannel reads it).
// Pure: no I/O, no clock; a reason is one line, with at most SHOWN_MAX
// characters of the offending value.

import { isIP } from 'node:net';
import { MAC_BROADCAST, formatMac, isMulticastMac, parseMac } from '../wire/mac.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';
import { ipv6ToBytes } from '../wire/ipv6.js';
import { contains, formatSubnet, hasV4, type Subnet } from './ip4.js';
import { contains6, formatIpv6, formatSubnet6, parseIpv6, type Subnet6 } from './ip6.js';

/** The largest lease value taken, in bytes: flannel's are about 150, with IPv6 about 300. */
export const LEASE_VALUE_MAX = 4096;
/** How much of a bad value a reason quotes. */
const SHOWN_MAX = 48;

export interface LeaseCheckContext {
  /** Our IPv4 network; flannel's empty 0.0.0.0/0 when the network is IPv6-only. */
  network: Subnet;
  subnetLen: number;
  /** Our IPv6 network and IPv6SubnetLen, when the network carries IPv6. */
  network6?: Subnet6 | null;
  subnetLen6?: number;
  /** The network's Backend.Type. */
  backendType: string;
  vni: number;
  /** Our own underlay addresses (public IP, bound address): a lease naming one is refused. */
  ownIps: readonly string[];
  /** Our VTEP MAC, or null when there is none to compare. */
  ownMac: number | null;
}

/** What a lease says, checked. */
export interface CheckedLease {
  /** Each side only when the key and our network both carry its family. */
  publicIp: string | null;
  publicIpv6: string | null;
  backendType: string;
  /** vxlan only; null for other backends. */
  vni: number | null;
  vtepMac: number | null;
  vtepMac6: number | null;
}

/** A value as a reason quotes it: JSON, one line, cut at SHOWN_MAX characters. */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > SHOWN_MAX ? `${s.slice(0, SHOWN_MAX)}…` : s;
}

/** Why an IPv4 address cannot be a host's underlay address, or null when it can. */
function badIpv4(n: number): string | null {
  const top = n >>> 24;
  if (top === 0) return 'unspecified';
  if (top === 127) return 'loopback';
  if (n === 0xffffffff) return 'broadcast';
  if (top >= 224 && top < 240) return 'multicast';
  if (top >= 240) return 'reserved';
  return null;
}

function badIpv6(b: Buffer): string | null {
  if (b[0] === 0xff) return 'multicast';
  let zero = true;
  for (let i = 0; i < 15; i++) if (b[i] !== 0) zero = false;
  if (zero && b[15] === 0) return 'unspecified';
  if (zero && b[15] === 1) return 'loopback';
  return null;
}

/** A vxlan BackendData / BackendV6Data side: its VNI and VtepMAC, checked. */
function backendSide(r: Record<string, unknown>, key: 'BackendData' | 'BackendV6Data', ctx: LeaseCheckContext): { vni: number; mac: number } | string {
  const bd = r[key];
  if (bd === undefined || bd === null) return `${key} is missing`;
  if (typeof bd !== 'object' || Array.isArray(bd)) return `${key} ${shown(bd)} is not a JSON object`;
  const d = bd as Record<string, unknown>;
  const vni = d.VNI === undefined ? 1 : d.VNI;
  if (typeof vni !== 'number' || !Number.isInteger(vni)) return `${key}.VNI ${shown(d.VNI)} is not a whole number`;
  if (vni !== ctx.vni) return `${key}.VNI ${vni}; the network's is ${ctx.vni}`;
  if (typeof d.VtepMAC !== 'string') return `${key}.VtepMAC ${shown(d.VtepMAC)} is not a string`;
  let mac: number;
  try {
    mac = parseMac(d.VtepMAC);
  } catch {
    return `${key}.VtepMAC ${shown(d.VtepMAC)} is not a MAC address`;
  }
  if (mac === 0) return `${key}.VtepMAC ${formatMac(mac)} is all zeros`;
  if (isMulticastMac(mac)) return `${key}.VtepMAC ${formatMac(mac)} is ${mac === MAC_BROADCAST ? 'broadcast' : 'multicast'}`;
  if (mac === ctx.ownMac) return `${key}.VtepMAC ${formatMac(mac)} is ours`;
  return { vni, mac };
}

/** Which of the network's families the key carries, or why it fits none. */
function keyFamilies(subnet: Subnet, ctx: LeaseCheckContext): { v4: boolean; v6: boolean } | string {
  const v4 = hasV4(ctx.network) && hasV4(subnet);
  const v6 = ctx.network6 != null && subnet.v6 !== undefined;
  if (!v4 && !v6) return 'the subnet carries no family of the network';
  if (v4 && subnet.len !== ctx.subnetLen) return `the subnet is a /${subnet.len}; the network's SubnetLen is ${ctx.subnetLen}`;
  if (v4 && !contains(ctx.network, subnet)) return `the subnet is outside the network ${formatSubnet(ctx.network)}`;
  if (v6 && subnet.v6!.len !== ctx.subnetLen6) return `the IPv6 subnet is a /${subnet.v6!.len}; the network's IPv6SubnetLen is ${ctx.subnetLen6}`;
  if (v6 && !contains6(ctx.network6!, subnet.v6!)) return `the IPv6 subnet is outside the network ${formatSubnet6(ctx.network6!)}`;
  return { v4, v6 };
}

/**
 * The lease's content as weft may use it, or the reason it is refused (one
 * line). Only the families both the key and our network carry are checked
 * and returned: an IPv6-only lease's PublicIP is flannel's "0.0.0.0".
 */
export function checkLease(subnet: Subnet, value: string, ctx: LeaseCheckContext): CheckedLease | string {
  const fam = keyFamilies(subnet, ctx);
  if (typeof fam === 'string') return fam;
  const bytes = Buffer.byteLength(value);
  if (bytes > LEASE_VALUE_MAX) return `the value is ${bytes} bytes, more than ${LEASE_VALUE_MAX}`;
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch {
    return 'the value is not JSON';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'the value is not a JSON object';
  const r = o as Record<string, unknown>;

  // flanneld's udp backend leaves BackendType empty, so Go omits it (lease.ts): absent or "" is udp's.
  const backendType = ctx.backendType === 'udp' && (r.BackendType === undefined || r.BackendType === '') ? 'udp' : r.BackendType;
  if (typeof backendType !== 'string') return `BackendType ${shown(r.BackendType)} is not a string`;
  if (backendType !== ctx.backendType) return `BackendType ${shown(r.BackendType)}; the network's is "${ctx.backendType}"`;

  let publicIp: string | null = null;
  if (fam.v4) {
    if (typeof r.PublicIP !== 'string') return `PublicIP ${shown(r.PublicIP)} is not a string`;
    const v4 = parseIpv4(r.PublicIP);
    if (v4 === null) return `PublicIP ${shown(r.PublicIP)} is not an IPv4 address`;
    const bad4 = badIpv4(v4);
    if (bad4) return `PublicIP ${numberToIpv4(v4)} is ${bad4}`;
    if (ctx.ownIps.map(parseIpv4).includes(v4)) return `PublicIP ${numberToIpv4(v4)} is ours`;
    publicIp = numberToIpv4(v4);
  }

  // PublicIPv6 is checked whenever it is there (a bad one says the writer is
  // wrong), but used only when the key and the network carry IPv6.
  let publicIpv6: string | null = null;
  const has6 = r.PublicIPv6 !== undefined && r.PublicIPv6 !== null;
  if (fam.v6 || has6) {
    if (typeof r.PublicIPv6 !== 'string' || isIP(r.PublicIPv6) !== 6) return `PublicIPv6 ${shown(r.PublicIPv6)} is not an IPv6 address`;
    const b = ipv6ToBytes(r.PublicIPv6);
    const bad6 = badIpv6(b);
    if (bad6) return `PublicIPv6 ${r.PublicIPv6} is ${bad6}`;
    if (ctx.ownIps.some((ip) => isIP(ip) === 6 && ipv6ToBytes(ip).equals(b))) return `PublicIPv6 ${r.PublicIPv6} is ours`;
    if (fam.v6) publicIpv6 = formatIpv6(parseIpv6(r.PublicIPv6)!);
  }

  const base = { publicIp, publicIpv6, backendType };
  if (backendType !== 'vxlan') return { ...base, vni: null, vtepMac: null, vtepMac6: null };
  const d4 = fam.v4 ? backendSide(r, 'BackendData', ctx) : null;
  if (typeof d4 === 'string') return d4;
  const d6 = fam.v6 ? backendSide(r, 'BackendV6Data', ctx) : null;
  if (typeof d6 === 'string') return d6;
  return { ...base, vni: ctx.vni, vtepMac: d4?.mac ?? null, vtepMac6: d6?.mac ?? null };
}
