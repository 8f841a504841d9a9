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
//   - the key is a subnet of the network with the network's SubnetLen (the
//     store already refused keys that are no subnet at all);
//   - the value is at most LEASE_VALUE_MAX bytes (flannel's are ~150), then
//     a JSON object with the right types: PublicIP a string, BackendType a
//     string, BackendData an object, VNI a whole number, VtepMAC a string;
//   - BackendType is the network's;
//   - PublicIP (and PublicIPv6 when present) is a unicast address: not
//     unspecified, loopback, multicast, broadcast or reserved, and not ours;
//   - for vxlan: VtepMAC is a unicast, non-zero MAC that is not ours, and the
//     VNI is the network's (absent: 1, as flannel reads it).
// Pure: no I/O, no clock; a reason is one line, with at most SHOWN_MAX
// characters of the offending value.

import { isIP } from 'node:net';
import { MAC_BROADCAST, formatMac, isMulticastMac, parseMac } from '../wire/mac.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';
import { ipv6ToBytes } from '../wire/ipv6.js';
import { contains, formatSubnet, type Subnet } from './ip4.js';

/** The largest lease value taken, in bytes: flannel's are about 150, with IPv6 about 300. */
export const LEASE_VALUE_MAX = 4096;
/** How much of a bad value a reason quotes. */
const SHOWN_MAX = 48;

export interface LeaseCheckContext {
  network: Subnet;
  subnetLen: number;
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
  publicIp: string;
  publicIpv6: string | null;
  backendType: string;
  /** vxlan only; null for other backends. */
  vni: number | null;
  vtepMac: number | null;
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

/** The lease's content as weft may use it, or the reason it is refused (one line). */
export function checkLease(subnet: Subnet, value: string, ctx: LeaseCheckContext): CheckedLease | string {
  if (subnet.len !== ctx.subnetLen) return `the subnet is a /${subnet.len}; the network's SubnetLen is ${ctx.subnetLen}`;
  if (!contains(ctx.network, subnet)) return `the subnet is outside the network ${formatSubnet(ctx.network)}`;
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

  if (typeof r.BackendType !== 'string') return `BackendType ${shown(r.BackendType)} is not a string`;
  if (r.BackendType !== ctx.backendType) return `BackendType ${shown(r.BackendType)}; the network's is "${ctx.backendType}"`;

  if (typeof r.PublicIP !== 'string') return `PublicIP ${shown(r.PublicIP)} is not a string`;
  const v4 = parseIpv4(r.PublicIP);
  if (v4 === null) return `PublicIP ${shown(r.PublicIP)} is not an IPv4 address`;
  const bad4 = badIpv4(v4);
  if (bad4) return `PublicIP ${numberToIpv4(v4)} is ${bad4}`;
  const ownV4 = ctx.ownIps.map(parseIpv4);
  if (ownV4.includes(v4)) return `PublicIP ${numberToIpv4(v4)} is ours`;

  let publicIpv6: string | null = null;
  if (r.PublicIPv6 !== undefined && r.PublicIPv6 !== null) {
    if (typeof r.PublicIPv6 !== 'string' || isIP(r.PublicIPv6) !== 6) return `PublicIPv6 ${shown(r.PublicIPv6)} is not an IPv6 address`;
    const b = ipv6ToBytes(r.PublicIPv6);
    const bad6 = badIpv6(b);
    if (bad6) return `PublicIPv6 ${r.PublicIPv6} is ${bad6}`;
    if (ctx.ownIps.some((ip) => isIP(ip) === 6 && ipv6ToBytes(ip).equals(b))) return `PublicIPv6 ${r.PublicIPv6} is ours`;
    publicIpv6 = r.PublicIPv6;
  }

  const base = { publicIp: numberToIpv4(v4), publicIpv6, backendType: r.BackendType };
  if (r.BackendType !== 'vxlan') return { ...base, vni: null, vtepMac: null };

  const bd = r.BackendData;
  if (bd === undefined) return 'BackendData is missing';
  if (typeof bd !== 'object' || bd === null || Array.isArray(bd)) return `BackendData ${shown(bd)} is not a JSON object`;
  const d = bd as Record<string, unknown>;
  const vni = d.VNI === undefined ? 1 : d.VNI;
  if (typeof vni !== 'number' || !Number.isInteger(vni)) return `BackendData.VNI ${shown(d.VNI)} is not a whole number`;
  if (vni !== ctx.vni) return `BackendData.VNI ${vni}; the network's is ${ctx.vni}`;
  if (typeof d.VtepMAC !== 'string') return `BackendData.VtepMAC ${shown(d.VtepMAC)} is not a string`;
  let mac: number;
  try {
    mac = parseMac(d.VtepMAC);
  } catch {
    return `BackendData.VtepMAC ${shown(d.VtepMAC)} is not a MAC address`;
  }
  if (mac === 0) return `BackendData.VtepMAC ${formatMac(mac)} is all zeros`;
  if (isMulticastMac(mac)) return `BackendData.VtepMAC ${formatMac(mac)} is ${mac === MAC_BROADCAST ? 'broadcast' : 'multicast'}`;
  if (mac === ctx.ownMac) return `BackendData.VtepMAC ${formatMac(mac)} is ours`;
  return { ...base, vni, vtepMac: mac };
}
