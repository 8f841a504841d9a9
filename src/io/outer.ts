// Outer headers for the pcap twin. In live mode the kernel's UDP stack strips
// Ethernet/IP/UDP on receive and adds them on send; `weft replay` has no
// kernel in the way, so this file does that part by hand, with the same
// checks a receiving host applies and the headers a sending host writes.
//
// Receive checks (each counted): an IPv4 or IPv6 packet (one 802.1Q tag
// allowed) → whole and consistent lengths → IPv4 header checksum → not a
// fragment → UDP → our destination port → UDP checksum.
//
// About "partial" UDP checksums: a capture taken on the sending side of a
// device with checksum offload (veth, most NICs) holds the checksum field as
// the kernel left it for the hardware: the folded pseudo-header sum, not the
// final value. Those datagrams were valid on the wire, so they are accepted
// and counted as `udp_csum_partial`, not dropped. When the inner TCP/UDP
// checksum is itself partial, Linux fills the outer one by "local checksum
// offload" (LCO): a value that becomes right once the inner checksum is
// completed. Such a datagram is verified with the inner checksum completed
// in the arithmetic (never in the bytes, which decap passes on as captured)
// and counted as `udp_csum_lco`. Any other wrong checksum is dropped as
// `bad_udp_checksum`. The udp backend's datagrams (bare IPv4 from a
// userspace socket) are never sent with LCO: for them only a full, zero or
// partial checksum passes, and what passes is counted as `ipv4_datagrams`.

import { EthernetView, ETH_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { Ipv4View, IPV4_HEADER_LEN, IPPROTO_TCP, IPPROTO_UDP, ipv4ToNumber } from '../wire/ipv4.js';
import { Ipv6View, IPV6_HEADER_LEN, ipv6ToBytes } from '../wire/ipv6.js';
import { UdpView, UDP_HEADER_LEN, UDP_OFF_CHECKSUM } from '../wire/udp.js';
import { TCP_OFF_CHECKSUM } from '../wire/tcp.js';
import { pseudoSumV4, pseudoSumV6, sum16, fold, l4Checksum, udpChecksumField } from '../wire/checksum.js';
import { writeMac } from '../wire/mac.js';
import type { DatagramBatch } from './batch.js';
import type { PeerTable } from '../fdb/peers.js';

const OUTER_REASONS = [
  'vxlan_datagrams', 'not_ip', 'truncated', 'bad_ip_checksum', 'fragment', 'ipv6_ext_headers',
  'not_udp', 'not_our_port', 'bad_udp_checksum', 'udp6_zero_checksum', 'udp_csum_partial', 'udp_csum_lco', 'udp_csum_zero',
] as const;
type OuterReason = typeof OUTER_REASONS[number];

function counterObject(names: readonly string[], v: Float64Array): Record<string, number> {
  const o: Record<string, number> = {};
  names.forEach((n, i) => { o[n] = v[i]; });
  return o;
}

/** What the datagrams carry: a VXLAN header and an Ethernet frame, or a bare IPv4 packet (the udp backend). */
export type OuterPayload = 'vxlan' | 'ipv4';

const R = Object.fromEntries(OUTER_REASONS.map((n, i) => [n, i])) as { [K in OuterReason]: number };

/** Is the UDP checksum field the folded pseudo-header sum a sender left for offload? */
function isPartial(field: number, pseudo: number): boolean {
  const p = fold(pseudo);
  return field === p || (p === 0xffff && field === 0) || (p === 0 && field === 0xffff);
}

export class OuterParser {
  readonly port: number;
  private readonly payload: OuterPayload;
  private readonly v = new Float64Array(OUTER_REASONS.length);
  private readonly eth = new EthernetView();
  private readonly ip4 = new Ipv4View();
  private readonly ip6 = new Ipv6View();
  private readonly udp = new UdpView();

  constructor(port: number, payload: OuterPayload = 'vxlan') {
    this.port = port;
    this.payload = payload;
  }

  /** Each outcome by name; the datagrams taken as `vxlan_datagrams` or `ipv4_datagrams`. */
  counters(): Record<string, number> {
    return counterObject(this.payload === 'vxlan' ? OUTER_REASONS : ['ipv4_datagrams', ...OUTER_REASONS.slice(1)], this.v);
  }

  /**
   * Parses the frame at `off` (`len` bytes). On success fills entry `i` of
   * `dg` (payload view, source address and port) and returns true.
   */
  parse(buf: Buffer, off: number, len: number, dg: DatagramBatch, i: number): boolean {
    const c = this.v;
    const eth = this.eth.bind(buf, off);
    if (!eth.checkLen(len)) { c[R.truncated]++; return false; }
    const type = eth.innerEtherType();
    const l3 = eth.payloadOffset();
    const end = off + len;
    let l4: number, l4len: number, pseudo: number;
    const a = i * 4;
    if (type === ETHERTYPE_IPV4) {
      const ip = this.ip4.bind(buf, l3);
      if (!ip.checkLen(end - l3) || ip.version() !== 4 || ip.totalLength() < ip.ihl() || l3 + ip.totalLength() > end) { c[R.truncated]++; return false; }
      if (!ip.checksumOk()) { c[R.bad_ip_checksum]++; return false; }
      if (ip.isFragment()) { c[R.fragment]++; return false; }
      if (ip.protocol() !== IPPROTO_UDP) { c[R.not_udp]++; return false; }
      l4 = ip.payloadOffset();
      l4len = ip.payloadLength();
      pseudo = pseudoSumV4(buf, ip.srcOff(), ip.dstOff(), IPPROTO_UDP, l4len);
      dg.srcAddr[a] = 0; dg.srcAddr[a + 1] = 0; dg.srcAddr[a + 2] = 0xffff; dg.srcAddr[a + 3] = ip.src();
      dg.ecn[i] = buf[l3 + 1] & 3;
    } else if (type === ETHERTYPE_IPV6) {
      const ip = this.ip6.bind(buf, l3);
      dg.ecn[i] = (buf[l3 + 1] >>> 4) & 3;
      if (!ip.checkLen(end - l3) || ip.version() !== 6 || l3 + IPV6_HEADER_LEN + ip.payloadLength() > end) { c[R.truncated]++; return false; }
      // Extension headers before UDP would need walking; VTEPs do not send them.
      if (ip.nextHeader() !== IPPROTO_UDP) {
        if (isExtensionHeader(ip.nextHeader())) c[R.ipv6_ext_headers]++; else c[R.not_udp]++;
        return false;
      }
      l4 = l3 + IPV6_HEADER_LEN;
      l4len = ip.payloadLength();
      pseudo = pseudoSumV6(buf, ip.srcOff(), ip.dstOff(), IPPROTO_UDP, l4len);
      for (let k = 0; k < 4; k++) dg.srcAddr[a + k] = ip.srcWord(k);
    } else {
      c[R.not_ip]++;
      return false;
    }
    const udp = this.udp.bind(buf, l4);
    if (!udp.checkLen(l4len) || udp.length() < UDP_HEADER_LEN || udp.length() > l4len) { c[R.truncated]++; return false; }
    if (udp.dstPort() !== this.port) { c[R.not_our_port]++; return false; }
    const ulen = udp.length();
    const field = udp.checksum();
    if (field === 0) {
      // RFC 768: zero means "not computed" over IPv4; RFC 8200 §8.1 forbids it over IPv6.
      if (type === ETHERTYPE_IPV6) { c[R.udp6_zero_checksum]++; return false; }
      c[R.udp_csum_zero]++;
    } else {
      const ps = pseudo - l4len + ulen;
      const s = sum16(buf, l4, ulen, ps);
      if (fold(s) !== 0xffff) {
        if (isPartial(field, ps)) c[R.udp_csum_partial]++;
        else if (this.payload === 'vxlan' && fold(s + innerCompletion(buf, l4 + UDP_HEADER_LEN + 8, ulen - UDP_HEADER_LEN - 8)) === 0xffff) c[R.udp_csum_lco]++;
        else { c[R.bad_udp_checksum]++; return false; }
      }
    }
    dg.off[i] = l4 + UDP_HEADER_LEN;
    dg.len[i] = ulen - UDP_HEADER_LEN;
    dg.srcPort[i] = udp.srcPort();
    c[R.vxlan_datagrams]++;
    return true;
  }
}

/**
 * For an inner Ethernet frame at `off` whose TCP/UDP checksum is partial (the
 * field holds the folded pseudo-header sum), what completing it would add to
 * a one's-complement sum over the frame: the final field minus the stored
 * one. 0 when there is nothing to complete.
 */
function innerCompletion(buf: Buffer, off: number, len: number): number {
  const end = off + len;
  if (len < ETH_HEADER_LEN) return 0;
  let l3 = off + ETH_HEADER_LEN;
  let type = (buf[off + 12] << 8) | buf[off + 13];
  if (type === 0x8100 && len >= ETH_HEADER_LEN + 4) { type = (buf[off + 16] << 8) | buf[off + 17]; l3 += 4; }
  let l4: number, l4len: number, proto: number, pseudo: number;
  if (type === ETHERTYPE_IPV4 && l3 + IPV4_HEADER_LEN <= end) {
    const ihl = (buf[l3] & 0x0f) * 4;
    proto = buf[l3 + 9];
    l4 = l3 + ihl;
    l4len = ((buf[l3 + 2] << 8) | buf[l3 + 3]) - ihl;
    if (l4len < 0 || l4 + l4len > end) return 0;
    pseudo = pseudoSumV4(buf, l3 + 12, l3 + 16, proto, l4len);
  } else if (type === ETHERTYPE_IPV6 && l3 + IPV6_HEADER_LEN <= end) {
    proto = buf[l3 + 6];
    l4 = l3 + IPV6_HEADER_LEN;
    l4len = (buf[l3 + 4] << 8) | buf[l3 + 5];
    if (l4 + l4len > end) return 0;
    pseudo = pseudoSumV6(buf, l3 + 8, l3 + 24, proto, l4len);
  } else {
    return 0;
  }
  const csumAt = proto === IPPROTO_TCP ? l4 + TCP_OFF_CHECKSUM : proto === IPPROTO_UDP ? l4 + UDP_OFF_CHECKSUM : -1;
  if (csumAt < 0 || csumAt + 2 > l4 + l4len) return 0;
  const stored = (buf[csumAt] << 8) | buf[csumAt + 1];
  if (!isPartial(stored, pseudo)) return 0;
  const final = l4Checksum(buf, l4, l4len, csumAt, pseudo);
  // One's-complement difference: adding (final + ~stored) replaces stored by final.
  return final + (~stored & 0xffff);
}

function isExtensionHeader(nh: number): boolean {
  // RFC 8200 §4: hop-by-hop, routing, fragment, ESP, AH, destination options, mobility.
  return nh === 0 || nh === 43 || nh === 44 || nh === 50 || nh === 51 || nh === 60 || nh === 135;
}

/** Outer MACs for replayed frames: the capture has no ARP to resolve real ones. */
export const REPLAY_SRC_MAC = 0x020000000001;
export const REPLAY_DST_MAC = 0x020000000002;

const ethView = new EthernetView();

/**
 * Writes the made-up Ethernet header at `buf[start]`: from this host
 * (REPLAY_SRC_MAC) to the remote one (REPLAY_DST_MAC), or the other way
 * round when `inbound`.
 */
export function writeReplayEthernet(buf: Buffer, start: number, inbound: boolean, etherType: number): void {
  writeMac(buf, start, inbound ? REPLAY_SRC_MAC : REPLAY_DST_MAC);
  writeMac(buf, start + 6, inbound ? REPLAY_DST_MAC : REPLAY_SRC_MAC);
  ethView.bind(buf, start).setEtherType(etherType);
}
/** Linux's default TTL / hop limit for tunnel packets (ip4_dst_hoplimit). */
const OUTER_TTL = 64;

const BUILD_REASONS = ['outer_ipv4', 'outer_ipv6', 'family_mismatch', 'too_big'] as const;

export class OuterBuilder {
  private readonly v = new Float64Array(BUILD_REASONS.length);
  private readonly local: Buffer;
  private readonly v6: boolean;
  private readonly peers: PeerTable;
  private readonly ip4 = new Ipv4View();
  private readonly ip6 = new Ipv6View();
  private readonly udp = new UdpView();
  private readonly peerAddr = Buffer.alloc(16);
  private ipId = 0;

  constructor(local: string, peers: PeerTable) {
    this.v6 = local.includes(':');
    this.local = this.v6 ? ipv6ToBytes(local) : Buffer.from([0, 0, 0, 0]);
    if (!this.v6) this.local.writeUInt32BE(ipv4ToNumber(local), 0);
    this.peers = peers;
  }

  counters(): Record<string, number> { return counterObject(BUILD_REASONS, this.v); }

  /**
   * Writes UDP, IP and Ethernet headers in front of the payload at `payOff`
   * and returns where the outer frame starts, or -1 if it cannot be built
   * (counted). Needs 62 bytes of headroom for IPv6, 42 for IPv4.
   */
  build(buf: Buffer, payOff: number, payLen: number, peer: number, srcPort: number, ecn = 0): number {
    if (this.peers.isV4(peer) === this.v6) { this.v[2]++; return -1; }
    this.peers.writeAddr(peer, this.peerAddr, 0);
    return this.emit(buf, payOff, payLen, this.local, this.peerAddr, srcPort, this.peers.port(peer), false, ecn);
  }

  /**
   * The same for a datagram that arrived: from the address in `src[a..a+4)`
   * (four words, IPv4-mapped for IPv4, as DatagramBatch holds them) and
   * `srcPort`, to the local address and `dstPort`. For `weft capture`, which
   * shows what the kernel stripped.
   */
  buildInbound(buf: Buffer, payOff: number, payLen: number, src: Uint32Array, a: number, srcPort: number, dstPort: number, ecn = 0): number {
    const v4 = src[a] === 0 && src[a + 1] === 0 && src[a + 2] === 0xffff;
    if (v4 === this.v6) { this.v[2]++; return -1; }
    const p = this.peerAddr;
    if (v4) p.writeUInt32BE(src[a + 3], 0);
    else for (let k = 0; k < 4; k++) p.writeUInt32BE(src[a + k], k * 4);
    return this.emit(buf, payOff, payLen, p, this.local, srcPort, dstPort, true, ecn);
  }

  private emit(buf: Buffer, payOff: number, payLen: number, srcIp: Buffer, dstIp: Buffer,
    srcPort: number, dstPort: number, inbound: boolean, ecn: number): number {
    const c = this.v;
    const ipLen = this.v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    const udpLen = UDP_HEADER_LEN + payLen;
    if (udpLen + (this.v6 ? 0 : IPV4_HEADER_LEN) > 0xffff) { c[3]++; return -1; }
    const l4 = payOff - UDP_HEADER_LEN;
    const l3 = l4 - ipLen;
    const start = l3 - ETH_HEADER_LEN;

    writeReplayEthernet(buf, start, inbound, this.v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);

    const udp = this.udp.bind(buf, l4);
    udp.setSrcPort(srcPort);
    udp.setDstPort(dstPort);
    udp.setLength(udpLen);
    udp.setChecksum(0);

    let pseudo: number;
    if (this.v6) {
      const ip = this.ip6.bind(buf, l3);
      // The traffic class's ECN bits (RFC 3168 §5) sit in the second byte's high nibble.
      buf[l3] = 0x60; buf[l3 + 1] = (ecn & 3) << 4; buf[l3 + 2] = 0; buf[l3 + 3] = 0;
      ip.setPayloadLength(udpLen);
      ip.setNextHeader(IPPROTO_UDP);
      ip.setHopLimit(OUTER_TTL);
      srcIp.copy(buf, ip.srcOff(), 0, 16);
      dstIp.copy(buf, ip.dstOff(), 0, 16);
      pseudo = pseudoSumV6(buf, ip.srcOff(), ip.dstOff(), IPPROTO_UDP, udpLen);
      c[1]++;
    } else {
      const ip = this.ip4.bind(buf, l3);
      buf[l3] = 0x45; buf[l3 + 1] = ecn & 3;
      ip.setTotalLength(IPV4_HEADER_LEN + udpLen);
      ip.setId(this.ipId);
      this.ipId = (this.ipId + 1) & 0xffff;
      buf[l3 + 6] = 0; buf[l3 + 7] = 0; // no DF, as Linux's vxlan sends by default
      ip.setTtl(OUTER_TTL);
      ip.setProtocol(IPPROTO_UDP);
      srcIp.copy(buf, ip.srcOff(), 0, 4);
      dstIp.copy(buf, ip.dstOff(), 0, 4);
      ip.fillChecksum();
      pseudo = pseudoSumV4(buf, ip.srcOff(), ip.dstOff(), IPPROTO_UDP, udpLen);
      c[0]++;
    }
    // RFC 768 / RFC 8200 §8.1: a computed zero is sent as 0xffff.
    udp.setChecksum(udpChecksumField(l4Checksum(buf, l4, udpLen, l4 + 6, pseudo)));
    return start;
  }
}
