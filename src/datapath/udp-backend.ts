// flannel's udp backend: bare IPv4 packets carried in UDP (no header of
// its own, port 8285 by default) between the hosts' TUN devices. The two
// stages as pure batch functions, as flannel's proxy does them
// (pkg/backend/udp/proxy_amd64.c), and better where it left things out:
//
// TUN → wire (tunToWireBatch), per packet, each outcome counted:
//   1. one whole IPv4 packet (version 4, IHL, Total Length)   tx_drop_not_ipv4
//   2. no larger than the TUN's MTU                           tx_drop_too_big
//   3. a route: the lease whose subnet holds the destination,
//      longest prefix first (fdb/route-table.ts)              tx_drop_no_route → ICMP net unreachable
//   4. TTL − 1, the header checksum patched (RFC 1624)        tx_drop_ttl_expired → ICMP time exceeded
//   5. a send-list entry: the packet itself, to the lease's
//      PublicIP and the backend's port                        tx_unicast
//      (a segment the TUN cut from a super-packet is its headers here and
//      its payload where the read left it, the FrameBatch's tail: the
//      socket gathers both, so no payload is copied)
// wire → TUN (wireToTunBatch), per datagram:
//   0. from a host that holds a lease (sources.ts)            rx_drop_unknown_source
//   1. not cut short by the socket                            rx_drop_truncated
//   2. one whole IPv4 packet                                  rx_drop_not_ipv4
//   3. TTL − 1, checksum patched                              rx_drop_ttl_expired → ICMP time exceeded
//   4. a view of the packet (Total Length; any UDP padding
//      after it is left out) for the TUN write                rx_frames
//
// Where flannel differs: it answers no route with "net unreachable" but
// leaves TTL 0 as a TODO, and sends no error about any ICMP packet at all;
// here both are answered, never about an ICMP error message, a non-first
// fragment, or a packet whose source is not a unicast host or whose
// destination is multicast or broadcast (RFC 1122 §3.2.2, RFC 1812
// §4.3.2.7), within the data path's ICMP rate limit (dp.icmp). The answer
// is written into the TUN as if from the packet's destination, as pmtu.ts
// does: the TUN's own address as source is a martian to the kernel that
// reads it back (a local address arriving on an interface). It quotes the
// invoking packet up to 576 bytes (RFC 1812 §4.3.2.3). flannel also takes
// non-IPv4 packets as IPv4; here they are dropped and counted.
//
// Ownership as in datapath.ts: outputs are views into the input's slab,
// the answers go into the caller's reply batch (newReplyBatch), nothing
// allocates per packet and nothing a peer sends can throw.

import type { Datapath } from './datapath.js';
import type { DatagramBatch, FrameBatch, SendList } from '../io/batch.js';
import type { RouteTable } from '../fdb/route-table.js';
import { C } from './counters.js';
import { REPLY_SLOT, unicastV4, writeIcmpV4Header } from './pmtu.js';
import { HEADROOM } from '../io/batch.js';
import { Ipv4View, IPV4_HEADER_LEN, IPPROTO_ICMP } from '../wire/ipv4.js';
import {
  IcmpView, ICMP_HEADER_LEN, ICMP_DEST_UNREACH, ICMP_NET_UNREACH, ICMP_TIME_EXCEEDED, ICMP_TTL_EXCEEDED,
  ICMPV4_ERROR_MAX, isIcmpV4Error,
} from '../wire/icmp.js';

/** What both stages read: the data path's tables and counters, the lease routes, the TUN's MTU. */
export interface UdpBackend {
  dp: Datapath;
  routes: RouteTable;
  /** The TUN's MTU: a larger packet from it is dropped (tx_drop_too_big). */
  mtu: number;
}

const ip = new Ipv4View();
const icmp = new IcmpView();

/**
 * Builds ICMP `type`/`code` about the IPv4 packet at `src[off..)` (checked
 * valid by the caller) at `dst[dOff]`, as a bare IP packet from the
 * packet's destination to its source. Returns its length, or 0 when the
 * packet gets no answer (the cases in the file's opening). `dst` needs
 * ICMPV4_ERROR_MAX bytes from `dOff`. `have`: the bytes of the packet that
 * lie at `off` (a cut segment's headers, its payload elsewhere), the most
 * quoted; the headers hold more than the 64 bits of data RFC 792 asks for.
 */
export function buildIcmpError(src: Buffer, off: number, type: number, code: number, dst: Buffer, dOff: number, have = Infinity): number {
  const p = ip.bind(src, off);
  const s = p.src(), d = p.dst();
  if (!unicastV4(s) || !unicastV4(d) || p.fragmentOffset() !== 0) return 0;
  if (p.protocol() === IPPROTO_ICMP && p.payloadLength() > 0 && isIcmpV4Error(src[p.payloadOffset()])) return 0;
  const total = Math.min(ICMPV4_ERROR_MAX, IPV4_HEADER_LEN + ICMP_HEADER_LEN + Math.min(p.totalLength(), have));
  const quote = total - IPV4_HEADER_LEN - ICMP_HEADER_LEN;
  writeIcmpV4Header(dst, dOff, total, d, s, 0);
  const icmpOff = dOff + IPV4_HEADER_LEN;
  src.copy(dst, icmpOff + ICMP_HEADER_LEN, off, off + quote);
  const m = icmp.bind(dst, icmpOff);
  m.setType(type);
  m.setCode(code);
  m.setRest(0);
  m.fillChecksumV4(ICMP_HEADER_LEN + quote);
  return total;
}

/** Answers the packet at `buf[off..)` (`have` bytes of it there) into `replies` within the rate limit; counts what happened. */
function answer(dp: Datapath, buf: Buffer, off: number, have: number, type: number, replies: FrameBatch, nowMs: number): void {
  if (dp.icmp === null || replies.count >= replies.capacity) return;
  const c = dp.counters.v;
  const at = replies.count * REPLY_SLOT + HEADROOM;
  const code = type === ICMP_TIME_EXCEEDED ? ICMP_TTL_EXCEEDED : ICMP_NET_UNREACH;
  const n = buildIcmpError(buf, off, type, code, replies.buf, at, have);
  if (n === 0) return;
  if (!dp.icmp.take(0, nowMs)) { c[C.icmp_error_limited]++; return; }
  replies.push(at, n);
  c[type === ICMP_TIME_EXCEEDED ? C.icmp_time_exceeded_sent : C.icmp_unreachable_sent]++;
}

/**
 * TUN → wire: `pkts` (bare IPv4 packets) become `sends` (each packet itself,
 * TTL − 1, to its lease's peer); the answers to packets with no route or no
 * TTL left go into `replies` (from newReplyBatch) for the TUN.
 */
export function tunToWireBatch(be: UdpBackend, pkts: FrameBatch, sends: SendList, replies: FrameBatch, nowMs: number): void {
  const dp = be.dp, c = dp.counters.v, routes = be.routes, mtu = be.mtu;
  const b = pkts.buf;
  sends.count = 0;
  sends.tooBigCount = 0;
  replies.count = 0;
  c[C.tx_frames] += pkts.count;
  for (let i = 0; i < pkts.count; i++) {
    const off = pkts.off[i], len = pkts.len[i], tail = pkts.tailLen[i];
    c[C.tx_bytes] += len;
    const p = ip.bind(b, off);
    // A cut segment is exactly as long as its header says (tap-read.ts writes both).
    if (!p.isValid(len) || (tail > 0 && p.totalLength() !== len)) { c[C.tx_drop_not_ipv4]++; continue; }
    const total = p.totalLength();
    if (total > mtu) { c[C.tx_drop_too_big]++; continue; }
    const peer = routes.lookup(p.dst());
    if (peer < 0) { c[C.tx_drop_no_route]++; answer(dp, b, off, len - tail, ICMP_DEST_UNREACH, replies, nowMs); continue; }
    if (p.decrementTtl() === 0) { c[C.tx_drop_ttl_expired]++; answer(dp, b, off, len - tail, ICMP_TIME_EXCEEDED, replies, nowMs); continue; }
    if (sends.count >= sends.capacity) { c[C.tx_drop_send_full]++; continue; }
    const k = sends.count++;
    sends.off[k] = off;
    sends.len[k] = total;
    sends.peer[k] = peer;
    sends.from[k] = i;
    sends.tailOff[k] = pkts.tailOff[i];
    sends.tailLen[k] = tail;
    sends.srcPort[k] = 0;
    c[C.tx_unicast]++;
  }
  c[C.tx_datagrams] += sends.count;
}

/**
 * wire → TUN: `dgrams` (UDP payloads, each a bare IPv4 packet) become `out`
 * (views into the same slab, TTL − 1, `from` the datagram's index); answers
 * to packets with no TTL left go into `replies` for the TUN, which routes
 * them back out. Returns the index of the last datagram dropped, or -1.
 */
export function wireToTunBatch(be: UdpBackend, dgrams: DatagramBatch, out: FrameBatch, replies: FrameBatch, nowMs: number): number {
  const dp = be.dp, c = dp.counters.v;
  const b = dgrams.buf, sa = dgrams.srcAddr;
  const knownOnly = dp.knownSourcesOnly, sources = dp.sources;
  if (out.capacity < dgrams.count) throw new RangeError(`udp backend: output batch holds ${out.capacity}, input has ${dgrams.count}`);
  out.buf = b;
  out.count = 0;
  replies.count = 0;
  c[C.rx_datagrams] += dgrams.count;
  let dropped = -1;
  // The last source found known in this batch, as decap.ts keeps it: a batch
  // is mostly one host's, the set cannot change during the call, and a
  // call per datagram would box the address words (above 2^31) each time.
  let k0 = -1, k1 = -1, k2 = -1, k3 = -1;
  for (let i = 0; i < dgrams.count; i++) {
    const a = i * 4, off = dgrams.off[i], len = dgrams.len[i];
    if (knownOnly && (sa[a + 3] !== k3 || sa[a + 2] !== k2 || sa[a + 1] !== k1 || sa[a] !== k0)) {
      if (!sources.has(sa[a], sa[a + 1], sa[a + 2], sa[a + 3])) { c[C.rx_drop_unknown_source]++; dropped = i; continue; }
      k0 = sa[a]; k1 = sa[a + 1]; k2 = sa[a + 2]; k3 = sa[a + 3];
    }
    let drop = -1;
    if (len < 0) drop = C.rx_drop_truncated;
    else if (!ip.bind(b, off).isValid(len)) drop = C.rx_drop_not_ipv4;
    else if (ip.decrementTtl() === 0) { drop = C.rx_drop_ttl_expired; answer(dp, b, off, len, ICMP_TIME_EXCEEDED, replies, nowMs); }
    if (drop >= 0) { c[drop]++; dropped = i; continue; }
    const total = ip.totalLength();
    out.push(off, total, 0, i);
    c[C.rx_frames]++;
    c[C.rx_bytes] += total;
  }
  return dropped;
}
