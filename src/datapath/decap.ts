// Decap: a batch of UDP payloads with their underlay sources → validated
// inner Ethernet frames (views into the same slab) and learning. Stage 1 of
// the wire → TAP direction; see datapath.ts for the whole journey.
//
// Checks, in order, each with its own counted drop reason:
//   0. the source is a known VTEP (only when the data
//      path knows its peers: knownSourcesOnly)            rx_drop_unknown_source
//   1. length: VXLAN header + an Ethernet header          rx_drop_too_short,
//                                                          rx_drop_truncated
//   2. RFC 7348 §5: I flag set                             rx_drop_no_i_flag
//   3. RFC 7348 §5: reserved bits zero (Linux; optional)   rx_drop_reserved_bits
//   4. VNI configured here                                 rx_drop_unknown_vni
//   5. inner source MAC unicast and non-zero               rx_drop_bad_src_mac
//   6. inner source MAC not one of ours (a loop)           rx_drop_own_mac
//   7. RFC 6040 §4.2: an outer CE on a Not-ECT inner IP    rx_drop_ecn_not_ect
//      packet (wire/ecn.ts); an outer CE on an ECT one
//      marks it CE (rx_ecn_ce), an outer ECT(1) makes an
//      inner ECT(0) ECT(1)
//   8. learning: source MAC → source VTEP                  rx_drop_static_conflict,
//                                                          rx_drop_fdb_full,
//                                                          rx_drop_peer_table_full
// Nothing here can throw: every read is behind the length check of step 1,
// and the tables have fixed capacity.
//
// A later datagram of one GRO message (DatagramBatch.follows: the same
// source and outer ECN field) whose VXLAN header and inner source MAC are
// the datagram before's, which was let through with a Not-ECT outer field,
// passes checks 0 and 2–8 as that one did and would learn nothing new: only
// its length is checked. The datagrams one GRO message carries are one
// sender's segments of one inner flow, so nearly every datagram after a
// message's first takes that way.
//
// Learning records the datagram's source IP with the VNI's configured
// destination port, not the datagram's source port: VTEPs (Linux among them)
// send from a per-flow source port (RFC 7348 §5) but listen on the VXLAN
// port, so the source port is not where replies go.

import type { Datapath } from './datapath.js';
import type { DatagramBatch, FrameBatch } from '../io/batch.js';
import { C } from './counters.js';
import { VNI_RX_BYTES, VNI_RX_FRAMES, type VniState } from './vni.js';
import { VXLAN_HEADER_LEN, VXLAN_FLAG_I } from '../wire/vxlan.js';
import { ETH_HEADER_LEN } from '../wire/ethernet.js';
import { decapEcn, frameEcn, setFrameEcn, ECN_CE, ECN_DROP, ECN_NO_IP } from '../wire/ecn.js';
import { LEARN_NEW, LEARN_MOVED, LEARN_STATIC_CONFLICT, LEARN_FULL } from '../fdb/fdb.js';

export function decapBatch(dp: Datapath, dgrams: DatagramBatch, out: FrameBatch, nowMs: number): void {
  const c = dp.counters.v;
  const b = dgrams.buf;
  const fdb = dp.fdb;
  const peers = dp.peers;
  const strict = dp.strictReserved;
  const knownOnly = dp.knownSourcesOnly, sources = dp.sources, sa = dgrams.srcAddr, ecn = dgrams.ecn;
  // The last source found known in this batch: a batch is mostly from one
  // VTEP, and the set cannot change during the call. Words are unsigned, so -1 never matches.
  let k0 = -1, k1 = -1, k2 = -1, k3 = -1;
  // The last (source, VNI, inner source MAC) learned in this batch: the
  // datagrams of one GRO message are one sender's, usually one inner flow's,
  // and learning it again at the same time would change nothing.
  let l0 = -1, l1 = -1, l2 = -1, l3 = -1, lVni = -1, lHi = -1, lLo = -1;
  // The last VNI looked up, and what it found (the set cannot change during the call).
  let lastVni = -1, lastV: VniState | undefined;
  // The datagram before, when it was let through with a Not-ECT outer
  // field (pV set): its VXLAN header and inner source MAC, as words.
  const follows = dgrams.follows, dv = viewOf(b);
  let pV: VniState | undefined, p0 = 0, p1 = 0, p2 = 0, p3 = 0;
  if (out.capacity < dgrams.count) throw new RangeError(`decap: output batch holds ${out.capacity}, input has ${dgrams.count}`);
  out.buf = b;
  out.count = 0;
  // Counted in locals and added once a batch (nothing below throws).
  c[C.rx_datagrams] += dgrams.count;
  let bytes = 0;
  for (let i = 0; i < dgrams.count; i++) {
    const off = dgrams.off[i];
    const len = dgrams.len[i];
    if (pV !== undefined && follows[i] === 1 && len >= VXLAN_HEADER_LEN + ETH_HEADER_LEN && off + len <= b.length
      && dv.getInt32(off, true) === p0 && dv.getInt32(off + 4, true) === p1
      && dv.getInt32(off + VXLAN_HEADER_LEN + 6, true) === p2 && dv.getUint16(off + VXLAN_HEADER_LEN + 10, true) === p3) {
      bytes += len - VXLAN_HEADER_LEN;
      pV.counters[VNI_RX_FRAMES]++;
      pV.counters[VNI_RX_BYTES] += len - VXLAN_HEADER_LEN;
      out.push(off + VXLAN_HEADER_LEN, len - VXLAN_HEADER_LEN, pV.vni, i);
      continue;
    }
    pV = undefined;
    // Before anything else: nothing from a stranger is looked at (sources.ts).
    const a = i * 4;
    if (knownOnly && (sa[a + 3] !== k3 || sa[a + 2] !== k2 || sa[a + 1] !== k1 || sa[a] !== k0)) {
      if (!sources.has(sa[a], sa[a + 1], sa[a + 2], sa[a + 3])) { c[C.rx_drop_unknown_source]++; continue; }
      k0 = sa[a]; k1 = sa[a + 1]; k2 = sa[a + 2]; k3 = sa[a + 3];
    }
    // The socket reports a datagram longer than its slot as -1.
    if (len < 0) { c[C.rx_drop_truncated]++; continue; }
    if (len < VXLAN_HEADER_LEN + ETH_HEADER_LEN || off + len > b.length) { c[C.rx_drop_too_short]++; continue; }
    const flags = b[off];
    if ((flags & VXLAN_FLAG_I) === 0) { c[C.rx_drop_no_i_flag]++; continue; }
    if (strict && ((flags & ~VXLAN_FLAG_I) | b[off + 1] | b[off + 2] | b[off + 3] | b[off + 7]) !== 0) {
      c[C.rx_drop_reserved_bits]++; continue;
    }
    const vni = (b[off + 4] << 16) | (b[off + 5] << 8) | b[off + 6];
    if (vni !== lastVni) { lastV = dp.vnis.get(vni); lastVni = vni; }
    const v = lastV;
    if (v === undefined) { c[C.rx_drop_unknown_vni]++; continue; }

    const eth = off + VXLAN_HEADER_LEN;
    const s = eth + 6; // inner source MAC
    const hi = (b[s] << 8) | b[s + 1];
    const lo = ((b[s + 2] << 24) | (b[s + 3] << 16) | (b[s + 4] << 8) | b[s + 5]) >>> 0;
    if ((b[s] & 1) !== 0 || (hi === 0 && lo === 0)) { c[C.rx_drop_bad_src_mac]++; continue; }
    if (v.isLocalMac(hi, lo)) { c[C.rx_drop_own_mac]++; continue; }
    // Not-ECT outside (nearly every datagram) leaves the inner packet as it is.
    if (ecn[i] !== 0) {
      const inner = frameEcn(b, eth, len - VXLAN_HEADER_LEN);
      const now = inner === ECN_NO_IP ? inner : decapEcn(ecn[i], inner);
      if (now === ECN_DROP) { c[C.rx_drop_ecn_not_ect]++; continue; }
      if (now !== inner && setFrameEcn(b, eth, len - VXLAN_HEADER_LEN, now) && now === ECN_CE) c[C.rx_ecn_ce]++;
    }

    if (lo !== lLo || hi !== lHi || vni !== lVni || sa[a + 3] !== l3 || sa[a + 2] !== l2 || sa[a + 1] !== l1 || sa[a] !== l0) {
      const known = peers.find(sa[a], sa[a + 1], sa[a + 2], sa[a + 3], v.port);
      if (known < 0 || !fdb.refresh(vni, b, s, known, nowMs)) {
        // Something changes: the peer is interned and the MAC learned in one
        // turn of the tables' lock, so no other thread frees the new peer
        // between the two (fdb/mem.ts).
        const r = learnLocked(dp, sa, a, v.port, vni, b, s, nowMs);
        if (r === PEER_FULL) { c[C.rx_drop_peer_table_full]++; continue; }
        if (r === LEARN_STATIC_CONFLICT) { c[C.rx_drop_static_conflict]++; continue; }
        if (r === LEARN_FULL) { c[C.rx_drop_fdb_full]++; continue; }
        if (r === LEARN_NEW) c[C.fdb_learned]++;
        else if (r === LEARN_MOVED) c[C.fdb_moved]++;
      }
      l0 = sa[a]; l1 = sa[a + 1]; l2 = sa[a + 2]; l3 = sa[a + 3]; lVni = vni; lHi = hi; lLo = lo;
    }

    bytes += len - VXLAN_HEADER_LEN;
    v.counters[VNI_RX_FRAMES]++;
    v.counters[VNI_RX_BYTES] += len - VXLAN_HEADER_LEN;
    out.push(eth, len - VXLAN_HEADER_LEN, vni, i);
    if (ecn[i] === 0) {
      pV = v;
      p0 = dv.getInt32(off, true); p1 = dv.getInt32(off + 4, true);
      p2 = dv.getInt32(s, true); p3 = dv.getUint16(s + 4, true);
    }
  }
  c[C.rx_frames] += out.count;
  c[C.rx_bytes] += bytes;
}

/** A DataView of the slab decap reads, kept while the slab stays the same (one per socket, not per call). */
let viewBuf: Buffer | null = null;
let view: DataView = new DataView(new ArrayBuffer(0));
function viewOf(b: Buffer): DataView {
  if (b !== viewBuf) {
    viewBuf = b;
    view = new DataView(b.buffer, b.byteOffset, b.length);
  }
  return view;
}

/** learn's answer when the peer table had no room for the source. */
const PEER_FULL = -1;

/** Interns the source at sa[a..a+4) and learns the MAC at b[s] behind it, under the tables' lock; a refused peer is released. */
function learnLocked(dp: Datapath, sa: Uint32Array, a: number, port: number, vni: number, b: Uint8Array, s: number, nowMs: number): number {
  const peers = dp.peers;
  peers.mem.lock();
  try {
    const peer = peers.intern(sa[a], sa[a + 1], sa[a + 2], sa[a + 3], port);
    if (peer < 0) return PEER_FULL;
    const r = dp.fdb.learn(vni, b, s, peer, nowMs);
    if (r === LEARN_STATIC_CONFLICT || r === LEARN_FULL) peers.releaseIfUnused(peer);
    return r;
  } finally {
    peers.mem.unlock();
  }
}
