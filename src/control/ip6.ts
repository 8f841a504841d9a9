// IPv6 subnets (address + prefix length) and their arithmetic, for the
// IPv6 half of a dual-stack or IPv6-only lease: `fd00:244:0:5::/64` in
// configs and subnet.env, `fd00:244:0:5::-64` in store keys (flannel's
// spellings). Addresses are 128-bit BigInts: control-plane code only, the
// data path never sees these. Text forms are wire/ipv6.ts's (RFC 5952, the
// form Go's net.IP prints, so keys match flanneld's byte for byte).

import { isIPv6 } from 'node:net';
import { bytesToIpv6, ipv6ToBytes } from '../wire/ipv6.js';

export interface Subnet6 {
  /** The network address, host bits zero. */
  readonly ip: bigint;
  /** Prefix length, 0–128. */
  readonly len: number;
}

const ALL = (1n << 128n) - 1n;

export function mask6(len: number): bigint {
  return len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL;
}

export function size6(len: number): bigint {
  return 1n << BigInt(128 - len);
}

/** IPv6 text → 128-bit number; null if it is not an IPv6 address (IPv4-mapped forms included: those are IPv4). */
export function parseIpv6(s: string): bigint | null {
  if (typeof s !== 'string' || !isIPv6(s) || s.includes('%') || s.includes('.')) return null;
  const b = ipv6ToBytes(s);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

export function formatIpv6(v: bigint): string {
  const b = Buffer.alloc(16);
  for (let i = 15; i >= 0; i--) { b[i] = Number(v & 0xffn); v >>= 8n; }
  return bytesToIpv6(b, 0);
}

/** 'fd00:244::/48' → { ip, len, hostBits }; null if malformed. */
export function parseCidr6(s: string): { ip: bigint; len: number; hostBits: boolean } | null {
  const m = typeof s === 'string' ? /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(s) : null;
  if (!m) return null;
  const ip = parseIpv6(m[1]);
  const len = Number(m[2]);
  if (ip === null || len > 128) return null;
  return { ip, len, hostBits: (ip & ~mask6(len) & ALL) !== 0n };
}

export function formatSubnet6(s: Subnet6): string {
  return `${formatIpv6(s.ip)}/${s.len}`;
}

/** flannel's key spelling: `fd00:244:0:5::-64`. */
export function subnetKey6(s: Subnet6): string {
  return `${formatIpv6(s.ip)}-${s.len}`;
}

export function parseSubnetKey6(k: string): Subnet6 | null {
  const m = /^([0-9a-f:]+)-(\d{1,3})$/.exec(k);
  const c = m ? parseCidr6(`${m[1]}/${m[2]}`) : null;
  return c && !c.hostBits ? { ip: c.ip, len: c.len } : null;
}

export function contains6(outer: Subnet6, inner: Subnet6): boolean {
  return inner.len >= outer.len && (inner.ip & mask6(outer.len)) === outer.ip;
}

export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  return contains6(a, b) || contains6(b, a);
}

export function sameSubnet6(a: Subnet6 | null | undefined, b: Subnet6 | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.ip === b.ip && a.len === b.len;
}
