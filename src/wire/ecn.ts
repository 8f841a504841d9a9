// ECN across a tunnel, RFC 6040 (which updates RFC 3168 §9.1 and RFC 4301).
//
// The ECN field is the low two bits of the IPv4 TOS octet and of the IPv6
// traffic class (RFC 3168 §5). A tunnel has two headers that carry it: the
// inner packet's and the outer (underlay) one the tunnel adds. RFC 6040:
//
//   §4.1 encapsulation, normal mode: the outer ECN field is a copy of the
//        inner one, CE included (encapEcn). Linux's ip_tunnel_ecn_encap
//        differs in one case: it sends an inner CE as outer ECT(0), which
//        RFC 6040 calls the compatibility of RFC 3168's full-functionality
//        mode; both leave the inner CE in place, so decap gives the same.
//   §4.2 decapsulation (decapEcn), the table:
//
//                      outer: Not-ECT  ECT(0)  ECT(1)   CE
//        inner Not-ECT        Not-ECT  Not-ECT Not-ECT  drop
//        inner ECT(0)         ECT(0)   ECT(0)  ECT(1)   CE
//        inner ECT(1)         ECT(1)   ECT(1)  ECT(1)   CE
//        inner CE             CE       CE      CE       CE
//
//        An outer CE on a Not-ECT inner packet is a congestion mark the
//        endpoints cannot hear: the packet is dropped (the router would have
//        dropped it had it not been tunnelled).
//
// Contract: every function here never allocates and never throws; the frame
// functions read an Ethernet frame (at most one 802.1Q / 802.1ad tag, the
// walk of layers.ts) and touch only an IP header whose version nibble
// matches its EtherType. setFrameEcn keeps an IPv4 header checksum valid by
// the incremental update of RFC 1624 (eqn. 3); IPv6 has none.

import { LY_IPV4, LY_IPV6, layersOf, lyL3 } from './layers.js';

/** RFC 3168 §5 codepoints. */
export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;
/** The ECN bits of a TOS / traffic-class octet. */
export const ECN_MASK = 3;
/** decapEcn's answer when the packet must be dropped (RFC 6040 §4.2). */
export const ECN_DROP = -1;
/** frameEcn's answer for a frame without an IP header (ARP, …): RFC 6040 does not apply, as in Linux. */
export const ECN_NO_IP = -2;

/** RFC 6040 §4.1 normal mode: the outer ECN field for an inner one (a frame without IP: Not-ECT). */
export function encapEcn(inner: number): number {
  return inner < 0 ? ECN_NOT_ECT : inner & ECN_MASK;
}

/** RFC 6040 §4.2: the inner ECN field after decapsulation, or ECN_DROP. */
export function decapEcn(outer: number, inner: number): number {
  outer &= ECN_MASK; inner &= ECN_MASK;
  if (outer === ECN_CE) return inner === ECN_NOT_ECT ? ECN_DROP : ECN_CE;
  // ECT(1) outer on ECT(0) inner: ECT(1) may mean a congestion level (L4S, RFC 9331) the inner must keep.
  if (outer === ECN_ECT1 && inner === ECN_ECT0) return ECN_ECT1;
  return inner;
}

/** Where the frame's IP header starts (from `off`), with its version checked; -1 when it carries none. Sign: + IPv4, the bitwise not for IPv6. */
function ipAt(b: Buffer, off: number, len: number): number {
  const w = layersOf(b, off, len);
  if ((w & LY_IPV4) !== 0) return b[off + lyL3(w)] >>> 4 === 4 ? lyL3(w) : -1;
  if ((w & LY_IPV6) !== 0) return b[off + lyL3(w)] >>> 4 === 6 ? ~lyL3(w) : -1;
  return -1;
}

/** The ECN field of the frame's IPv4 or IPv6 header; ECN_NO_IP when it has none. */
export function frameEcn(b: Buffer, off: number, len: number): number {
  const at = ipAt(b, off, len);
  if (at === -1) return ECN_NO_IP;
  if (at >= 0) return b[off + at + 1] & ECN_MASK;
  return (b[off + ~at + 1] >>> 4) & ECN_MASK;
}

/**
 * Sets the ECN field of the frame's IP header to `ecn` (the IPv4 header
 * checksum updated, RFC 1624); false when the frame carries no IP header.
 */
export function setFrameEcn(b: Buffer, off: number, len: number, ecn: number): boolean {
  const at = ipAt(b, off, len);
  if (at === -1) return false;
  if (at < 0) {
    const p = off + ~at + 1;
    b[p] = (b[p] & 0xcf) | ((ecn & ECN_MASK) << 4);
    return true;
  }
  const p = off + at;
  const old = (b[p] << 8) | b[p + 1];
  const now = (old & 0xfffc) | (ecn & ECN_MASK);
  if (now === old) return true;
  b[p + 1] = now & 0xff;
  // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement.
  let s = (~((b[p + 10] << 8) | b[p + 11]) & 0xffff) + (~old & 0xffff) + now;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  const hc = ~s & 0xffff;
  b[p + 10] = hc >>> 8; b[p + 11] = hc & 0xff;
  return true;
}
