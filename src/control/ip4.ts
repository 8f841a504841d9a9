// IPv4 subnets (address + prefix length) and their arithmetic, in the two
// spellings flannel uses: `10.244.1.0/24` in configs and subnet.env,
// `10.244.1.0-24` in store keys. Control-plane code only; the data path never
// sees these. The addresses themselves are parsed and printed by wire/ipv4.ts.

import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';

export interface Subnet {
  /** The network address, host bits zero, as an unsigned 32-bit number. */
  readonly ip: number;
  /** Prefix length, 0–32. */
  readonly len: number;
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

export function formatSubnet(s: Subnet): string {
  return `${numberToIpv4(s.ip)}/${s.len}`;
}

/** flannel's store key for a subnet: `10.244.1.0-24`. */
export function subnetKey(s: Subnet): string {
  return `${numberToIpv4(s.ip)}-${s.len}`;
}

/** The inverse of subnetKey; null for anything else (host bits set included). */
export function parseSubnetKey(k: string): Subnet | null {
  const m = /^([0-9.]+)-(\d{1,2})$/.exec(k);
  if (!m) return null;
  const c = parseCidr4(`${m[1]}/${m[2]}`);
  return c && !c.hostBits ? { ip: c.ip, len: c.len } : null;
}

/** True when `inner` lies wholly inside `outer`. */
export function contains(outer: Subnet, inner: Subnet): boolean {
  return inner.len >= outer.len && ((inner.ip & mask4(outer.len)) >>> 0) === outer.ip;
}

/** True when the two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return contains(a, b) || contains(b, a);
}

export function sameSubnet(a: Subnet, b: Subnet): boolean {
  return a.ip === b.ip && a.len === b.len;
}
