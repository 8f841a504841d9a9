// 48-bit MAC addresses (IEEE 802 EUI-48) as numbers.
//
// Two number forms, for two kinds of caller:
//
// - The hot path reads a MAC as two small integers, `hi` (the first two
//   octets, 16 bits) and `lo` (the last four, unsigned 32 bits). The views in
//   ethernet.ts and arp.ts expose them as `dstHi()` / `dstLo()` and so on, and
//   nothing per packet ever builds a string or a Buffer.
// - Config, tables keyed by one value, and tests use the whole address as one
//   JS number, `hi * 2^32 + lo` (exact: 48 bits fit in a double's 53).
//
// Only `parseMac`, `formatMac` and `stableMac` allocate; they are for config
// and logs.

import { createHash } from 'node:crypto';

/** Octets in a MAC address. */
export const MAC_LEN = 6;
/** The broadcast address ff:ff:ff:ff:ff:ff as one number. */
export const MAC_BROADCAST = 0xffffffffffff;

const TWO_32 = 0x100000000;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** The first two octets at `off`, as a 16-bit number. */
export function macHiAt(buf: Buffer, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

/** The last four octets of the MAC at `off`, as an unsigned 32-bit number. */
export function macLoAt(buf: Buffer, off: number): number {
  return ((buf[off + 2] << 24) | (buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5]) >>> 0;
}

/** Writes a MAC given as `hi` (16 bits) and `lo` (32 bits) at `off`. */
export function writeMacHiLo(buf: Buffer, off: number, hi: number, lo: number): void {
  buf[off] = hi >>> 8; buf[off + 1] = hi;
  buf[off + 2] = lo >>> 24; buf[off + 3] = lo >>> 16; buf[off + 4] = lo >>> 8; buf[off + 5] = lo;
}

/** Copies the six octets at `from[fromOff]` to `buf[off]`; no allocation. */
export function copyMac(buf: Buffer, off: number, from: Buffer, fromOff: number): void {
  for (let i = 0; i < MAC_LEN; i++) buf[off + i] = from[fromOff + i];
}

/** The MAC at `off` as one 48-bit number (`hi * 2^32 + lo`). */
export function macAt(buf: Buffer, off: number): number {
  return macHiAt(buf, off) * TWO_32 + macLoAt(buf, off);
}

/** Writes a MAC given as one 48-bit number at `off`. */
export function writeMac(buf: Buffer, off: number, n: number): void {
  // `>>> 0` keeps the low 32 bits of any integer below 2^53.
  writeMacHiLo(buf, off, Math.floor(n / TWO_32), n >>> 0);
}

/**
 * 'aa:bb:cc:dd:ee:ff' (either case) to a 48-bit number. Only the colon form
 * with two digits per octet is accepted, so a config typo cannot be read as
 * some other address.
 */
export function parseMac(s: string): number {
  if (typeof s !== 'string' || !MAC_RE.test(s)) {
    throw new Error(`invalid MAC address ${JSON.stringify(s)}: expected six colon-separated hex octets, like 02:00:5e:10:00:01`);
  }
  return parseInt(s.replace(/:/g, ''), 16);
}

/** A 48-bit number to lower-case 'aa:bb:cc:dd:ee:ff'. */
export function formatMac(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > MAC_BROADCAST) {
    throw new RangeError(`not a 48-bit MAC address: ${n}`);
  }
  const h = n.toString(16).padStart(12, '0');
  return `${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}:${h.slice(10, 12)}`;
}

/** True when the IEEE 802 I/G bit (the least significant bit of the first octet) is set: multicast, broadcast included. */
export function isMulticastMac(n: number): boolean {
  return (Math.floor(n / 2 ** 40) & 1) === 1;
}

/**
 * A locally administered unicast MAC derived from `seed`, so a VTEP that
 * restarts with the same seed comes back with the same MAC and its peers'
 * ARP caches stay right.
 */
export function stableMac(seed: string): number {
  const h = createHash('sha256').update(seed).digest();
  // First octet 02: locally administered (bit 1), unicast (bit 0 clear).
  return 0x02 * 2 ** 40 + h.readUIntBE(0, 5);
}
