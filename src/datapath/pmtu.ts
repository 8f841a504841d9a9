// Path MTU discovery through the tunnel: answering frames that are too big.
//
// Design notes. Every frame weft carries costs 50 bytes of outer headers
// (70 over IPv6), so the overlay's MTU (the TAP's) is smaller than the
// underlay's, and a frame larger than it cannot be carried (weft does not
// fragment). Encap drops such a frame (tx_drop_too_big) and remembers it in
// the send list; this file then tells the sender, the way a router would,
// so its path MTU discovery (RFC 1191, RFC 8201) settles on the overlay MTU
// instead of black-holing:
//   - IPv4 with DF set: ICMP Destination Unreachable, code 4 "fragmentation
//     needed and DF set", with the MTU as the next-hop MTU (RFC 1191 §4);
//     without DF the frame is only dropped: the sender asked for
//     fragmentation by a router, which weft is not;
//   - IPv6: ICMPv6 Packet Too Big with the MTU (RFC 4443 §3.2).
// The answer is written into the TAP the frame came from, as if from the
// frame's destination: Ethernet and IP addresses swapped (and the VLAN tag
// kept), so the sending host's stack takes it like any ICMP error from
// that path — the approach of the Linux kernel's PMTU discovery for bridged
// tunnels (iptunnel_pmtud_build_icmp, ip_tunnel_core.c). The sender's own
// address as source would be a martian to its stack, and weft has no
// address of its own in the overlay.
//
// No error is sent about a frame whose destination is multicast or
// broadcast (Ethernet or IP), whose source is not a unicast host address,
// about a non-initial fragment, or about an ICMP error (RFC 1122 §3.2.2,
// RFC 4443 §2.4 (e)). The answer quotes as much of the invoking packet as
// fits in 576 bytes for IPv4 (RFC 1812 §4.3.2.3) or 1280 for IPv6 (RFC 4443
// §2.4 (c)), and never more than the MTU. Answers are rate-limited by one
// token bucket (dp.icmp, like Linux's icmp_msgs_per_sec), so a flood of big
// frames makes at most --icmp-rate answers a second; the rest are counted
// as icmp_too_big_limited.
//
// Nothing here allocates: the views are bound to the caller's buffers, and
// the answers go into a slab the caller owns (newReplyBatch).

import type { Datapath } from './datapath.js';
import type { VniState } from './vni.js';
import { FrameBatch, HEADROOM, TOO_BIG_PER_BATCH, copyFrame, type SendList } from '../io/batch.js';
import { C } from './counters.js';
import { EthernetView, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { Ipv4View, IPV4_HEADER_LEN, IPV4_FLAG_DF, IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../wire/ipv4.js';
import { Ipv6View, IPV6_HEADER_LEN } from '../wire/ipv6.js';
import {
  IcmpView, ICMP_HEADER_LEN, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMPV6_PACKET_TOO_BIG,
  ICMPV4_ERROR_MAX, ICMPV6_ERROR_MAX, isIcmpV4Error, isIcmpV6Error,
} from '../wire/icmp.js';

/** TTL / hop limit of the answers (Linux's default for locally generated packets). */
const ANSWER_TTL = 64;
/** One answer's slot in the reply slab: headroom, a tagged Ethernet header, the largest answer. */
export const REPLY_SLOT = (HEADROOM + 18 + ICMPV6_ERROR_MAX + 63) & ~63;

/** A batch with a slab for one batch's answers, for answerTooBig. */
export function newReplyBatch(): FrameBatch {
  return new FrameBatch(TOO_BIG_PER_BATCH, Buffer.alloc(TOO_BIG_PER_BATCH * REPLY_SLOT));
}

const inEth = new EthernetView();
const outEth = new EthernetView();
const inIp4 = new Ipv4View();
const outIp4 = new Ipv4View();
const inIp6 = new Ipv6View();
const outIp6 = new Ipv6View();
const icmp = new IcmpView();

/**
 * Builds the ICMP answer to the too-big frame at `src[off..off+len)` for an
 * overlay MTU of `mtu`, at `dst[dOff]`; returns its length, or 0 when the
 * frame gets none (not IPv4 with DF or IPv6, no bigger than `mtu` as a
 * packet, or one of the cases above). `dst` needs REPLY_SLOT - HEADROOM bytes
 * from `dOff`.
 */
export function buildTooBig(src: Buffer, off: number, len: number, mtu: number, dst: Buffer, dOff: number): number {
  const e = inEth.bind(src, off);
  if (!e.checkLen(len) || e.dstIsMulticast() || e.srcIsMulticast() || e.srcIsZero()) return 0;
  const hl = e.isTagged() ? 18 : 14;
  const type = e.innerEtherType();
  const ipOff = off + hl, ipLen = len - hl;

  let quote: number, icmpOff: number, total: number;
  if (type === ETHERTYPE_IPV4) {
    const ip = inIp4.bind(src, ipOff);
    if (!ip.isValid(ipLen) || !ip.dontFragment() || ip.fragmentOffset() !== 0 || ip.totalLength() <= mtu) return 0;
    if (!unicastV4(ip.src()) || !unicastV4(ip.dst())) return 0;
    if (ip.protocol() === IPPROTO_ICMP && ip.payloadLength() > 0 && isIcmpV4Error(src[ip.payloadOffset()])) return 0;
    total = Math.min(ICMPV4_ERROR_MAX, mtu, IPV4_HEADER_LEN + ICMP_HEADER_LEN + ip.totalLength());
    quote = total - IPV4_HEADER_LEN - ICMP_HEADER_LEN;
    if (quote < IPV4_HEADER_LEN) return 0;
    writeIcmpV4Header(dst, dOff + hl, total, ip.dst(), ip.src(), IPV4_FLAG_DF);
    icmpOff = dOff + hl + IPV4_HEADER_LEN;
    src.copy(dst, icmpOff + ICMP_HEADER_LEN, ipOff, ipOff + quote);
    const m = icmp.bind(dst, icmpOff);
    m.setType(ICMP_DEST_UNREACH);
    m.setCode(ICMP_FRAG_NEEDED);
    m.setNextHopMtu(mtu);
    m.fillChecksumV4(ICMP_HEADER_LEN + quote);
  } else if (type === ETHERTYPE_IPV6) {
    const ip = inIp6.bind(src, ipOff);
    if (!ip.isValid(ipLen) || IPV6_HEADER_LEN + ip.payloadLength() <= mtu) return 0;
    if (!unicastV6Src(src, ip.srcOff()) || src[ip.dstOff()] === 0xff) return 0;
    if (ip.nextHeader() === IPPROTO_ICMPV6 && ip.payloadLength() > 0 && isIcmpV6Error(src[ip.payloadOffset()])) return 0;
    total = Math.min(ICMPV6_ERROR_MAX, mtu, IPV6_HEADER_LEN + ICMP_HEADER_LEN + IPV6_HEADER_LEN + ip.payloadLength());
    quote = total - IPV6_HEADER_LEN - ICMP_HEADER_LEN;
    if (quote < IPV6_HEADER_LEN) return 0;
    const o = outIp6.bind(dst, dOff + hl);
    o.setVersion(6);
    o.setTrafficClass(0);
    o.setFlowLabel(0);
    o.setPayloadLength(ICMP_HEADER_LEN + quote);
    o.setNextHeader(IPPROTO_ICMPV6);
    o.setHopLimit(ANSWER_TTL);
    o.setSrc(src, ip.dstOff());
    o.setDst(src, ip.srcOff());
    icmpOff = o.payloadOffset();
    src.copy(dst, icmpOff + ICMP_HEADER_LEN, ipOff, ipOff + quote);
    const m = icmp.bind(dst, icmpOff);
    m.setType(ICMPV6_PACKET_TOO_BIG);
    m.setCode(0);
    m.setMtu(mtu);
    m.fillChecksumV6(ICMP_HEADER_LEN + quote, o.srcOff(), o.dstOff());
  } else {
    return 0;
  }

  // Ethernet: back to the sender, from the frame's destination, in its VLAN.
  const oe = outEth.bind(dst, dOff);
  oe.setDstFrom(src, off + 6);
  oe.setSrcFrom(src, off);
  if (hl === 18) {
    src.copy(dst, dOff + 12, off + 12, off + 16); // TPID and TCI
    oe.setInnerEtherType(type);
  } else {
    oe.setEtherType(type);
  }
  return hl + total;
}

/** Where a split frame is put together before it is quoted (grown if ever needed). */
let whole = Buffer.alloc(0);

/**
 * Answers the frames encap dropped as too big (`sends.tooBig`, indices into
 * `frames`) into `out` (from newReplyBatch), within the ICMP rate limit.
 * Returns the number of answers; the caller writes them into the TAP.
 */
export function answerTooBig(dp: Datapath, v: VniState, frames: FrameBatch, sends: SendList, out: FrameBatch, nowMs: number): number {
  out.count = 0;
  if (v.mtu === 0 || dp.icmp === null) return 0;
  const c = dp.counters.v;
  for (let k = 0; k < sends.tooBigCount && out.count < out.capacity; k++) {
    const i = sends.tooBig[k];
    const at = out.count * REPLY_SLOT + HEADROOM;
    let n: number;
    if (frames.tailLen[i] > 0) {
      // A segment with its payload elsewhere: whole in a scratch first (rare: a TAP MTU raised by hand).
      if (whole.length < frames.len[i]) whole = Buffer.alloc(frames.len[i]);
      n = buildTooBig(whole, 0, copyFrame(frames, i, whole, 0), v.mtu, out.buf, at);
    } else {
      n = buildTooBig(frames.buf, frames.off[i], frames.len[i], v.mtu, out.buf, at);
    }
    if (n === 0) continue;
    if (!dp.icmp.take(0, nowMs)) { c[C.icmp_too_big_limited]++; continue; }
    out.push(at, n, v.vni, i);
  }
  return out.count;
}

/**
 * The IPv4 header of an ICMP answer at `dst[at]`: `total` bytes long, from
 * `from` to `to` (the packet answered's destination and source), with
 * `flags` (DF for a too-big answer, RFC 1191; none for the udp backend's).
 */
export function writeIcmpV4Header(dst: Buffer, at: number, total: number, from: number, to: number, flags: number): void {
  const o = outIp4.bind(dst, at);
  dst[at] = 0x45; // version 4, IHL 20
  dst[at + 1] = 0;
  o.setTotalLength(total);
  o.setId(0);
  o.setFlags(flags);
  o.setFragmentOffset(0);
  o.setTtl(ANSWER_TTL);
  o.setProtocol(IPPROTO_ICMP);
  o.setSrc(from);
  o.setDst(to);
  o.fillChecksum();
}

/** A unicast host address: not 0/8, loopback 127/8, multicast 224/4 or the reserved 240/4 (limited broadcast included). */
export function unicastV4(a: number): boolean {
  const top = a >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}

/** Not unspecified (::), loopback (::1) or multicast (ff00::/8). */
function unicastV6Src(b: Buffer, o: number): boolean {
  if (b[o] === 0xff) return false;
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return true;
  return b[o + 15] > 1;
}
