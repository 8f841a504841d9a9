// Small builders for test packets: readable rows in table-driven tests.

import { parseMac, writeMac } from '../../src/wire/mac.js';

export const MAC_A = '02:00:0a:f4:01:01';
export const MAC_B = '02:00:0a:f4:02:01';
export const MAC_C = '02:00:0a:f4:03:01';
export const BCAST = 'ff:ff:ff:ff:ff:ff';

export interface EthSpec { dst?: string; src?: string; type?: number; vlan?: number; payload?: Buffer | number }

/** An Ethernet frame: dst, src, optional 802.1Q tag, type, payload (bytes or a length of filler). */
export function eth(spec: EthSpec = {}): Buffer {
  const payload = typeof spec.payload === 'number' ? Buffer.alloc(spec.payload, 0xab)
    : spec.payload ?? Buffer.alloc(46, 0xab);
  const hdr = spec.vlan !== undefined ? 18 : 14;
  const b = Buffer.alloc(hdr + payload.length);
  writeMac(b, 0, parseMac(spec.dst ?? MAC_B));
  writeMac(b, 6, parseMac(spec.src ?? MAC_A));
  if (spec.vlan !== undefined) {
    b.writeUInt16BE(0x8100, 12);
    b.writeUInt16BE(spec.vlan, 14);
    b.writeUInt16BE(spec.type ?? 0x0800, 16);
  } else {
    b.writeUInt16BE(spec.type ?? 0x0800, 12);
  }
  payload.copy(b, hdr);
  return b;
}

export interface VxlanSpec { flags?: number; vni?: number; r1?: number; r2?: number }

/** A VXLAN datagram payload: the 8-byte header then the frame. */
export function vxlan(frame: Buffer, spec: VxlanSpec = {}): Buffer {
  const h = Buffer.alloc(8);
  h[0] = spec.flags ?? 0x08;
  h.writeUIntBE(spec.r1 ?? 0, 1, 3);
  h.writeUIntBE(spec.vni ?? 1, 4, 3);
  h[7] = spec.r2 ?? 0;
  return Buffer.concat([h, frame]);
}

/** IPv4 as the four words the data path keys peers on (IPv4-mapped IPv6). */
export function v4words(ip: string): [number, number, number, number] {
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  return [0, 0, 0xffff, n];
}

/** A deterministic PRNG (mulberry32) so randomized tests replay the same way. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
