// What the fuzz campaign (fuzz.ts) feeds weft: a seeded PRNG, packet
// templates with a map of their header fields, the mutations, and TAP reads
// (virtio-net header and frame) built from them.
//
// Templates are well-formed packets (packets.ts builds them with valid
// lengths and checksums); `fields` lists every header field of every layer,
// so that a mutation aimed at "a header field" hits each field as often as
// any other, however small, and the payload is not where most flips land.

import { parseMac, writeMac } from '../../src/wire/mac.js';
import {
  ether, ipv4, ipv6, udpHdr, tcp4, tcp6, udp4, udp6, icmp4Echo, icmp6Ns, arpRequest, vxlanPayload, fillL4Checksum,
} from './packets.js';
import { rng } from './rng.js';
import {
  VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_GSO_ECN, vnetFlags, vnetGsoType, vnetGsoEcn, vnetHdrLen, vnetGsoSize, vnetCsumStart, vnetCsumOffset, writeVnet,
} from '../../src/io/vnet.js';
import { TAP_MAX_FRAME } from '../../src/io/tap-read.js';
import { sum16, fold, pseudoSumV4 } from '../../src/wire/checksum.js';

/** The VTEP under test: its MAC, its address, a peer pinned by a static entry, the two VNIs it carries. */
export const OWN_MAC = '02:00:0a:f4:0f:0f';
export const LOCAL_IP = '198.18.0.1';
export const PEER_MAC = '02:00:0a:f4:0e:0e';
export const PEER_IP = '198.18.0.2';
export const VNI_A = 1;
export const VNI_B = 4242;

// ---------------------------------------------------------------------------
// Randomness.

export class Rand {
  private readonly f: () => number;
  constructor(seed: number) { this.f = rng(seed); }
  float(): number { return this.f(); }
  /** 0 … n-1. */
  int(n: number): number { return Math.floor(this.f() * n); }
  chance(p: number): boolean { return this.f() < p; }
  pick<T>(a: readonly T[]): T { return a[Math.floor(this.f() * a.length)]; }
  u32(): number { return (this.f() * 4294967296) >>> 0; }
  fill(b: Buffer, off: number, len: number): void {
    const end = off + len;
    for (let i = off; i < end; i += 4) {
      const v = this.u32();
      b[i] = v; if (i + 1 < end) b[i + 1] = v >>> 8;
      if (i + 2 < end) b[i + 2] = v >>> 16;
      if (i + 3 < end) b[i + 3] = v >>> 24;
    }
  }
  /** A length skewed to small values, up to `max`. */
  len(max: number): number {
    const x = this.f();
    const n = x < 0.5 ? this.int(64) : x < 0.8 ? this.int(1600) : x < 0.95 ? this.int(9100) : this.int(max + 1);
    return Math.min(n, max);
  }
}

// ---------------------------------------------------------------------------
// Templates and where their header fields are.

export interface Template {
  name: string;
  bytes: Buffer;
  /** Header fields as (offset, length) pairs, for aimed mutations. */
  fields: number[];
  /** 16-bit length fields (IPv4 total length, IPv6 payload length, UDP length). */
  lenFields: number[];
}

/**
 * Collects the header fields of the Ethernet frame at `off` (`end` its end),
 * recursing into VXLAN inside UDP to 8472/4789, up to `depth` levels.
 */
function fieldsOf(b: Buffer, off: number, end: number, fields: number[], lens: number[], depth: number): void {
  if (off + 14 > end) return;
  fields.push(off, 6, off + 6, 6, off + 12, 2);
  let o = off + 12;
  let type = b.readUInt16BE(o);
  while ((type === 0x8100 || type === 0x88a8) && o + 6 <= end) {
    fields.push(o + 2, 2, o + 4, 2);
    o += 4;
    type = b.readUInt16BE(o);
  }
  const l3 = o + 2;
  let l4 = -1, proto = -1;
  if (type === 0x0800 && l3 + 20 <= end) {
    fields.push(l3, 1, l3 + 1, 1, l3 + 2, 2, l3 + 4, 2, l3 + 6, 2, l3 + 8, 1, l3 + 9, 1, l3 + 10, 2, l3 + 12, 4, l3 + 16, 4);
    lens.push(l3 + 2);
    const ihl = (b[l3] & 15) * 4;
    if (ihl > 20) fields.push(l3 + 20, ihl - 20);
    l4 = l3 + ihl; proto = b[l3 + 9];
  } else if (type === 0x86dd && l3 + 40 <= end) {
    fields.push(l3, 4, l3 + 4, 2, l3 + 6, 1, l3 + 7, 1, l3 + 8, 16, l3 + 24, 16);
    lens.push(l3 + 4);
    l4 = l3 + 40; proto = b[l3 + 6];
  } else if (type === 0x0806 && l3 + 28 <= end) {
    fields.push(l3, 2, l3 + 2, 2, l3 + 4, 1, l3 + 5, 1, l3 + 6, 2, l3 + 8, 6, l3 + 14, 4, l3 + 18, 6, l3 + 24, 4);
  }
  if (l4 < 0) return;
  if (proto === 17 && l4 + 8 <= end) {
    fields.push(l4, 2, l4 + 2, 2, l4 + 4, 2, l4 + 6, 2);
    lens.push(l4 + 4);
    const dport = b.readUInt16BE(l4 + 2);
    if ((dport === 8472 || dport === 4789) && depth > 0 && l4 + 16 <= end) {
      const vx = l4 + 8;
      fields.push(vx, 1, vx + 1, 3, vx + 4, 3, vx + 7, 1);
      fieldsOf(b, vx + 8, end, fields, lens, depth - 1);
    }
  } else if (proto === 6 && l4 + 20 <= end) {
    fields.push(l4, 2, l4 + 2, 2, l4 + 4, 4, l4 + 8, 4, l4 + 12, 1, l4 + 13, 1, l4 + 14, 2, l4 + 16, 2, l4 + 18, 2);
    const thl = (b[l4 + 12] >>> 4) * 4;
    if (thl > 20 && l4 + thl <= end) fields.push(l4 + 20, thl - 20);
  } else if ((proto === 1 || proto === 58) && l4 + 4 <= end) {
    fields.push(l4, 1, l4 + 1, 1, l4 + 2, 2);
  }
}

export function template(name: string, bytes: Buffer, vxlanFirst = false): Template {
  const fields: number[] = [];
  const lens: number[] = [];
  if (vxlanFirst) {
    fields.push(0, 1, 1, 3, 4, 3, 7, 1);
    fieldsOf(bytes, 8, bytes.length, fields, lens, 2);
  } else {
    fieldsOf(bytes, 0, bytes.length, fields, lens, 3);
  }
  return { name, bytes, fields, lenFields: lens };
}

export const fill = (n: number, v = 0x5a): Buffer => Buffer.alloc(n, v);
const A = '02:00:0a:f4:01:01', B = '02:00:0a:f4:02:01';

/** Inner Ethernet frames: what travels inside VXLAN, and what the TAP hands weft. */
export function innerFrames(): Template[] {
  const nested = (port: number, inner: Buffer) => udp4(40000, port, vxlanPayload(7, inner), { src: '10.244.0.2', dst: '10.244.0.1' });
  const t: [string, Buffer][] = [
    ['arp', ether(0x0806, arpRequest(A, '10.244.0.2', '10.244.0.1'), { dst: 'ff:ff:ff:ff:ff:ff', src: A })],
    ['icmp4', ether(0x0800, icmp4Echo(56, { df: true }))],
    ['tcp4', ether(0x0800, tcp4(40000, 5201, fill(100), { flags: 0x18 }))],
    ['tcp4-options', ether(0x0800, tcp4(40000, 5201, fill(60), { options: Buffer.from('0101080a0000000100000002', 'hex') }, { options: Buffer.from('01010100', 'hex') }))],
    ['udp4', ether(0x0800, udp4(40001, 53, fill(200)))],
    ['udp4-partial', ether(0x0800, udp4(40001, 5201, fill(300), {}, 'partial'))],
    ['udp4-zero-csum', ether(0x0800, udp4(40001, 5201, fill(30), {}, 'zero'))],
    ['tcp4-partial', ether(0x0800, tcp4(40002, 22, fill(500), {}, {}, 'partial'))],
    ['fragment', ether(0x0800, ipv4(17, udpHdr(1, 2, fill(64)), { mf: true }))],
    ['tcp6', ether(0x86dd, tcp6(40003, 443, fill(120)))],
    ['tcp6-partial', ether(0x86dd, tcp6(40003, 443, fill(800), {}, 'partial'))],
    ['udp6', ether(0x86dd, udp6(40004, 4789, fill(90)))],
    ['icmp6-ns', ether(0x86dd, icmp6Ns(), { dst: '33:33:ff:00:00:01' })],
    ['vlan', ether(0x0800, udp4(40005, 53, fill(80)), { tags: [[0x8100, 100]] })],
    ['vlan-partial', ether(0x0800, tcp4(40005, 80, fill(400), {}, {}, 'partial'), { tags: [[0x8100, 0x2064]] })],
    ['qinq', ether(0x86dd, udp6(40006, 53, fill(70)), { tags: [[0x88a8, 10], [0x8100, 20]] })],
    ['nested-vxlan', ether(0x0800, nested(8472, ether(0x0800, icmp4Echo(32), { dst: B, src: A })))],
    ['nested-vxlan-2', ether(0x0800, nested(4789, ether(0x0800, nested(8472, ether(0x0806, arpRequest(B, '10.0.0.1', '10.0.0.2'))))))],
    ['min-60', ether(0x0800, ipv4(253, fill(26)))],
    ['runt-14', ether(0x88b5, Buffer.alloc(0))],
    ['mtu-1514', ether(0x0800, tcp4(40007, 5201, fill(1460)))],
    ['jumbo-9014', ether(0x0800, udp4(40008, 5201, fill(9000 - 28)))],
    ['huge-65k', ether(0x0800, udp4(40009, 5201, fill(65507 - 8 - 14 - 28)))],
  ];
  return t.map(([n, b]) => template(n, b));
}

/** Whole underlay frames: Ethernet/IP/UDP to the VXLAN port, then VXLAN, then an inner frame. */
export function outerFrames(): Template[] {
  const inner = ether(0x0800, icmp4Echo(56), { dst: OWN_MAC, src: B });
  const tagged = ether(0x0800, tcp4(1, 2, fill(40)), { tags: [[0x8100, 5]] });
  const o4 = (port: number, vni: number, f: Buffer, mode: 'valid' | 'partial' | 'zero' = 'valid') =>
    ether(0x0800, fillL4Checksum(ipv4(17, udpHdr(51000, port, vxlanPayload(vni, f)), { src: PEER_IP, dst: LOCAL_IP, df: true }), mode));
  const o6 = (port: number, vni: number, f: Buffer) =>
    ether(0x86dd, fillL4Checksum(ipv6(17, udpHdr(51001, port, vxlanPayload(vni, f)), { src: 'fd00:198:18::2', dst: 'fd00:198:18::1' })));
  const t: [string, Buffer][] = [
    ['outer4', o4(8472, VNI_A, inner)],
    ['outer4-partial', o4(8472, VNI_A, inner, 'partial')],
    ['outer4-zero', o4(8472, VNI_A, tagged, 'zero')],
    ['outer4-vni-b', o4(8472, VNI_B, tagged)],
    ['outer6', o6(8472, VNI_A, inner)],
    ['outer4-vlan', ether(0x0800, fillL4Checksum(ipv4(17, udpHdr(51002, 8472, vxlanPayload(VNI_A, inner)), { src: '198.18.0.9', dst: LOCAL_IP })), { tags: [[0x8100, 7]] })],
    ['outer4-jumbo', o4(8472, VNI_A, ether(0x0800, udp4(1, 2, fill(8900)), { dst: OWN_MAC, src: B }))],
  ];
  return t.map(([n, b]) => template(n, b));
}

// ---------------------------------------------------------------------------
// Mutations.

/** Source MACs: a pool of unicast ones (the table fills), and the special ones. */
export class Macs {
  readonly pool: Buffer;
  readonly n: number;
  private static readonly SPECIAL = [OWN_MAC, PEER_MAC, '01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '33:33:00:00:00:01'].map(parseMac);
  constructor(r: Rand, n: number) {
    this.n = n;
    this.pool = Buffer.alloc(n * 6);
    r.fill(this.pool, 0, n * 6);
    for (let i = 0; i < n; i++) this.pool[i * 6] = (this.pool[i * 6] & 0xfc) | 0x02; // unicast, locally administered
  }
  /** Writes a source or destination MAC: usually from the pool, sometimes a special one. */
  write(r: Rand, b: Buffer, off: number): void {
    if (r.chance(0.04)) { writeMac(b, off, r.pick(Macs.SPECIAL)); return; }
    this.writePooled(r, b, off);
  }
  writePooled(r: Rand, b: Buffer, off: number): void {
    const k = r.int(this.n) * 6;
    this.pool.copy(b, off, k, k + 6);
  }
}

/**
 * 1–4 mutations of the packet at b[at, at+len) whose layout is `t` shifted
 * by `shift` bytes (the VXLAN header before a frame template). Returns the
 * new length, at most `max`.
 */
export function mutate(r: Rand, b: Buffer, at: number, len: number, max: number, t: Template, shift: number): number {
  const n = 1 + r.int(4);
  for (let k = 0; k < n; k++) {
    const op = r.int(10);
    if (op === 0) {
      // Truncate, often at a field boundary.
      if (r.chance(0.5) && t.fields.length) {
        const f = r.int(t.fields.length / 2) * 2;
        len = Math.min(len, Math.max(0, shift + t.fields[f] + r.int(t.fields[f + 1] + 2) - 1));
      } else {
        len = r.int(len + 1);
      }
    } else if (op <= 3 && t.fields.length) {
      // Bit flips in one header field.
      const f = r.int(t.fields.length / 2) * 2;
      const flips = 1 + r.int(3);
      for (let j = 0; j < flips; j++) {
        const o = shift + t.fields[f] + r.int(t.fields[f + 1]);
        if (o < len) b[at + o] ^= 1 << r.int(8);
      }
    } else if (op === 4 && t.lenFields.length) {
      // A length field set wrong.
      const o = shift + r.pick(t.lenFields);
      if (o + 2 <= len) {
        const v = b.readUInt16BE(at + o);
        const w = r.pick([0, 1, 7, 8, 19, 20, 39, 40, v - 1, v + 1, v + 8, v >> 1, len, 0xffff, r.int(0x10000)]) & 0xffff;
        b.writeUInt16BE(w, at + o);
      }
    } else if (op === 5 && t.fields.length) {
      // A whole field to all zeros, all ones or random.
      const f = r.int(t.fields.length / 2) * 2;
      const o = shift + t.fields[f], l = t.fields[f + 1];
      const how = r.int(3);
      for (let j = 0; j < l && o + j < len; j++) b[at + o + j] = how === 0 ? 0 : how === 1 ? 0xff : r.int(256);
    } else if (op === 6 && len > 0) {
      // A random splat anywhere.
      const o = r.int(len);
      r.fill(b, at + o, Math.min(len - o, 1 + r.int(16)));
    } else if (op === 7) {
      // Extend with random bytes.
      const add = Math.min(max - len, 1 + r.int(64));
      if (add > 0) { r.fill(b, at + len, add); len += add; }
    } else if (op === 8 && shift === 8 && len >= 8) {
      // VXLAN flags and reserved bits (RFC 7348 §5), one or several.
      const which = r.int(4);
      if (which === 0) b[at] = r.int(256);
      else if (which === 1) b[at + 1 + r.int(3)] |= 1 << r.int(8);
      else if (which === 2) b[at + 7] = r.int(256);
      else b[at] ^= 0x08;
    } else if (op === 9 && len > 0) {
      // A single random byte anywhere.
      b[at + r.int(len)] = r.int(256);
    }
  }
  return len;
}

/** TCP and UDP super-frames of the largest size, as the kernel hands them to a TAP reader: copied in part, lengths fixed up, by the campaign. */
export function superFrames(): Template[] {
  const l2 = { dst: PEER_MAC, src: OWN_MAC };
  return [
    template('tcp4-super', ether(0x0800, tcp4(40100, 5201, fill(65535 - 40), { flags: 0x18 }, { df: true }, 'partial'), l2)),
    template('tcp6-super', ether(0x86dd, tcp6(40101, 5201, fill(65535 - 20), { flags: 0x10 }, 'partial'), l2)),
    template('udp4-super', ether(0x0800, udp4(40102, 5201, fill(65535 - 28), {}, 'partial'), l2)),
    // A VLAN device on top of the TAP sends its super-frames tagged.
    template('tcp4-super-vlan', ether(0x0800, tcp4(40103, 5201, fill(65535 - 40), {}, {}, 'partial'), { ...l2, tags: [[0x8100, 100]] })),
  ];
}

/**
 * Writes a UDP payload for decap at buf[at…] and returns its length (at most
 * `max`): random bytes (12 %), a length at the edges (3 %), or an inner
 * frame from `inner` behind a VXLAN header — mostly for VNI_A or VNI_B,
 * sometimes another — with a source MAC from the pool and, half the time, a
 * pooled or `dstMac` destination, mutated 7 times in 10.
 */
export function vxlanDatagram(r: Rand, macs: Macs, inner: Template[], buf: Buffer, at: number, max: number, dstMac = OWN_MAC): number {
  const kind = r.float();
  if (kind < 0.12) {
    const len = r.len(max);
    r.fill(buf, at, len);
    return len;
  }
  if (kind < 0.15) {
    const len = Math.min(max, r.pick([0, 1, 7, 8, 9, 21, 22]));
    if (len > 0) r.fill(buf, at, len);
    if (len >= 8) { buf.fill(0, at, at + 8); buf[at] = 0x08; buf[at + 6] = VNI_A; }
    return len;
  }
  const t = r.pick(inner);
  const vni = r.chance(0.85) ? (r.chance(0.8) ? VNI_A : VNI_B) : r.pick([0, 2, 0xffffff, r.int(0x1000000)]);
  buf.fill(0, at, at + 8);
  buf[at] = 0x08; buf[at + 4] = vni >>> 16; buf[at + 5] = vni >>> 8; buf[at + 6] = vni;
  let len = Math.min(max, 8 + t.bytes.length);
  t.bytes.copy(buf, at + 8, 0, len - 8);
  if (len >= 8 + 14) {
    macs.write(r, buf, at + 8 + 6);
    if (r.chance(0.5)) macs.writePooled(r, buf, at + 8); else if (r.chance(0.3)) writeMac(buf, at + 8, parseMac(dstMac));
  }
  if (r.chance(0.7)) len = mutate(r, buf, at, len, max, t, 8);
  return len;
}

// -- TAP reads ---------------------------------------------------------------

/**
 * Writes one TAP read at s[h] (virtio-net header, then the frame), as the
 * kernel would hand it over, often mutated; returns its length, header included.
 */
export function tapRead(r: Rand, macs: Macs, inner: Template[], superT: Template[], s: Buffer, h: number): number {
  const f = h + VNET_HDR_LEN;
  s.fill(0, h, f);
  const kind = r.float();
  if (kind < 0.06) {
    // Random header and bytes.
    r.fill(s, h, VNET_HDR_LEN);
    if (r.chance(0.5)) writeVnet(s, h, vnetFlags(s, h), r.pick([0, 1, 3, 4, 5, 0x81, 0x84]), vnetHdrLen(s, h), vnetGsoSize(s, h), vnetCsumStart(s, h), vnetCsumOffset(s, h));
    const len = r.len(TAP_MAX_FRAME);
    r.fill(s, f, len);
    return VNET_HDR_LEN + len;
  }
  if (kind < 0.25) return VNET_HDR_LEN + superFrame(r, superT, s, h, f);
  // A plain frame; a partial checksum is marked NEEDS_CSUM, as the kernel does.
  const t = r.pick(inner);
  t.bytes.copy(s, f);
  let len = t.bytes.length;
  if (len >= 14) {
    const d = r.float();
    if (d < 0.35) macs.writePooled(r, s, f);
    else if (d < 0.55) writeMac(s, f, parseMac(PEER_MAC));
    else if (d < 0.75) writeMac(s, f, 0xffffffffffff);
    else macs.write(r, s, f);
    if (r.chance(0.5)) writeMac(s, f + 6, parseMac(OWN_MAC)); else macs.write(r, s, f + 6);
  }
  if (t.name.endsWith('partial')) {
    const l3 = t.name.startsWith('vlan') ? 18 : 14;
    writeVnet(s, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, l3 + (t.name.includes('6') ? 40 : (t.bytes[l3] & 15) * 4), t.name.startsWith('udp') ? 6 : 16);
  }
  if (r.chance(0.45)) len = mutate(r, s, f, len, TAP_MAX_FRAME, t, 0);
  if (r.chance(0.1)) mutateVnet(r, s, h, len);
  return VNET_HDR_LEN + len;
}

/** A TCP (v4, v6, tagged) or UDP super-frame with the header the kernel writes; returns the frame's length. */
function superFrame(r: Rand, superT: Template[], s: Buffer, h: number, f: number): number {
  const big: Template = r.pick(superT);
  const l3 = big.name.endsWith('vlan') ? 18 : 14;
  const v6 = big.name.startsWith('tcp6'), udp = big.name.startsWith('udp');
  const hdr = l3 + (v6 ? 40 : 20) + (udp ? 8 : 20);
  const y = r.float();
  const len = Math.min(big.bytes.length, hdr + 1 + (y < 0.6 ? r.int(3000) : y < 0.9 ? r.int(20000) : r.int(big.bytes.length - hdr)));
  big.bytes.copy(s, f, 0, len);
  if (v6) {
    s.writeUInt16BE(len - l3 - 40, f + l3 + 4);
  } else {
    s.writeUInt16BE(len - l3, f + l3 + 2);
    s.writeUInt16BE(0, f + l3 + 10);
    s.writeUInt16BE(~fold(sum16(s, f + l3, 20)) & 0xffff, f + l3 + 10);
    // The partial checksum the kernel leaves: the pseudo-header sum over the whole length.
    s.writeUInt16BE(fold(pseudoSumV4(s, f + l3 + 12, f + l3 + 16, udp ? 17 : 6, len - l3 - 20)), f + l3 + 20 + (udp ? 6 : 16));
  }
  if (udp) s.writeUInt16BE(len - hdr + 8, f + l3 + 20 + 4);
  let gso = udp ? VIRTIO_NET_HDR_GSO_UDP_L4 : v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  if (!udp && r.chance(0.05)) gso |= VIRTIO_NET_HDR_GSO_ECN;
  const mss = r.chance(0.8) ? r.pick([1398, 1448, 1460, 1220, 1400, 536, 8948]) : r.pick([0, 1, 7, 48, 88, 256, 65535, r.int(65536)]);
  writeVnet(s, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, gso, hdr, mss, l3 + (v6 ? 40 : 20), udp ? 6 : 16);
  const n = r.chance(0.35) ? mutate(r, s, f, len, TAP_MAX_FRAME, big, 0) : len;
  if (r.chance(0.15)) { const k = h + r.int(VNET_HDR_LEN); s[k] = r.chance(0.5) ? r.int(256) : s[k] ^ (1 << r.int(8)); }
  return n;
}

/** The virtio-net header's fields at random: checksum offsets, GSO type and size, flags. */
function mutateVnet(r: Rand, s: Buffer, h: number, len: number): void {
  let flags = vnetFlags(s, h), gso = vnetGsoType(s, h) | (vnetGsoEcn(s, h) ? VIRTIO_NET_HDR_GSO_ECN : 0), size = vnetGsoSize(s, h);
  let start = vnetCsumStart(s, h), off = vnetCsumOffset(s, h);
  const which = r.int(4);
  if (which === 0) { flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM; start = Math.min(0xffff, r.int(len + 40)); off = r.pick([0, 2, 6, 16, 0xfffe, r.int(65536)]); } else if (which === 1) gso = r.pick([1, 3, 4, 5, 0x81, r.int(256)]);
  else if (which === 2) size = r.int(65536);
  else flags = r.int(256);
  writeVnet(s, h, flags, gso, vnetHdrLen(s, h), size, start, off);
}
