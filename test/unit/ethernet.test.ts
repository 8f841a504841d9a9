import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EthernetView, ETH_HEADER_LEN, ETH_VLAN_TAG_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
  ETHERTYPE_QINQ, ETHERTYPE_VLAN, ethernetHeaderLen, type EthernetFields,
} from '../../src/wire/ethernet.js';
import { formatMac, macAt, parseMac, writeMac, MAC_BROADCAST } from '../../src/wire/mac.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// A broadcast ARP request's Ethernet header, as QEMU's default NIC sends it.
const UNTAGGED = 'ffffffffffff 525400123456 0806';
// An IPv4 mDNS frame on VLAN 10 with priority 5: TCI 0xa00a = PCP 101, DEI 0, VID 10.
const TAGGED = '01005e0000fb 525400123456 8100 a00a 0800';

test('bytes → fields, untagged', () => {
  const v = new EthernetView(unhex(UNTAGGED), 0);
  assert.ok(v.checkLen(ETH_HEADER_LEN));
  assert.is(v.dstHi(), 0xffff);
  assert.is(v.dstLo(), 0xffffffff);
  assert.is(v.srcHi(), 0x5254);
  assert.is(v.srcLo(), 0x00123456);
  assert.ok(v.dstIsMulticast());
  assert.ok(v.dstIsBroadcast());
  assert.is(v.srcIsMulticast(), false);
  assert.is(v.srcIsZero(), false);
  assert.is(v.etherType(), ETHERTYPE_ARP);
  assert.is(v.isTagged(), false);
  assert.is(v.innerEtherType(), ETHERTYPE_ARP);
  assert.is(v.vlanId(), 0);
  assert.is(v.pcp(), 0);
  assert.is(v.headerLen(), 14);
  assert.is(v.payloadOffset(), 14);
  assert.equal(v.read(), { dst: 'ff:ff:ff:ff:ff:ff', src: '52:54:00:12:34:56', etherType: ETHERTYPE_ARP });
});

test('bytes → fields, 802.1Q tagged, at an offset', () => {
  const buf = Buffer.concat([Buffer.alloc(2), unhex(TAGGED)]);
  const v = new EthernetView(buf, 2);
  assert.ok(v.checkLen(18));
  assert.ok(v.dstIsMulticast());
  assert.is(v.dstIsBroadcast(), false);
  assert.is(v.etherType(), ETHERTYPE_VLAN);
  assert.ok(v.isTagged());
  assert.is(v.tci(), 0xa00a);
  assert.is(v.pcp(), 5);
  assert.is(v.dei(), false);
  assert.is(v.vlanId(), 10);
  assert.is(v.innerEtherType(), ETHERTYPE_IPV4);
  assert.is(v.headerLen(), 18);
  assert.is(v.payloadOffset(), 2 + 18);
  assert.equal(v.read(), {
    dst: '01:00:5e:00:00:fb', src: '52:54:00:12:34:56', etherType: ETHERTYPE_IPV4,
    vlan: { tpid: ETHERTYPE_VLAN, pcp: 5, dei: false, vid: 10 },
  });
});

test('QinQ: an 802.1ad outer tag counts as tagged; the inner tag shows as the inner type', () => {
  const v = new EthernetView(unhex('ffffffffffff 525400123456 88a8 0064 8100 000a 86dd'), 0);
  assert.ok(v.isTagged());
  assert.is(v.vlanId(), 100);
  assert.is(v.innerEtherType(), ETHERTYPE_VLAN);
  assert.is(v.payloadOffset(), 18);
});

test('source checks: group and all-zero sources', () => {
  const v = new EthernetView(unhex('ffffffffffff 010000000001 0800'), 0);
  assert.ok(v.srcIsMulticast());
  assert.is(v.srcIsZero(), false);
  v.setSrc(0, 0);
  assert.ok(v.srcIsZero());
  assert.is(v.srcIsMulticast(), false);
  // A unicast destination: I/G bit clear even with other bits set.
  v.setDst(0xfeff, 0xffffffff);
  assert.is(v.dstIsMulticast(), false);
  assert.is(v.dstIsBroadcast(), false);
});

test('fields → bytes, untagged, at a non-zero offset', () => {
  const buf = guarded(3, 14);
  const v = new EthernetView(buf, 3);
  const f: EthernetFields = { dst: 'ff:ff:ff:ff:ff:ff', src: '52:54:00:12:34:56', etherType: ETHERTYPE_ARP };
  assert.is(ethernetHeaderLen(f), 14);
  v.write(f);
  assert.is(hex(buf.subarray(3, 17)), hex(unhex(UNTAGGED)));
  assert.is(outside(buf, 3, 14), 'eeeeeeeeee');
});

test('fields → bytes, tagged, at a non-zero offset', () => {
  const buf = guarded(5, 18);
  const v = new EthernetView(buf, 5);
  const f: EthernetFields = {
    dst: '01:00:5e:00:00:fb', src: '52:54:00:12:34:56', etherType: ETHERTYPE_IPV4,
    vlan: { tpid: ETHERTYPE_VLAN, pcp: 5, dei: false, vid: 10 },
  };
  assert.is(ethernetHeaderLen(f), 18);
  v.write(f);
  assert.is(hex(buf.subarray(5, 23)), hex(unhex(TAGGED)));
  assert.is(outside(buf, 5, 18), 'eeeeeeeeeeeeee');
});

test('write throws on a bad MAC before touching the buffer', () => {
  const buf = guarded(0, 14);
  const v = new EthernetView(buf, 0);
  assert.throws(() => v.write({ dst: 'ff:ff:ff:ff:ff:ff', src: '52:54:00:12:34', etherType: 0x0800 }), /52:54:00:12:34/);
  assert.is(hex(buf), 'ee'.repeat(16));
});

test('round trip, tagged and untagged', () => {
  const rows: EthernetFields[] = [
    { dst: '02:00:5e:10:00:01', src: 'fe:ff:ff:ff:ff:fe', etherType: ETHERTYPE_IPV6 },
    { dst: '33:33:00:00:00:01', src: '00:00:00:00:00:01', etherType: 0x1234, vlan: { tpid: ETHERTYPE_QINQ, pcp: 7, dei: true, vid: 0xfff } },
    { dst: '00:00:00:00:00:00', src: 'ff:ff:ff:ff:ff:ff', etherType: 0xffff, vlan: { tpid: ETHERTYPE_VLAN, pcp: 0, dei: false, vid: 0 } },
  ];
  for (const f of rows) {
    const v = new EthernetView(Buffer.alloc(20), 1);
    v.write(f);
    assert.ok(v.checkLen(ethernetHeaderLen(f)));
    assert.equal(v.read(), f);
  }
});

test('tag setters change only their bits', () => {
  const v = new EthernetView(unhex(TAGGED), 0);
  v.setVlanId(0xabc);
  assert.is(v.tci(), 0xaabc);
  v.setDei(true);
  assert.is(v.tci(), 0xbabc);
  v.setPcp(2);
  assert.is(v.tci(), 0x5abc);
  v.setDei(false);
  assert.is(v.tci(), 0x4abc);
  v.setInnerEtherType(ETHERTYPE_ARP);
  assert.is(v.etherType(), ETHERTYPE_VLAN);
  assert.is(hex(v.buf.subarray(12)), '81004abc0806');
});

test('tag setters write nothing on an untagged frame', () => {
  // An untagged IPv4 frame: bytes 14.. are the IP header, not a TCI.
  const buf = unhex(UNTAGGED.replace(/0806$/, '0800') + '4500');
  const v = new EthernetView(buf, 0);
  v.setVlanId(10);
  v.setPcp(7);
  v.setDei(true);
  assert.is(hex(buf.subarray(14)), '4500');
  v.setInnerEtherType(ETHERTYPE_IPV6);
  assert.is(v.etherType(), ETHERTYPE_IPV6);
});

test('MAC setters: hi/lo and copy from another buffer', () => {
  const v = new EthernetView(Buffer.alloc(14), 0);
  v.setDst(0x0200, 0x5e100001);
  assert.is(hex(v.buf.subarray(0, 6)), '02005e100001');
  const other = unhex('00 aabbccddeeff 00');
  v.setSrcFrom(other, 1);
  assert.is(v.srcHi(), 0xaabb);
  assert.is(v.srcLo(), 0xccddeeff);
  v.setDstFrom(v.buf, 6); // reflect, as a reply would
  assert.is(hex(v.buf.subarray(0, 12)), 'aabbccddeeff'.repeat(2));
});

test('impossible length', () => {
  // Short of the basic header.
  assert.is(new EthernetView(unhex(UNTAGGED).subarray(0, 13), 0).checkLen(13), false);
  assert.is(new EthernetView(unhex(UNTAGGED), 0).checkLen(13), false);
  // The caller's length is fine but the buffer ends first.
  assert.is(new EthernetView(unhex(UNTAGGED), 1).checkLen(14), false);
  // TPID says tagged but the tag is cut off, by length or by buffer.
  const tagged = unhex(TAGGED);
  const v = new EthernetView(tagged, 0);
  for (const len of [14, 15, 16, 17]) assert.is(v.checkLen(len), false, `len ${len}`);
  assert.ok(v.checkLen(18));
  assert.is(new EthernetView(tagged.subarray(0, 17), 0).checkLen(18), false);
  // The same 14 bytes pass once the TPID no longer says tagged.
  const untagged = Buffer.from(tagged.subarray(0, 14));
  untagged[12] = 0x08; untagged[13] = 0x00;
  assert.ok(new EthernetView(untagged, 0).checkLen(14));
  assert.is(ETH_HEADER_LEN + ETH_VLAN_TAG_LEN, 18);
});

test('MAC helpers: parse, format, read and write as one number', () => {
  assert.is(parseMac('02:00:5E:10:00:01'), 0x02005e100001);
  assert.is(parseMac('ff:ff:ff:ff:ff:ff'), MAC_BROADCAST);
  assert.is(formatMac(0x02005e100001), '02:00:5e:10:00:01');
  assert.is(formatMac(0), '00:00:00:00:00:00');
  assert.is(formatMac(MAC_BROADCAST), 'ff:ff:ff:ff:ff:ff');
  for (const bad of ['', '02:00:5e:10:00', '02:00:5e:10:00:01:02', '02-00-5e-10-00-01', '2:0:5e:10:0:1', '02:00:5e:10:00:0g', ' 02:00:5e:10:00:01']) {
    assert.throws(() => parseMac(bad), (e: Error) => e.message.includes(JSON.stringify(bad)) && /MAC/.test(e.message), bad);
  }
  for (const bad of [-1, 2 ** 48, 1.5, NaN]) assert.throws(() => formatMac(bad), RangeError);

  const buf = guarded(3, 6);
  writeMac(buf, 3, 0xfedcba987654);
  assert.is(hex(buf), 'eeeeee' + 'fedcba987654' + 'eeee');
  assert.is(macAt(buf, 3), 0xfedcba987654);
  // The high half of an address whose low half has its top bit set stays positive.
  assert.is(macAt(unhex('0000ffffffff'), 0), 0xffffffff);
});

test.run();
