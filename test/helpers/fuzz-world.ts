// The rest of a VTEP around the data path, for the fuzz campaign (fuzz.ts)
// and the regression corpus: a data path configured as `weft run` would
// configure it, the receiving VTEP, a stand-in for the kernel under the TAP
// (what it accepts in a virtio-net header, and a writev that fills up or
// refuses), and the good traffic that must still forward. What Tap.read and
// Tap.write do with the frames is the shipped code (io/tap-read.ts,
// io/tap-write.ts), called here as Tap calls it. (The counter identities
// every check uses are proc-stats.ts's counterImbalances.)

import { Datapath, type DatapathOptions } from '../../src/datapath/datapath.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../../src/io/batch.js';
import type { VniState } from '../../src/datapath/vni.js';
import {
  VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
  vnetFlags, vnetGsoType, vnetHdrLen, vnetGsoSize, vnetCsumStart, vnetCsumOffset, writeVnet,
} from '../../src/io/vnet.js';
import { TapReadSlab } from '../../src/io/tap-read.js';
import { TapWritePlan, planTapWrite, sendTapWrite, type Coalescer, type TapKernel } from '../../src/io/tap-write.js';
import { newTapStats, type TapStats } from '../../src/io/tap.js';
import type { FramePort } from '../../src/io/ports.js';
import { OuterParser } from '../../src/io/outer.js';
import { answerTooBig, newReplyBatch } from '../../src/datapath/pmtu.js';
import { parseMac } from '../../src/wire/mac.js';
import { sum16, fold, pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { v4words } from './packets.js';
import { ether, tcp4, icmp4Echo, arpRequest, vxlanPayload } from './packets.js';
import { OWN_MAC, PEER_MAC, PEER_IP, VNI_A, VNI_B, fill } from './fuzz-inputs.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { decapBatch } from '../../src/datapath/decap.js';

/** VNI_A's MTU (the TAP's, in `weft run` terms): it takes frames up to MTU + 14, + 4 with a tag. */
export const MTU = 1500;

export interface World {
  kind: WorldKind;
  dp: Datapath;
  /** VNI 1: port 8472, MTU 1500 (frames up to 1518, as `weft run` sets it), flood to .2 and .3. */
  a: VniState;
  /** VNI 4242: port 4789, no MTU (the largest frames), flood to an IPv6 VTEP. */
  b: VniState;
  /** The remote VTEP that decapsulates what `dp` sends. */
  peer: Datapath;
}

/**
 * roomy: the defaults. tight: small tables, so the full-table paths run
 * often; lenient about reserved bits. guarded: what `weft run` does when it
 * knows its peers — datagrams only from known VTEPs — with a small
 * broadcast budget per source MAC and few ICMP answers a second.
 */
export type WorldKind = 'roomy' | 'tight' | 'guarded';
export const WORLD_KINDS: readonly WorldKind[] = ['roomy', 'tight', 'guarded'];

export function newWorld(kind: WorldKind): World {
  const opts: DatapathOptions = kind === 'tight' ? { fdbMax: 300, peerCapacity: 48, strictReserved: false, fdbAgeingMs: 2_000 }
    : kind === 'guarded' ? { fdbAgeingMs: 60_000, knownSourcesOnly: true, bumRate: 20, bumBurst: 10, icmpRate: 5 }
      : { fdbAgeingMs: 60_000 };
  const dp = new Datapath(opts);
  const a = dp.addVni(VNI_A, { port: 8472, mtu: MTU });
  const b = dp.addVni(VNI_B, { port: 4789 });
  for (const v of [a, b]) v.addLocalMac(parseMac(OWN_MAC));
  dp.addFloodPeer(a, PEER_IP);
  dp.addFloodPeer(a, '198.18.0.3');
  dp.addFloodPeer(b, 'fd00:198:18::2');
  dp.addStatic(a, parseMac(PEER_MAC), PEER_IP);
  const peer = new Datapath({ fdbMax: 4096, peerCapacity: 16 });
  for (const vni of [VNI_A, VNI_B]) peer.addVni(vni, { port: vni === VNI_A ? 8472 : 4789 }).addLocalMac(parseMac(PEER_MAC));
  return { kind, dp, a, b, peer };
}

/**
 * What the kernel's virtio_net_hdr_to_skb would refuse in a header weft
 * writes to the TAP, or null: checksum offsets inside the frame, a known GSO
 * type with a size and the checksum flag, lengths that match for super-frames.
 * `l2`: the link header before IP (the TAP's Ethernet; 0 for the TUN).
 */
export function vnetProblem(b: Buffer, h: number, len: number, l2 = 14): string | null {
  const flags = vnetFlags(b, h), gso = vnetGsoType(b, h);
  const hdrLen = vnetHdrLen(b, h), gsoSize = vnetGsoSize(b, h);
  const start = vnetCsumStart(b, h), off = vnetCsumOffset(b, h);
  if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) return `flags ${flags}`;
  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && start + off + 2 > len) return `csum_start ${start} + csum_offset ${off} outside ${len} bytes`;
  if (gso === VIRTIO_NET_HDR_GSO_NONE) return null;
  if (gso !== VIRTIO_NET_HDR_GSO_TCPV4 && gso !== VIRTIO_NET_HDR_GSO_TCPV6 && gso !== VIRTIO_NET_HDR_GSO_UDP_L4) return `gso_type ${gso}`;
  if (!(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return 'GSO without NEEDS_CSUM';
  if (gsoSize === 0 || hdrLen > len) return `gso_size ${gsoSize}, hdr_len ${hdrLen} of ${len}`;
  const f = h + VNET_HDR_LEN;
  const isV4 = l2 === 0 ? b[f] >>> 4 === 4 : b.readUInt16BE(f + 12) === 0x0800;
  if (gso === VIRTIO_NET_HDR_GSO_TCPV4 && (!isV4 || b.readUInt16BE(f + l2 + 2) !== len - l2)) return 'TCPv4 GSO frame with a wrong IP length';
  return null;
}

export type FuzzPath = 'decap' | 'outer' | 'tap-read';

/** Runs one packet alone through `path` on a fresh VTEP; throws what the path throws. */
export function replayOne(path: FuzzPath, input: Buffer, kind: WorldKind = 'roomy'): World {
  const w = newWorld(kind);
  if (path === 'tap-read') {
    const tap = new TapReadSlab(1, true);
    const batch = new FrameBatch(TapReadSlab.batchFor(1, true));
    input.copy(tap.slab, tap.rawOffs[0], 0, Math.min(input.length, tap.maxLen));
    tap.rawLens[0] = Math.min(input.length, tap.maxLen);
    tap.fill(1, batch, newTapStats());
    for (const v of [w.a, w.b]) {
      const sends = new SendList(batch.capacity * 3);
      encapBatch(w.dp, v, batch, sends, 1000);
      answerTooBig(w.dp, v, batch, sends, newReplyBatch(), 1000);
    }
    return w;
  }
  const slab = Buffer.alloc(HEADROOM + input.length + 8);
  input.copy(slab, HEADROOM);
  const dg = new DatagramBatch(1, slab);
  if (path === 'outer') {
    if (new OuterParser(8472).parse(slab, HEADROOM, input.length, dg, 0)) dg.count = 1;
  } else {
    dg.off[0] = HEADROOM; dg.len[0] = input.length; dg.count = 1;
    dg.srcAddr.set(v4words('198.18.0.9'), 0);
  }
  const out = new FrameBatch(1);
  decapBatch(w.dp, dg, out, 1000);
  planTapWrite(new TapWritePlan(1, true, MTU, true), out, newTapStats());
  return w;
}

/**
 * Good traffic through a VTEP after the campaign; returns what failed.
 *   1. a datagram from the static peer's MAC is delivered;
 *   2. a frame to that MAC goes to its VTEP, once;
 *   3. a broadcast goes to both flood peers;
 *   4. a TCP super-frame from the TAP is cut, encapsulated and arrives at
 *      the peer as valid segments carrying all of its payload;
 *   5. three in-order segments from the wire become one GSO frame for the TAP;
 *   6. a plain frame from the TAP with a partial checksum goes out whole,
 *      byte for byte as its sender meant it, the checksum completed.
 */
export function goodTraffic(w: World, nowMs: number): string[] {
  const bad: string[] = [];
  const c = w.dp.counters;
  // 1.
  const f1 = ether(0x0800, icmp4Echo(56), { dst: OWN_MAC, src: PEER_MAC });
  const slab = Buffer.alloc(HEADROOM + 8 + f1.length);
  vxlanPayload(VNI_A, f1).copy(slab, HEADROOM);
  const dg = new DatagramBatch(1, slab);
  dg.off[0] = HEADROOM; dg.len[0] = 8 + f1.length; dg.count = 1; dg.srcAddr.set(v4words(PEER_IP), 0);
  const out = new FrameBatch(1);
  decapBatch(w.dp, dg, out, nowMs);
  if (out.count !== 1 || !out.buf.subarray(out.off[0], out.off[0] + out.len[0]).equals(f1)) bad.push(`a good datagram was not delivered (${JSON.stringify(c.nonZero())})`);
  // 2. and 3.
  const enc = (frame: Buffer): { peer: string; len: number }[] => {
    const s = Buffer.alloc(HEADROOM + frame.length);
    frame.copy(s, HEADROOM);
    const fb = new FrameBatch(1, s);
    fb.push(HEADROOM, frame.length);
    const sl = new SendList(8);
    encapBatch(w.dp, w.a, fb, sl, nowMs);
    return Array.from({ length: sl.count }, (_, j) => ({ peer: w.dp.peers.ipString(sl.peer[j]), len: sl.len[j] }));
  };
  const u = enc(ether(0x0800, icmp4Echo(56, { src: '10.244.0.1', dst: '10.244.0.2' }), { dst: PEER_MAC, src: OWN_MAC }));
  if (u.length !== 1 || u[0].peer !== PEER_IP) bad.push(`a frame to the static MAC went to ${JSON.stringify(u)}`);
  const bc = enc(ether(0x0806, arpRequest(OWN_MAC, '10.244.0.1', '10.244.0.2'), { dst: 'ff:ff:ff:ff:ff:ff', src: OWN_MAC }));
  if (bc.map((x) => x.peer).sort().join(' ') !== `${PEER_IP} 198.18.0.3`) bad.push(`a broadcast went to ${JSON.stringify(bc)}`);
  // 4.
  const tap = new TapReadSlab(1, true);
  const tb = new FrameBatch(TapReadSlab.batchFor(1, true));
  const sf = ether(0x0800, tcp4(40200, 5201, fill(3 * 1398), {}, {}, 'partial'), { dst: PEER_MAC, src: OWN_MAC });
  const h = tap.rawOffs[0];
  sf.copy(tap.slab, h + VNET_HDR_LEN);
  writeVnet(tap.slab, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1398, 34, 16);
  tap.rawLens[0] = VNET_HDR_LEN + sf.length;
  const n = tap.fill(1, tb, newTapStats());
  const sl = new SendList(64);
  encapBatch(w.dp, w.a, tb, sl, nowMs);
  if (n !== 3 || sl.count !== 3 || [...sl.peer.subarray(0, 3)].some((p) => w.dp.peers.ipString(p) !== PEER_IP)) bad.push(`a TCP super-frame became ${n} segments, ${sl.count} datagrams`);
  let carried = 0;
  for (let j = 0; j < sl.count; j++) {
    const seg = tap.slab.subarray(sl.off[j] + 8, sl.off[j] + sl.len[j]);
    const l4len = seg.readUInt16BE(16) - 20;
    carried += l4len - 20;
    if (fold(sum16(seg, 34, l4len, pseudoSumV4(seg, 26, 30, 6, l4len))) !== 0xffff) bad.push(`segment ${j} has a bad TCP checksum`);
  }
  if (carried !== 3 * 1398) bad.push(`a TCP super-frame's ${3 * 1398} payload bytes went out as ${carried}`);
  // 5.
  const segs = [0, 1, 2].map((k) => vxlanPayload(VNI_A, ether(0x0800, tcp4(5201, 40300, fill(1398), { seq: 1000 + k * 1398 }, { src: '10.244.0.2', dst: '10.244.0.1' }), { dst: OWN_MAC, src: PEER_MAC })));
  const s5 = Buffer.alloc(3 * (HEADROOM + segs[0].length));
  const d5 = new DatagramBatch(3, s5);
  segs.forEach((p, k) => { const at = k * (HEADROOM + p.length) + HEADROOM; p.copy(s5, at); d5.off[k] = at; d5.len[k] = p.length; d5.srcAddr.set(v4words(PEER_IP), k * 4); });
  d5.count = 3;
  const o5 = new FrameBatch(3);
  decapBatch(w.dp, d5, o5, nowMs);
  const wp = new TapWritePlan(3, true, MTU, true), co = wp.c;
  const taken = planTapWrite(wp, o5, newTapStats());
  if (o5.count !== 3 || taken !== 3 || co.count !== 1 || vnetGsoType(co.out, co.offs[0]) !== VIRTIO_NET_HDR_GSO_TCPV4) bad.push(`three in-order segments gave ${o5.count} frames, ${co.count} TAP writes`);
  // 6.
  const meant = ether(0x0800, tcp4(40201, 5201, fill(300)), { dst: PEER_MAC, src: OWN_MAC });
  ether(0x0800, tcp4(40201, 5201, fill(300), {}, {}, 'partial'), { dst: PEER_MAC, src: OWN_MAC }).copy(tap.slab, h + VNET_HDR_LEN);
  writeVnet(tap.slab, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 34, 16);
  tap.rawLens[0] = VNET_HDR_LEN + meant.length;
  const n6 = tap.fill(1, tb, newTapStats());
  const sl6 = new SendList(8);
  encapBatch(w.dp, w.a, tb, sl6, nowMs);
  const sent = sl6.count === 1 ? tap.slab.subarray(sl6.off[0] + 8, sl6.off[0] + sl6.len[0]) : Buffer.alloc(0);
  if (n6 !== 1 || !sent.equals(meant)) bad.push(`a plain frame from the TAP went out as ${sl6.count} datagrams, ${sent.length} of ${meant.length} bytes`);
  return bad;
}

/**
 * The kernel under the TAP, for sendTapWrite: writes everything, or fills up
 * (EAGAIN) at output `fullAt`, or refuses output `refuse` (EIO).
 */
export class FakeTapKernel implements TapKernel {
  fullAt = -1;
  refuse = -1;
  writev(c: Coalescer, from: number): number {
    if (from === this.refuse) throw Object.assign(new Error('EIO'), { code: 'EIO' });
    if (from === this.fullAt) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
    let to = c.count;
    if (this.fullAt > from) to = Math.min(to, this.fullAt);
    if (this.refuse > from) to = Math.min(to, this.refuse);
    return to - from;
  }
}

/**
 * Tap.write on decap's frames, as the shipped code does it (planTapWrite,
 * sendTapWrite) with `kernel` in place of the system call. Reports views or
 * headers the kernel would refuse, and a count of written frames other than
 * what the kernel's outcome implies, to `problem`. Returns how many input
 * frames were written (the forwarder counts the rest as rx_drop_tap).
 * `l2` as for vnetProblem; the smallest frame is 14 bytes (Ethernet) or,
 * with no link header, an IPv4 header's 20.
 */
export function tapWrite(w: TapWritePlan, frames: FrameBatch, stats: TapStats, kernel: FakeTapKernel, problem: (s: string) => void, l2 = 14): number {
  const least = l2 === 0 ? 20 : 14;
  for (let i = 0; i < frames.count; i++) {
    const off = frames.off[i], len = frames.len[i];
    if (off < 0 || len < least || off + len > frames.buf.length) problem(`a bad frame view (${off}, ${len}) of a ${frames.buf.length}-byte slab`);
  }
  const taken = planTapWrite(w, frames, stats);
  const c = w.c;
  for (let i = 0; i < c.count; i++) {
    const h = c.offs[i], head = c.lens[i];
    if (h < 0 || h + head > c.out.length || head < VNET_HDR_LEN + least) { problem(`the coalescer wrote a bad view (${h}, ${head})`); continue; }
    // Gathering, the frame goes on in pieces of the input slab (what writev sends after the head).
    let l = head;
    for (let j = c.pStart[i]; j < c.pStart[i + 1]; j++) {
      if (c.pOffs[j] < 0 || c.pLens[j] <= 0 || c.pOffs[j] + c.pLens[j] > frames.buf.length) problem(`the coalescer listed a bad piece (${c.pOffs[j]}, ${c.pLens[j]})`);
      l += c.pLens[j];
    }
    const p = vnetProblem(c.out, h, l - VNET_HDR_LEN, l2);
    if (p) problem(`the coalescer wrote a virtio-net header the kernel refuses: ${p}`);
  }
  const refused0 = stats.refused;
  const written = sendTapWrite(w, frames.buf, taken, kernel, stats);
  // What the kernel's outcome implies: all taken frames; none once the
  // queue is full at the first output; all but those merged into a refused one.
  let want = taken;
  if (kernel.fullAt === 0 && c.count > 0) want = 0;
  else if (kernel.fullAt < 0 && kernel.refuse >= 0 && kernel.refuse < c.count) {
    for (let j = 0; j < taken; j++) if (w.outOf[j] === kernel.refuse) want--;
    if (stats.refused - refused0 !== 1) problem(`a refused output counted ${stats.refused - refused0} times`);
  }
  if (kernel.fullAt <= 0 && written !== want) problem(`the write reported ${written} frames written of ${taken}, the kernel's outcome implies ${want}`);
  if (written < 0 || written > taken) problem(`the write reported ${written} frames written of ${taken}`);
  return written;
}

/**
 * The udp backend's TUN with its offloads (io/tun.ts), for its fuzz test:
 * what the kernel would hand weft's read (a virtio-net header and a bare IP
 * packet, raw) is queued in `inbox`; read and write are the shipped code —
 * TapReadSlab.fill and planTapWrite/sendTapWrite with no link header (l2 0),
 * as VnetPort calls them — with a copy in place of the read system call and
 * `kernel` in place of writev. `written` holds each output the kernel took,
 * whole, virtio-net header first; `problem` hears what tapWrite finds wrong.
 */
export class FuzzTun implements FramePort {
  readonly inbox: Buffer[] = [];
  readonly written: Buffer[] = [];
  readonly stats = newTapStats();
  readonly kernel = new FakeTapKernel();
  /** Raw reads taken from the inbox. */
  reads = 0;
  private readonly rx: TapReadSlab;
  private readonly tx: TapWritePlan;

  /** `reads` raw reads per read call, as Tun makes them for a data path batch of TapReadSlab.batchFor(reads, true). */
  constructor(reads: number, mtu: number, private readonly problem: (s: string) => void) {
    this.rx = new TapReadSlab(reads, true, true, 0);
    this.tx = new TapWritePlan(TapReadSlab.batchFor(reads, true), true, mtu, true, 0);
  }

  read(b: FrameBatch): number {
    const rx = this.rx;
    let got = 0;
    while (got < rx.rawMax && this.inbox.length > 0) {
      const raw = this.inbox.shift()!;
      const n = Math.min(raw.length, rx.maxLen);
      raw.copy(rx.slab, rx.rawOffs[got], 0, n);
      rx.rawLens[got++] = n;
    }
    this.reads += got;
    return rx.fill(got, b, this.stats);
  }

  write(b: FrameBatch): number {
    const n = tapWrite(this.tx, b, this.stats, this.kernel, this.problem, 0);
    const c = this.tx.c;
    const took = this.kernel.fullAt >= 0 ? Math.min(c.count, this.kernel.fullAt) : c.count;
    for (let i = 0; i < took; i++) {
      if (i === this.kernel.refuse) continue;
      const parts = [c.out.subarray(c.offs[i], c.offs[i] + c.lens[i])];
      for (let j = c.pStart[i]; j < c.pStart[i + 1]; j++) parts.push(b.buf.subarray(c.pOffs[j], c.pOffs[j] + c.pLens[j]));
      this.written.push(Buffer.concat(parts));
    }
    return n;
  }

  onReadable(): void { /* the test calls the loop's stages itself */ }
  close(): void { /* nothing held */ }
}

/**
 * What is wrong with an ICMP "fragmentation needed" / "packet too big"
 * answer (pmtu.ts) at buf[off, off+len), or null: IP header and lengths
 * consistent, checksums valid, the MTU it names, no longer than RFC 1812 /
 * RFC 4443 allow (576 / 1280 bytes).
 */
export function icmpProblem(b: Buffer, off: number, len: number, mtu: number): string | null {
  if (len < 14) return `${len} bytes`;
  const tagged = b.readUInt16BE(off + 12) === 0x8100 || b.readUInt16BE(off + 12) === 0x88a8;
  const l3 = off + (tagged ? 18 : 14), type = b.readUInt16BE(l3 - 2), ipLen = off + len - l3;
  if (type === 0x0800) {
    if (b[l3] !== 0x45 || b.readUInt16BE(l3 + 2) !== ipLen || ipLen > 576) return `IPv4 length ${b.readUInt16BE(l3 + 2)} in ${ipLen} bytes`;
    if (fold(sum16(b, l3, 20)) !== 0xffff) return 'IPv4 header checksum';
    if (b[l3 + 9] !== 1 || b[l3 + 20] !== 3 || b[l3 + 21] !== 4 || b.readUInt16BE(l3 + 26) !== mtu) return 'not fragmentation needed with the MTU';
    if (fold(sum16(b, l3 + 20, ipLen - 20)) !== 0xffff) return 'ICMP checksum';
    return null;
  }
  if (type === 0x86dd) {
    if (b.readUInt16BE(l3 + 4) !== ipLen - 40 || ipLen > 1280) return `IPv6 payload length ${b.readUInt16BE(l3 + 4)} in ${ipLen} bytes`;
    if (b[l3 + 6] !== 58 || b[l3 + 40] !== 2 || b.readUInt32BE(l3 + 44) !== mtu) return 'not packet too big with the MTU';
    if (fold(sum16(b, l3 + 40, ipLen - 40, pseudoSumV6(b, l3 + 8, l3 + 24, 58, ipLen - 40))) !== 0xffff) return 'ICMPv6 checksum';
    return null;
  }
  return `EtherType 0x${type.toString(16)}`;
}
