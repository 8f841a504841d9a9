// Encap: a batch of Ethernet frames from the TAP → VXLAN payloads and the
// VTEPs they go to. Stage 1 of the TAP → wire direction; see datapath.ts for
// the whole journey.
//
// Each frame sits in its slab with at least 8 bytes free in front of it
// (HEADROOM). The VXLAN header is written into those bytes, so the payload
// handed to the socket is (off - 8, len + 8) of the same slab: the frame is
// never copied. A flooded frame yields one send-list entry per peer, all
// pointing at the same bytes (head-end replication without copies).
//
// Checks, in order, each with its own counted drop reason:
//   1. at least an Ethernet header                        tx_drop_too_short
//   2. within the VNI's MTU: mtu + 14, + 4 when tagged     tx_drop_too_big
//      (remembered in out.tooBig for answerTooBig, pmtu.ts)
//   3. headroom for the VXLAN header                       tx_drop_no_headroom
//   4. a destination: the MAC's VTEP, or the flood list    tx_drop_no_destination
//   5. a flooded frame within its source MAC's budget      tx_drop_bum_rate
//      (dp.bum, per VNI and source MAC; time is `nowMs`)
//
// Each datagram carries the outer ECN field the socket sets (RFC 6040 §4.1,
// wire/ecn.ts: the inner field copied) and, when the port sends from
// per-flow source ports, the port from the inner flow's hash (flowhash.ts).
//
// A later segment of a super-frame (FrameBatch.follows) whose first went
// out unicast takes the first's way: its headers are the same but for
// lengths, IP ID, sequence, flags and checksums, and it is no longer, so
// it passes every check above, goes to the same VTEP with the same ECN
// field and hashes to the same port. Only its VXLAN header is written:
// the checks and the hash run once per super-frame, not per segment.

import type { Datapath } from './datapath.js';
import type { FrameBatch, SendList } from '../io/batch.js';
import type { VniState } from './vni.js';
import { C } from './counters.js';
import { VXLAN_HEADER_LEN, VXLAN_FLAG_I } from '../wire/vxlan.js';
import { ETH_HEADER_LEN, ETHERTYPE_QINQ, ETHERTYPE_VLAN } from '../wire/ethernet.js';
import { flowSourcePort } from './flowhash.js';
import { encapEcn, frameEcn } from '../wire/ecn.js';
import { VNI_TX_BYTES, VNI_TX_FRAMES } from './vni.js';

export function encapBatch(dp: Datapath, v: VniState, frames: FrameBatch, out: SendList, nowMs: number): void {
  const c = dp.counters.v;
  const fdb = dp.fdb;
  const bum = dp.bum;
  const b = frames.buf;
  const vni = v.vni;
  const maxLen = v.maxFrameLen, maxUntagged = v.maxUntaggedLen;
  let bytes = 0;
  // The last unicast destination looked up in this batch: the segments of
  // one super-frame all go to one MAC, and the table cannot change meanwhile.
  let lastHi = -1, lastLo = 0, lastPeer = -1;
  out.count = 0;
  out.tooBigCount = 0;
  // Counted in locals and added once a batch: a super-frame's segments are many.
  let unicast = 0;
  // How the frame before went, when it went out unicast (prevPeer ≥ 0).
  const follows = frames.follows;
  let prevPeer = -1, prevSport = 0, prevEcn = 0;
  for (let i = 0; i < frames.count; i++) {
    const off = frames.off[i];
    const len = frames.len[i];
    bytes += len;
    if (prevPeer >= 0 && follows[i] === 1) {
      if (out.count === out.capacity) { c[C.tx_drop_send_full]++; continue; }
      writeVxlan(b, off - VXLAN_HEADER_LEN, vni);
      push(out, off - VXLAN_HEADER_LEN, len + VXLAN_HEADER_LEN, prevPeer, prevSport, prevEcn, i, frames);
      unicast++;
      continue;
    }
    prevPeer = -1;
    if (len < ETH_HEADER_LEN) { c[C.tx_drop_too_short]++; continue; }
    // The 4 bytes of an 802.1Q or 802.1ad tag are not part of the MTU.
    if (len > maxUntagged && (len > maxLen || !isTagged(b, off))) {
      c[C.tx_drop_too_big]++;
      if (out.tooBigCount < out.tooBig.length) out.tooBig[out.tooBigCount++] = i;
      continue;
    }
    if (off < VXLAN_HEADER_LEN) { c[C.tx_drop_no_headroom]++; continue; }

    // Destination: a known unicast MAC goes to its one VTEP; broadcast,
    // multicast (I/G bit set) and unknown unicast go to the flood list.
    let peer = -1;
    if ((b[off] & 1) === 0) {
      const hi = (b[off] << 8) | b[off + 1];
      const lo = (b[off + 2] << 24) | (b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5];
      if (lo === lastLo && hi === lastHi) peer = lastPeer;
      else { peer = lastPeer = fdb.lookup(vni, b, off); lastHi = hi; lastLo = lo; }
    }
    if (peer < 0 && v.flood.count === 0) { c[C.tx_drop_no_destination]++; continue; }
    if (peer < 0 && bum !== null && !bum.allow(vni, b, off + 6, nowMs)) { c[C.tx_drop_bum_rate]++; continue; }

    const h = off - VXLAN_HEADER_LEN;
    writeVxlan(b, h, vni);
    const sport = out.wantSrcPort ? flowSourcePort(b, off, len, out.srcPortMin, out.srcPortMax) : 0;
    const ecn = encapEcn(frameEcn(b, off, len));
    const plen = len + VXLAN_HEADER_LEN;

    if (peer >= 0) {
      if (out.count === out.capacity) { c[C.tx_drop_send_full]++; continue; }
      push(out, h, plen, peer, sport, ecn, i, frames);
      unicast++;
      prevPeer = peer; prevSport = sport; prevEcn = ecn;
      continue;
    }

    // Split horizon: a frame whose source MAC we learned behind some VTEP
    // came from there (looped back through a bridge on this host); flooding
    // it back would echo the sender's own broadcast to it.
    const origin = fdb.lookup(vni, b, off + 6);
    const ids = v.flood.ids;
    let copies = 0;
    for (let k = 0; k < v.flood.count; k++) {
      const p = ids[k];
      if (p === origin) continue;
      if (out.count === out.capacity) { c[C.tx_drop_send_full]++; break; }
      push(out, h, plen, p, sport, ecn, i, frames);
      copies++;
    }
    c[C.tx_flooded]++;
    c[C.tx_flood_copies] += copies;
    c[C.tx_datagrams] += copies;
  }
  c[C.tx_frames] += frames.count;
  c[C.tx_bytes] += bytes;
  c[C.tx_unicast] += unicast;
  c[C.tx_datagrams] += unicast;
  v.counters[VNI_TX_FRAMES] += frames.count;
  v.counters[VNI_TX_BYTES] += bytes;
}

/** RFC 7348 §5: I flag set, the VNI, every reserved bit zero; at b[h], 8 bytes. */
function writeVxlan(b: Uint8Array, h: number, vni: number): void {
  b[h] = VXLAN_FLAG_I; b[h + 1] = 0; b[h + 2] = 0; b[h + 3] = 0;
  b[h + 4] = vni >>> 16; b[h + 5] = vni >>> 8; b[h + 6] = vni; b[h + 7] = 0;
}

function isTagged(b: Uint8Array, off: number): boolean {
  const t = (b[off + 12] << 8) | b[off + 13];
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ;
}

function push(out: SendList, off: number, len: number, peer: number, sport: number, ecn: number, from: number, frames: FrameBatch): void {
  const j = out.count++;
  out.from[j] = from;
  out.tailOff[j] = frames.tailOff[from];
  out.tailLen[j] = frames.tailLen[from];
  out.off[j] = off;
  out.len[j] = len;
  out.peer[j] = peer;
  out.srcPort[j] = sport;
  out.ecn[j] = ecn;
}
