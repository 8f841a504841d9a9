// IPv4 subnets (address + prefix length) and their arithmetic, in the two
// spellings flannel uses: `10.244.1.0/24` in configs and subnet.env,
// `10.244.1.0-24` in store keys. Control-plane code only; the data path never
// sees these. The addresses themselves are parsed and printed by wire/ipv4.ts.
//
// A lease's subnet is a Subnet that may carry its IPv6 half in `v6`, as
// flannel's Lease carries Subnet and IPv6Subnet: the store key is then
// `10.244.5.0-24&fd00:244:0:5::-64`. An IPv6-only lease has flannel's empty
// IPv4 half, 0.0.0.0/0 (`0.0.0.0-0&fd00:244:0:5::-64`): `hasV4` tells.
// `contains` and `overlaps` look at the IPv4 half only; `leasesOverlap` at
// both.

import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';
import { formatSubnet6, overlaps6, parseSubnetKey6, sameSubnet6, subnetKey6, type Subnet6 } from './ip6.js';

export interface Subnet {
  /** The network address, host bits zero, as an unsigned 32-bit number. */
  readonly ip: number;
  /** Prefix length, 0–32. */
  readonly len: number;
  /** A lease's IPv6 half, when the network carries IPv6. */
  readonly v6?: Subnet6;
}

/** flannel's empty IPv4 subnet: the IPv4 half of an IPv6-only lease. */
export const NO_V4: Subnet = { ip: 0, len: 0 };

/** True when the subnet has an IPv4 half (not flannel's empty 0.0.0.0/0). */
export function hasV4(s: Subnet): boolean {
  return s.ip !== 0 || s.len !== 0;
}

/** The netmask of a prefix length as an unsigned number (len 0 → 0). */
export function mask4(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Number of addresses in a prefix of `len` bits. */
export function size4(len: number): number {
  return 2 ** (32 - len);
}

/**
 * 'A.B.C.D/N' → { ip, len, hostBits } where ip is the address as written and
 * hostBits tells whether any bit past the prefix is set; null if malformed.
 */
export function parseCidr4(s: string): { ip: number; len: number; hostBits: boolean } | null {
  const m = typeof s === 'string' ? /^([0-9.]+)\/(\d{1,2})$/.exec(s) : null;
  if (!m) return null;
  const ip = parseIpv4(m[1]);
  const len = Number(m[2]);
  if (ip === null || len > 32) return null;
  return { ip, len, hostBits: (ip & ~mask4(len)) >>> 0 !== 0 };
}

export function subnetOf(ip: number, len: number): Subnet {
  return { ip: (ip & mask4(len)) >>> 0, len };
}

/** `10.244.1.0/24`; with an IPv6 half `10.244.1.0/24 + fd00:244:0:1::/64`, IPv6-only `fd00:244:0:1::/64`. */
export function formatSubnet(s: Subnet): string {
  const t4 = `${numberToIpv4(s.ip)}/${s.len}`;
  if (!s.v6) return t4;
  return hasV4(s) ? `${t4} + ${formatSubnet6(s.v6)}` : formatSubnet6(s.v6);
}

/** flannel's store key for a subnet: `10.244.1.0-24`, `10.244.1.0-24&fd00:244:0:1::-64` with an IPv6 half. */
export function subnetKey(s: Subnet): string {
  const k4 = `${numberToIpv4(s.ip)}-${s.len}`;
  return s.v6 ? `${k4}&${subnetKey6(s.v6)}` : k4;
}

/** The inverse of subnetKey; null for anything else (host bits set included). */
export function parseSubnetKey(k: string): Subnet | null {
  const m = /^([0-9.]+)-(\d{1,2})(?:&([0-9a-f:]+-\d{1,3}))?$/.exec(k);
  if (!m) return null;
  const c = parseCidr4(`${m[1]}/${m[2]}`);
  if (!c || c.hostBits) return null;
  if (m[3] === undefined) return { ip: c.ip, len: c.len };
  const v6 = parseSubnetKey6(m[3]);
  return v6 ? { ip: c.ip, len: c.len, v6 } : null;
}

/** True when `inner` lies wholly inside `outer`. */
export function contains(outer: Subnet, inner: Subnet): boolean {
  return inner.len >= outer.len && ((inner.ip & mask4(outer.len)) >>> 0) === outer.ip;
}

/** True when the two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return contains(a, b) || contains(b, a);
}

/** Both halves equal. */
export function sameSubnet(a: Subnet, b: Subnet): boolean {
  return a.ip === b.ip && a.len === b.len && sameSubnet6(a.v6, b.v6);
}

/** True when two leases share an address in either family: they cannot both be held. */
export function leasesOverlap(a: Subnet, b: Subnet): boolean {
  return (hasV4(a) && hasV4(b) && overlaps(a, b)) || (a.v6 !== undefined && b.v6 !== undefined && overlaps6(a.v6, b.v6));
}

/**
 * True when the two leases cannot both be held: the same IPv4 subnet, or
 * overlapping IPv6 halves. For IPv4-only keys this is key equality, the
 * stores' create-if-absent; with IPv6 halves it is what keeps two hosts that
 * picked different IPv4 subnets from taking the same IPv6 one.
 */
export function sharesHalf(a: Subnet, b: Subnet): boolean {
  return (hasV4(a) && hasV4(b) && a.ip === b.ip && a.len === b.len) || (a.v6 !== undefined && b.v6 !== undefined && overlaps6(a.v6, b.v6));
}
