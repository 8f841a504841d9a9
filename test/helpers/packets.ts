// The one home for building test packets: Ethernet frames (with VLAN tags),
// IPv4/IPv6 with TCP, UDP or ICMP inside and valid lengths and checksums,
// ARP, and VXLAN datagrams; for table-driven unit tests (`eth`, `vxlan` and
// the MAC_* names make readable rows), the fuzz campaign's templates and the
// regression corpus. Each builder returns a fresh Buffer, written byte by
// byte here rather than by the wire/ views under test; addresses are parsed
// by wire/ (the one parser).

import { parseMac, writeMac } from '../../src/wire/mac.js';
import { ipToWords, ipv6ToBytes } from '../../src/wire/ipv6.js';
import { ipv4ToNumber } from '../../src/wire/ipv4.js';
import { sum16, finish, pseudoSumV4, pseudoSumV6, udpChecksumField } from '../../src/wire/checksum.js';

export const MAC_A = '02:00:0a:f4:01:01';
export const MAC_B = '02:00:0a:f4:02:01';
export const MAC_C = '02:00:0a:f4:03:01';
export const BCAST = 'ff:ff:ff:ff:ff:ff';

export interface L2 {
  dst?: string;
  src?: string;
  /** 802.1Q tags, outermost first: [tpid, tci] pairs (0x88a8 for a QinQ service tag). */
  tags?: [number, number][];
}

/** Ethernet header (with any tags) + payload. */
export function ether(type: number, payload: Buffer, l2: L2 = {}): Buffer {
  const tags = l2.tags ?? [];
  const hdr = 14 + tags.length * 4;
  const b = Buffer.alloc(hdr + payload.length);
  writeMac(b, 0, parseMac(l2.dst ?? '02:00:0a:f4:00:01'));
  writeMac(b, 6, parseMac(l2.src ?? '02:00:0a:f4:00:02'));
  let o = 12;
  for (const [tpid, tci] of tags) { b.writeUInt16BE(tpid, o); b.writeUInt16BE(tci, o + 2); o += 4; }
  b.writeUInt16BE(type, o);
  payload.copy(b, hdr);
  return b;
}

export interface EthSpec { dst?: string; src?: string; type?: number; vlan?: number; payload?: Buffer | number }

/** An Ethernet frame for a table row: MAC_A → MAC_B, IPv4 type, 46 filler bytes unless told; `vlan` adds an 802.1Q tag. */
export function eth(spec: EthSpec = {}): Buffer {
  const payload = typeof spec.payload === 'number' ? Buffer.alloc(spec.payload, 0xab)
    : spec.payload ?? Buffer.alloc(46, 0xab);
  return ether(spec.type ?? 0x0800, payload, {
    dst: spec.dst ?? MAC_B, src: spec.src ?? MAC_A, tags: spec.vlan !== undefined ? [[0x8100, spec.vlan]] : [],
  });
}

export interface Ip4Opts { src?: string; dst?: string; id?: number; df?: boolean; mf?: boolean; fragOff?: number; ttl?: number; options?: Buffer }

/** IPv4 header (RFC 791) with a valid checksum, then `l4`. */
export function ipv4(proto: number, l4: Buffer, o: Ip4Opts = {}): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const ihl = 20 + opt.length;
  const b = Buffer.alloc(ihl + l4.length);
  b[0] = 0x40 | (ihl >>> 2);
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(o.id ?? 0x1234, 4);
  b.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOff ?? 0) >>> 3), 6);
  b[8] = o.ttl ?? 64;
  b[9] = proto;
  b.writeUInt32BE(ipv4ToNumber(o.src ?? '10.244.0.2'), 12);
  b.writeUInt32BE(ipv4ToNumber(o.dst ?? '10.244.0.1'), 16);
  opt.copy(b, 20);
  b.writeUInt16BE(finish(sum16(b, 0, ihl)), 10);
  l4.copy(b, ihl);
  return b;
}

/** IPv6 header (RFC 8200), then `l4`. */
export function ipv6(next: number, l4: Buffer, o: { src?: string; dst?: string; hop?: number } = {}): Buffer {
  const b = Buffer.alloc(40 + l4.length);
  b[0] = 0x60;
  b.writeUInt16BE(l4.length, 4);
  b[6] = next;
  b[7] = o.hop ?? 64;
  ipv6ToBytes(o.src ?? 'fd00:244::2').copy(b, 8);
  ipv6ToBytes(o.dst ?? 'fd00:244::1').copy(b, 24);
  l4.copy(b, 40);
  return b;
}

export function udpHdr(sport: number, dport: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(b.length, 4);
  payload.copy(b, 8);
  return b;
}

export interface TcpOpts { seq?: number; ack?: number; flags?: number; win?: number; options?: Buffer }

export function tcpHdr(sport: number, dport: number, payload: Buffer, o: TcpOpts = {}): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const thl = 20 + opt.length;
  const b = Buffer.alloc(thl + payload.length);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt32BE((o.seq ?? 1000) >>> 0, 4);
  b.writeUInt32BE((o.ack ?? 1) >>> 0, 8);
  b[12] = (thl >>> 2) << 4;
  b[13] = o.flags ?? 0x10; // ACK
  b.writeUInt16BE(o.win ?? 502, 14);
  opt.copy(b, 20);
  payload.copy(b, thl);
  return b;
}

/** How an L4 checksum is left: complete (valid), "partial" (only the pseudo-header sum, as an offloading sender leaves it), or zero. */
export type CsumMode = 'valid' | 'partial' | 'zero';

/** Fills the TCP/UDP/ICMPv6 checksum of the L4 segment inside an IP packet built by ipv4()/ipv6(). */
export function fillL4Checksum(ip: Buffer, mode: CsumMode = 'valid'): Buffer {
  const v6 = ip[0] >>> 4 === 6;
  const l4 = v6 ? 40 : (ip[0] & 0x0f) * 4;
  const proto = v6 ? ip[6] : ip[9];
  const len = ip.length - l4;
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 || proto === 1 ? 2 : -1;
  if (at < 0 || len < at + 2) return ip;
  ip.writeUInt16BE(0, l4 + at);
  if (mode === 'zero') return ip;
  // ICMPv4 has no pseudo-header; ICMPv6 and TCP/UDP do.
  const pseudo = proto === 1 ? 0 : v6 ? pseudoSumV6(ip, 8, 24, proto, len) : pseudoSumV4(ip, 12, 16, proto, len);
  if (mode === 'partial') {
    let p = pseudo;
    while (p > 0xffff) p = (p & 0xffff) + (p >>> 16);
    ip.writeUInt16BE(p, l4 + at);
    return ip;
  }
  const c = finish(sum16(ip, l4, len, pseudo));
  ip.writeUInt16BE(proto === 17 ? udpChecksumField(c) : c, l4 + at);
  return ip;
}

export function udp4(sport: number, dport: number, payload: Buffer, ip: Ip4Opts = {}, mode: CsumMode = 'valid'): Buffer {
  return fillL4Checksum(ipv4(17, udpHdr(sport, dport, payload), ip), mode);
}

export function tcp4(sport: number, dport: number, payload: Buffer, tcp: TcpOpts = {}, ip: Ip4Opts = {}, mode: CsumMode = 'valid'): Buffer {
  return fillL4Checksum(ipv4(6, tcpHdr(sport, dport, payload, tcp), ip), mode);
}

export function udp6(sport: number, dport: number, payload: Buffer, mode: CsumMode = 'valid'): Buffer {
  return fillL4Checksum(ipv6(17, udpHdr(sport, dport, payload)), mode);
}

export function tcp6(sport: number, dport: number, payload: Buffer, tcp: TcpOpts = {}, mode: CsumMode = 'valid'): Buffer {
  return fillL4Checksum(ipv6(6, tcpHdr(sport, dport, payload, tcp)), mode);
}

/** ICMP echo request (RFC 792) with `n` bytes of data. */
export function icmp4Echo(n: number, ip: Ip4Opts = {}): Buffer {
  const m = Buffer.alloc(8 + n, 0x61);
  m[0] = 8; m[1] = 0; m.writeUInt16BE(0, 2); m.writeUInt32BE(0x00010001, 4);
  return fillL4Checksum(ipv4(1, m, ip));
}

/** ICMPv6 neighbour solicitation (RFC 4861 §4.3) for `target`. */
export function icmp6Ns(target = 'fd00:244::1'): Buffer {
  const m = Buffer.alloc(24);
  m[0] = 135;
  ipv6ToBytes(target).copy(m, 8);
  return fillL4Checksum(ipv6(58, m, { dst: 'ff02::1:ff00:1', hop: 255 }));
}

/** ARP request (RFC 826): who has `target`, tell `sender`. */
export function arpRequest(senderMac: string, sender: string, target: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); b.writeUInt16BE(0x0800, 2); b[4] = 6; b[5] = 4; b.writeUInt16BE(1, 6);
  writeMac(b, 8, parseMac(senderMac));
  b.writeUInt32BE(ipv4ToNumber(sender), 14);
  b.writeUInt32BE(ipv4ToNumber(target), 24);
  return b;
}

export interface VxlanSpec { flags?: number; vni?: number; r1?: number; r2?: number }

/** A VXLAN datagram payload: the 8-byte header (RFC 7348 §5; I flag, VNI 1, reserved zero unless told) then the frame. */
export function vxlan(frame: Buffer, spec: VxlanSpec = {}): Buffer {
  const h = Buffer.alloc(8);
  h[0] = spec.flags ?? 0x08;
  h.writeUIntBE(spec.r1 ?? 0, 1, 3);
  h.writeUIntBE(spec.vni ?? 1, 4, 3);
  h[7] = spec.r2 ?? 0;
  return Buffer.concat([h, frame]);
}

/** `vxlan` with the VNI and flags as arguments. */
export function vxlanPayload(vni: number, frame: Buffer, flags = 0x08): Buffer {
  return vxlan(frame, { vni, flags });
}

/** An IPv4 address as the four words the data path keys peers on (IPv4-mapped). */
export function v4words(ip: string): [number, number, number, number] {
  const w = ipToWords(ip);
  if (w === null) throw new Error(`v4words: ${ip} is not an address`);
  return w;
}
