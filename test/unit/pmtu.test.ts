// Oversize frames and path MTU discovery (datapath/pmtu.ts, encap's MTU
// check), table-driven: which frames encap lets through at an MTU of 1400,
// then which too-big frames get an ICMP answer and what it holds, then the
// rate limit on answers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { FrameBatch, HEADROOM, SendList, TOO_BIG_PER_BATCH } from '../../src/io/batch.js';
import { answerTooBig, buildTooBig, newReplyBatch } from '../../src/datapath/pmtu.js';
import type { CounterName } from '../../src/datapath/counters.js';
import { EthernetView } from '../../src/wire/ethernet.js';
import { Ipv4View } from '../../src/wire/ipv4.js';
import { Ipv6View, bytesToIpv6 } from '../../src/wire/ipv6.js';
import { IcmpView } from '../../src/wire/icmp.js';
import { formatMac } from '../../src/wire/mac.js';
import { ether, ipv4, ipv6, udpHdr } from '../helpers/packets.js';
import { encapAll } from '../helpers/datapath.js';

const MTU = 1400;
const HOST = '02:00:0a:f4:00:01', REMOTE = '02:00:0a:f4:00:02';
const l2 = { src: HOST, dst: REMOTE };

/** An IPv4 packet of `total` bytes (UDP inside), DF unless said otherwise. */
const v4 = (total: number, o: { df?: boolean; src?: string; dst?: string; proto?: number; l4?: Buffer; fragOff?: number } = {}) =>
  ipv4(o.proto ?? 17, o.l4 ?? udpHdr(40000, 5001, Buffer.alloc(total - 28, 0x61)), { df: o.df ?? true, src: o.src ?? '10.244.0.1', dst: o.dst ?? '10.244.0.2', fragOff: o.fragOff });
/** An IPv6 packet of `total` bytes (UDP inside unless `next`/`l4`). */
const v6 = (total: number, o: { src?: string; dst?: string; next?: number; l4?: Buffer } = {}) =>
  ipv6(o.next ?? 17, o.l4 ?? udpHdr(40000, 5001, Buffer.alloc(total - 48, 0x62)), { src: o.src ?? 'fd00:244::1', dst: o.dst ?? 'fd00:244::2' });
/** An ICMP(v6) message of type `t` with `n` bytes after its header. */
const icmpMsg = (t: number, n: number) => { const m = Buffer.alloc(8 + n, 0x63); m[0] = t; return m; };

// ---- encap: what is too big at MTU 1400 ----

interface EncapRow { name: string; frame: Buffer; counter: CounterName }
const encapRows: EncapRow[] = [
  // 1400-byte packet in an untagged frame: 1414 bytes, the most that fits.
  { name: 'untagged at the MTU', frame: ether(0x0800, v4(1400), l2), counter: 'tx_unicast' },
  // One byte more.
  { name: 'untagged MTU + 1', frame: ether(0x0800, v4(1401), l2), counter: 'tx_drop_too_big' },
  // An 802.1Q tag's 4 bytes are not part of the MTU.
  { name: '802.1Q-tagged at the MTU', frame: ether(0x0800, v4(1400), { ...l2, tags: [[0x8100, 7]] }), counter: 'tx_unicast' },
  { name: '802.1Q-tagged MTU + 1', frame: ether(0x0800, v4(1401), { ...l2, tags: [[0x8100, 7]] }), counter: 'tx_drop_too_big' },
  // 802.1ad outer tag: the same allowance.
  { name: '802.1ad-tagged at the MTU', frame: ether(0x0800, v4(1400), { ...l2, tags: [[0x88a8, 7]] }), counter: 'tx_unicast' },
  // An untagged frame may not use the tag's 4 bytes.
  { name: 'untagged MTU + 4', frame: ether(0x0800, v4(1404), l2), counter: 'tx_drop_too_big' },
  // Not IP at all, too big: dropped all the same.
  { name: 'non-IP too big', frame: ether(0x88b5, Buffer.alloc(1401), l2), counter: 'tx_drop_too_big' },
];

for (const r of encapRows) {
  test(`encap at MTU ${MTU}: ${r.name}`, () => {
    const dp = new Datapath();
    const v = dp.addVni(1, { port: 8472, mtu: MTU });
    dp.addStatic(v, 0x02000af40002, '198.18.0.2');
    const out = encapAll(dp, v, [r.frame]);
    assert.is(dp.counters.get(r.counter), 1, JSON.stringify(dp.counters.nonZero()));
    assert.is(out.length, r.counter === 'tx_unicast' ? 1 : 0);
  });
}

test('encap: too-big frames are remembered for answerTooBig, at most TOO_BIG_PER_BATCH a batch', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472, mtu: MTU });
  const frames = [ether(0x0800, v4(100), l2), ...Array.from({ length: 20 }, () => ether(0x0800, v4(1500), l2))];
  const fb = new FrameBatch(frames.length, Buffer.alloc(frames.length * 1700));
  frames.forEach((f, i) => { f.copy(fb.buf, i * 1700 + HEADROOM); fb.push(i * 1700 + HEADROOM, f.length); });
  const sl = new SendList(64);
  encapBatch(dp, v, fb, sl, 0);
  assert.is(dp.counters.get('tx_drop_too_big'), 20);
  assert.is(sl.tooBigCount, TOO_BIG_PER_BATCH);
  assert.equal([...sl.tooBig.subarray(0, 3)], [1, 2, 3]);
});

test('encap without an MTU: only the absolute frame limit, as before', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472, maxFrameLen: 1418 });
  dp.addFloodPeer(v, '198.18.0.2');
  encapAll(dp, v, [ether(0x0800, v4(1404), l2), ether(0x0800, v4(1405), l2)]);
  assert.equal(dp.counters.nonZero(), { tx_frames: 2, tx_bytes: 1418 + 1419, tx_flooded: 1, tx_flood_copies: 1, tx_datagrams: 1, tx_drop_too_big: 1 });
});

// ---- buildTooBig: who gets an answer ----

interface AnswerRow { name: string; frame: Buffer; mtu?: number; answer: null | { v: 4 | 6; total: number; tagged?: boolean } }
const answerRows: AnswerRow[] = [
  // IPv4 with DF: fragmentation needed, 576 bytes in all (RFC 1812 §4.3.2.3).
  { name: 'IPv4 DF', frame: ether(0x0800, v4(1500), l2), answer: { v: 4, total: 576 } },
  // IPv4 without DF: dropped, no answer (weft does not fragment, and is not a router).
  { name: 'IPv4 without DF', frame: ether(0x0800, v4(1500, { df: false }), l2), answer: null },
  // IPv6: always packet too big, 1280 bytes in all (RFC 4443 §2.4 c).
  { name: 'IPv6', frame: ether(0x86dd, v6(1500), l2), answer: { v: 6, total: 1280 } },
  // The answer never exceeds the MTU itself.
  { name: 'IPv4 DF, MTU 500', frame: ether(0x0800, v4(1500), l2), mtu: 500, answer: { v: 4, total: 500 } },
  // Tagged: the answer goes back in the same VLAN.
  { name: 'IPv4 DF, 802.1Q tag', frame: ether(0x0800, v4(1500), { ...l2, tags: [[0x8100, 0x2007]] }), answer: { v: 4, total: 576, tagged: true } },
  // A long frame holding a short packet (trailing bytes): not an oversize packet.
  { name: 'IPv4 packet within the MTU, frame padded', frame: ether(0x0800, Buffer.concat([v4(1000), Buffer.alloc(500)]), l2), answer: null },
  // Broadcast and multicast destinations get no error (RFC 1122 §3.2.2).
  { name: 'Ethernet broadcast', frame: ether(0x0800, v4(1500, { dst: '10.244.0.255' }), { ...l2, dst: 'ff:ff:ff:ff:ff:ff' }), answer: null },
  { name: 'IPv4 limited broadcast', frame: ether(0x0800, v4(1500, { dst: '255.255.255.255' }), l2), answer: null },
  { name: 'IPv4 multicast', frame: ether(0x0800, v4(1500, { dst: '224.0.0.251' }), l2), answer: null },
  { name: 'IPv6 multicast', frame: ether(0x86dd, v6(1500, { dst: 'ff02::1' }), l2), answer: null },
  // No error to a source that is not a unicast host.
  { name: 'IPv4 from 0.0.0.0', frame: ether(0x0800, v4(1500, { src: '0.0.0.0' }), l2), answer: null },
  { name: 'IPv4 from loopback', frame: ether(0x0800, v4(1500, { src: '127.0.0.1' }), l2), answer: null },
  { name: 'IPv6 from ::', frame: ether(0x86dd, v6(1500, { src: '::' }), l2), answer: null },
  { name: 'IPv6 from ::1', frame: ether(0x86dd, v6(1500, { src: '::1' }), l2), answer: null },
  // No error about an error (RFC 1122 §3.2.2, RFC 4443 §2.4 e.1) …
  { name: 'ICMPv4 error', frame: ether(0x0800, v4(1500, { proto: 1, l4: icmpMsg(3, 1472) }), l2), answer: null },
  { name: 'ICMPv6 error', frame: ether(0x86dd, v6(1500, { next: 58, l4: icmpMsg(1, 1452) }), l2), answer: null },
  // … but a big echo request (ping -s 2000 -M do) is answered.
  { name: 'ICMPv4 echo', frame: ether(0x0800, v4(1500, { proto: 1, l4: icmpMsg(8, 1472) }), l2), answer: { v: 4, total: 576 } },
  { name: 'ICMPv6 echo', frame: ether(0x86dd, v6(1500, { next: 58, l4: icmpMsg(128, 1452) }), l2), answer: { v: 6, total: 1280 } },
  // A later fragment (odd with DF, but possible on the wire).
  { name: 'IPv4 non-initial fragment', frame: ether(0x0800, v4(1500, { fragOff: 1480 }), l2), answer: null },
  // Not IP.
  { name: 'ARP-sized junk', frame: ether(0x0806, Buffer.alloc(1500), l2), answer: null },
  // A broken IPv4 header (total length past the frame).
  { name: 'IPv4 total length past the frame', frame: ether(0x0800, v4(1500).subarray(0, 1450), l2), answer: null },
];

for (const r of answerRows) {
  test(`too-big answer: ${r.name}`, () => {
    const mtu = r.mtu ?? MTU;
    const src = Buffer.alloc(r.frame.length + 10, 0xee);
    r.frame.copy(src, 5);
    const dst = Buffer.alloc(2000, 0xdd);
    const n = buildTooBig(src, 5, r.frame.length, mtu, dst, 3);
    if (!r.answer) { assert.is(n, 0); return; }
    const hl = r.answer.tagged ? 18 : 14;
    assert.is(n, hl + r.answer.total);
    const e = new EthernetView(dst, 3);
    assert.is(formatMac(e.dstHi() * 2 ** 32 + e.dstLo()), HOST, 'back to the sender');
    assert.is(formatMac(e.srcHi() * 2 ** 32 + e.srcLo()), REMOTE, 'from the frame\'s destination');
    if (r.answer.tagged) assert.is(e.tci(), 0x2007);
    const ipOff = 3 + hl, inIp = 5 + hl;
    if (r.answer.v === 4) {
      const ip = new Ipv4View(dst, ipOff);
      assert.ok(ip.isValid(r.answer.total));
      assert.ok(ip.checksumOk());
      assert.is(ip.totalLength(), r.answer.total);
      assert.is(ip.protocol(), 1);
      assert.equal([ip.read().src, ip.read().dst], ['10.244.0.2', '10.244.0.1']);
      const m = new IcmpView(dst, ip.payloadOffset());
      assert.equal([m.type(), m.code(), m.nextHopMtu(), m.rest() >>> 16], [3, 4, mtu, 0]);
      assert.ok(m.checksumOkV4(r.answer.total - 20));
      // The quote: the invoking packet from its IP header, as much as fits.
      assert.ok(dst.subarray(m.payloadOffset(), ipOff + r.answer.total).equals(src.subarray(inIp, inIp + r.answer.total - 28)));
    } else {
      const ip = new Ipv6View(dst, ipOff);
      assert.ok(ip.isValid(r.answer.total));
      assert.is(ip.nextHeader(), 58);
      assert.is(ip.payloadLength(), r.answer.total - 40);
      assert.equal([bytesToIpv6(dst, ip.srcOff()), bytesToIpv6(dst, ip.dstOff())], ['fd00:244::2', 'fd00:244::1']);
      const m = new IcmpView(dst, ip.payloadOffset());
      assert.equal([m.type(), m.code(), m.mtu()], [2, 0, mtu]);
      assert.ok(m.checksumOkV6(r.answer.total - 40, ip.srcOff(), ip.dstOff()));
      assert.ok(dst.subarray(m.payloadOffset(), ipOff + r.answer.total).equals(src.subarray(inIp, inIp + r.answer.total - 48)));
    }
    assert.is(dst[3 + n], 0xdd, 'nothing written past the answer');
    assert.is(dst[2], 0xdd, 'nothing written before it');
  });
}

// ---- answerTooBig: the rate limit ----

function tooBigBatch(n: number): { fb: FrameBatch; sl: SendList } {
  const fb = new FrameBatch(n, Buffer.alloc(n * 1700));
  const f = ether(0x0800, v4(1500), l2);
  for (let i = 0; i < n; i++) { f.copy(fb.buf, i * 1700 + HEADROOM); fb.push(i * 1700 + HEADROOM, f.length); }
  return { fb, sl: new SendList(64) };
}

test('answerTooBig: at most the burst at once, then the rate; the rest counted as limited', () => {
  const dp = new Datapath({ icmpRate: 100 }); // burst 10
  const v = dp.addVni(1, { port: 8472, mtu: MTU });
  const out = newReplyBatch();
  const { fb, sl } = tooBigBatch(16);
  encapBatch(dp, v, fb, sl, 1000);
  assert.is(answerTooBig(dp, v, fb, sl, out, 1000), 10);
  assert.is(dp.counters.get('icmp_too_big_limited'), 6);
  // 50 ms later: 5 more tokens.
  encapBatch(dp, v, fb, sl, 1050);
  assert.is(answerTooBig(dp, v, fb, sl, out, 1050), 5);
  assert.is(dp.counters.get('icmp_too_big_limited'), 17);
  // Each answer is a whole frame in its own slot of the reply slab.
  for (let i = 0; i < out.count; i++) assert.is(out.len[i], 14 + 576);
  assert.is(new Set(Array.from(out.off.subarray(0, out.count))).size, out.count);
});

test('answerTooBig: nothing with --icmp-rate 0, or without an MTU', () => {
  for (const [icmpRate, mtu] of [[0, MTU], [100, undefined]] as const) {
    const dp = new Datapath({ icmpRate });
    const v = dp.addVni(1, { port: 8472, mtu, maxFrameLen: mtu ? undefined : MTU + 18 });
    const { fb, sl } = tooBigBatch(4);
    encapBatch(dp, v, fb, sl, 0);
    assert.is(dp.counters.get('tx_drop_too_big'), 4);
    assert.is(answerTooBig(dp, v, fb, sl, newReplyBatch(), 0), 0);
    assert.is(dp.counters.get('icmp_too_big_limited'), 0);
  }
});

test.run();
