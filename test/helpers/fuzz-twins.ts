// The rest of a VTEP around the data path, for the fuzz campaign (fuzz.ts)
// and the regression corpus: a data path configured as `weft run` would
// configure it, the receiving VTEP, what Tap.read and Tap.write do with the
// frames (offload.ts's functions composed as tap.ts composes them), and the
// good traffic that must still forward. (The counter identities every
// check uses are proc-stats.ts's counterImbalances.)

import { Datapath, type DatapathOptions } from '../../src/datapath/datapath.js';
import { decapBatch } from '../../src/datapath/decap.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../../src/io/batch.js';
import type { VniState } from '../../src/datapath/vni.js';
import { VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM } from '../../src/io/vnet.js';
import {
  segmentTcp, segmentUdp, completeChecksum, TcpCoalescer, GATHER_HEAD,
  VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
} from '../../src/io/offload.js';
import { OuterParser } from '../../src/io/outer.js';
import { answerTooBig, newReplyBatch } from '../../src/datapath/pmtu.js';
import { parseMac } from '../../src/wire/mac.js';
import { sum16, fold, pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { v4words } from './packets.js';
import { ether, tcp4, icmp4Echo, arpRequest, vxlanPayload } from './packets.js';
import { OWN_MAC, PEER_MAC, PEER_IP, VNI_A, VNI_B, fill } from './fuzz-inputs.js';

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

// ---------------------------------------------------------------------------
// What Tap.read does with the frames of one read (src/io/tap.ts, read()):
// each frame's virtio-net header says whether it is a plain frame (whose
// partial checksum may need completing) or a TCP/UDP super-frame to cut.
// Kept in step with tap.ts; the cutting itself is offload.ts's, called here.

/** Tap.ts's sizes: a 64 KiB frame, 64 segments per super-frame, room for them. */
export const TAP_MAX_FRAME = 65535 + 14;
const TAP_MAX_SEGS = 64;
const TAP_SPLIT_ROOM = TAP_MAX_FRAME + TAP_MAX_SEGS * (8 + 14 + 60 + 60);

export interface TapTwinStats {
  framesIn: number; plain: number; csumCompletedIn: number; badIn: number;
  superFramesIn: number; segmentsOut: number;
  /** Segments that did not fit the batch: Tap.read's emit drops them, uncounted (segmentTcp's maxSegs prevents it). */
  overflow: number;
}

export class TapReadTwin {
  readonly rawMax: number;
  readonly rawSlot: number;
  readonly slab: Buffer;
  readonly rawOffs: Int32Array;
  readonly rawLens: Int32Array;
  readonly batch: FrameBatch;
  readonly stats: TapTwinStats = { framesIn: 0, plain: 0, csumCompletedIn: 0, badIn: 0, superFramesIn: 0, segmentsOut: 0, overflow: 0 };
  private readonly splitBase: number;
  private readonly emit = (off: number, len: number): void => {
    const b = this.batch;
    if (b.count < b.capacity) b.push(off, len); else this.stats.overflow++;
  };

  /** As Tap's constructor with offloads on, for `weft run --batch batch`: `batch` reads, `batch` × 64 frames out. */
  constructor(batch = 64) {
    const maxLen = TAP_MAX_FRAME + VNET_HDR_LEN;
    this.rawSlot = (HEADROOM + maxLen + 63) & ~63;
    this.rawMax = batch;
    this.splitBase = this.rawSlot * this.rawMax;
    this.slab = Buffer.alloc(this.splitBase + TAP_SPLIT_ROOM * this.rawMax);
    this.rawOffs = new Int32Array(this.rawMax);
    this.rawLens = new Int32Array(this.rawMax);
    for (let i = 0; i < this.rawMax; i++) this.rawOffs[i] = i * this.rawSlot + HEADROOM - VNET_HDR_LEN;
    this.batch = new FrameBatch(batch * TAP_MAX_SEGS, this.slab);
  }

  /** Tap.read after tapRead returned `got` frames (rawLens include the virtio-net header). */
  read(got: number): number {
    const s = this.slab, batch = this.batch, st = this.stats;
    batch.count = 0;
    let split = this.splitBase;
    for (let i = 0; i < got; i++) {
      st.framesIn++;
      const h = this.rawOffs[i];
      const f = h + VNET_HDR_LEN;
      const len = this.rawLens[i] - VNET_HDR_LEN;
      if (len <= 0) { st.badIn++; continue; }
      const gso = s[h + 1] & 0x7f;
      if (gso === VIRTIO_NET_HDR_GSO_NONE) {
        if ((s[h] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
          if (!completeChecksum(s, f, len, s.readUInt16LE(h + 6), s.readUInt16LE(h + 8))) { st.badIn++; continue; }
          st.csumCompletedIn++;
        }
        if (batch.count < batch.capacity) { batch.push(f, len); st.plain++; } else st.badIn++;
        continue;
      }
      const before = batch.count;
      let used: number;
      if (gso === VIRTIO_NET_HDR_GSO_TCPV4 || gso === VIRTIO_NET_HDR_GSO_TCPV6) {
        used = segmentTcp(s, f, len, s.readUInt16LE(h + 4), gso === VIRTIO_NET_HDR_GSO_TCPV6, s, split, s.length - split, 8, this.emit, batch.capacity - before);
      } else if (gso === VIRTIO_NET_HDR_GSO_UDP_L4) {
        used = segmentUdp(s, f, len, s.readUInt16LE(h + 4), s.readUInt16BE(f + 12) === 0x86dd, s, split, s.length - split, 8, this.emit, batch.capacity - before);
      } else {
        st.badIn++;
        continue;
      }
      if (used < 0) { st.badIn++; continue; }
      split += used;
      st.superFramesIn++;
      st.segmentsOut += batch.count - before;
    }
    return batch.count;
  }
}

/**
 * What the kernel's virtio_net_hdr_to_skb would refuse in a header weft
 * writes to the TAP, or null: checksum offsets inside the frame, a known GSO
 * type with a size and the checksum flag, lengths that match for super-frames.
 */
export function vnetProblem(b: Buffer, h: number, len: number): string | null {
  const flags = b[h], gso = b[h + 1] & 0x7f;
  const hdrLen = b.readUInt16LE(h + 2), gsoSize = b.readUInt16LE(h + 4);
  const start = b.readUInt16LE(h + 6), off = b.readUInt16LE(h + 8);
  if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) return `flags ${flags}`;
  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && start + off + 2 > len) return `csum_start ${start} + csum_offset ${off} outside ${len} bytes`;
  if (gso === VIRTIO_NET_HDR_GSO_NONE) return null;
  if (gso !== VIRTIO_NET_HDR_GSO_TCPV4 && gso !== VIRTIO_NET_HDR_GSO_TCPV6 && gso !== VIRTIO_NET_HDR_GSO_UDP_L4) return `gso_type ${gso}`;
  if (!(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return 'GSO without NEEDS_CSUM';
  if (gsoSize === 0 || hdrLen > len) return `gso_size ${gsoSize}, hdr_len ${hdrLen} of ${len}`;
  const f = h + VNET_HDR_LEN;
  if (gso === VIRTIO_NET_HDR_GSO_TCPV4 && (b.readUInt16BE(f + 12) !== 0x0800 || b.readUInt16BE(f + 16) !== len - 14)) return 'TCPv4 GSO frame with a wrong IP length';
  return null;
}

export type FuzzPath = 'decap' | 'outer' | 'tap-read';

/** Runs one packet alone through `path` on a fresh VTEP; throws what the path throws. */
export function replayOne(path: FuzzPath, input: Buffer, kind: WorldKind = 'roomy'): World {
  const w = newWorld(kind);
  if (path === 'tap-read') {
    const tap = new TapReadTwin(1);
    input.copy(tap.slab, tap.rawOffs[0], 0, Math.min(input.length, VNET_HDR_LEN + TAP_MAX_FRAME));
    tap.rawLens[0] = Math.min(input.length, VNET_HDR_LEN + TAP_MAX_FRAME);
    tap.read(1);
    for (const v of [w.a, w.b]) {
      const sends = new SendList(tap.batch.capacity * 3);
      encapBatch(w.dp, v, tap.batch, sends, 1000);
      answerTooBig(w.dp, v, tap.batch, sends, newReplyBatch(), 1000);
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
  const c = new TcpCoalescer(Buffer.alloc(VNET_HDR_LEN + GATHER_HEAD), 1, true, MTU, 65535, true, true);
  for (let i = 0; i < out.count; i++) c.add(out.buf, out.off[i], out.len[i]);
  c.flush();
  return w;
}

/**
 * Good traffic through a VTEP after the campaign; returns what failed.
 *   1. a datagram from the static peer's MAC is delivered;
 *   2. a frame to that MAC goes to its VTEP, once;
 *   3. a broadcast goes to both flood peers;
 *   4. a TCP super-frame from the TAP is cut, encapsulated and arrives at
 *      the peer as valid segments;
 *   5. three in-order segments from the wire become one GSO frame for the TAP.
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
  const tap = new TapReadTwin(1);
  const sf = ether(0x0800, tcp4(40200, 5201, fill(3 * 1398), {}, {}, 'partial'), { dst: PEER_MAC, src: OWN_MAC });
  const h = tap.rawOffs[0];
  sf.copy(tap.slab, h + VNET_HDR_LEN);
  tap.slab.fill(0, h, h + VNET_HDR_LEN);
  tap.slab[h] = VIRTIO_NET_HDR_F_NEEDS_CSUM; tap.slab[h + 1] = VIRTIO_NET_HDR_GSO_TCPV4;
  tap.slab.writeUInt16LE(54, h + 2); tap.slab.writeUInt16LE(1398, h + 4); tap.slab.writeUInt16LE(34, h + 6); tap.slab.writeUInt16LE(16, h + 8);
  tap.rawLens[0] = VNET_HDR_LEN + sf.length;
  const n = tap.read(1);
  const sl = new SendList(64);
  encapBatch(w.dp, w.a, tap.batch, sl, nowMs);
  if (n !== 3 || sl.count !== 3 || [...sl.peer.subarray(0, 3)].some((p) => w.dp.peers.ipString(p) !== PEER_IP)) bad.push(`a TCP super-frame became ${n} segments, ${sl.count} datagrams`);
  for (let j = 0; j < sl.count; j++) {
    const seg = tap.slab.subarray(sl.off[j] + 8, sl.off[j] + sl.len[j]);
    const l4len = seg.readUInt16BE(16) - 20;
    if (fold(sum16(seg, 34, l4len, pseudoSumV4(seg, 26, 30, 6, l4len))) !== 0xffff) bad.push(`segment ${j} has a bad TCP checksum`);
  }
  // 5.
  const segs = [0, 1, 2].map((k) => vxlanPayload(VNI_A, ether(0x0800, tcp4(5201, 40300, fill(1398), { seq: 1000 + k * 1398 }, { src: '10.244.0.2', dst: '10.244.0.1' }), { dst: OWN_MAC, src: PEER_MAC })));
  const s5 = Buffer.alloc(3 * (HEADROOM + segs[0].length));
  const d5 = new DatagramBatch(3, s5);
  segs.forEach((p, k) => { const at = k * (HEADROOM + p.length) + HEADROOM; p.copy(s5, at); d5.off[k] = at; d5.len[k] = p.length; d5.srcAddr.set(v4words(PEER_IP), k * 4); });
  d5.count = 3;
  const o5 = new FrameBatch(3);
  decapBatch(w.dp, d5, o5, nowMs);
  const co = new TcpCoalescer(Buffer.alloc(10_000), 3, true, MTU);
  for (let k = 0; k < o5.count; k++) co.add(o5.buf, o5.off[k], o5.len[k]);
  co.flush();
  if (o5.count !== 3 || co.count !== 1 || co.out[co.offs[0] + 1] !== VIRTIO_NET_HDR_GSO_TCPV4) bad.push(`three in-order segments gave ${o5.count} frames, ${co.count} TAP writes`);
  return bad;
}

/**
 * What Tap.write does with decap's frames: each one's head is copied behind
 * a fresh virtio-net header (writeVnetHeader), TCP/UDP runs merged (TcpCoalescer),
 * until the coalescer is full. Returns how many frames it took (the
 * forwarder counts the rest as rx_drop_tap) and reports views or headers the
 * kernel would refuse to `problem`.
 */
export function tapWriteTwin(c: TcpCoalescer, frames: FrameBatch, problem: (s: string) => void): number {
  c.reset();
  let taken = 0;
  for (let i = 0; i < frames.count; i++) {
    const off = frames.off[i], len = frames.len[i];
    if (off < 0 || len < 14 || off + len > frames.buf.length) { problem(`a bad frame view (${off}, ${len}) of a ${frames.buf.length}-byte slab`); continue; }
    if (!c.add(frames.buf, off, len)) break;
    taken++;
  }
  c.flush();
  for (let i = 0; i < c.count; i++) {
    const h = c.offs[i], head = c.lens[i];
    if (h < 0 || h + head > c.out.length || head < VNET_HDR_LEN + 14) { problem(`the coalescer wrote a bad view (${h}, ${head})`); continue; }
    // Gathering, the frame goes on in pieces of the input slab (what writev sends after the head).
    let l = head;
    for (let j = c.pStart[i]; j < c.pStart[i + 1]; j++) {
      if (c.pOffs[j] < 0 || c.pLens[j] <= 0 || c.pOffs[j] + c.pLens[j] > frames.buf.length) problem(`the coalescer listed a bad piece (${c.pOffs[j]}, ${c.pLens[j]})`);
      l += c.pLens[j];
    }
    const p = vnetProblem(c.out, h, l - VNET_HDR_LEN);
    if (p) problem(`the coalescer wrote a virtio-net header the kernel refuses: ${p}`);
  }
  return taken;
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
