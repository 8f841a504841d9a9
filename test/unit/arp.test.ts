import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ArpView, ARP_HTYPE_ETHERNET, ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, type ArpFields } from '../../src/wire/arp.js';
import { ETHERTYPE_IPV4 } from '../../src/wire/ethernet.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// "Who has 192.168.1.1? Tell 192.168.1.100", as a Linux host sends it.
const REQUEST =
  '0001 0800 06 04 0001' +
  '525400123456 c0a80164' +
  '000000000000 c0a80101';
// The router's answer.
const REPLY =
  '0001 0800 06 04 0002' +
  '02005e100001 c0a80101' +
  '525400123456 c0a80164';

test('bytes → fields', () => {
  const v = new ArpView(unhex(REQUEST), 0);
  assert.ok(v.checkLen(ARP_LEN));
  assert.ok(v.isEthernetIpv4());
  assert.is(v.htype(), ARP_HTYPE_ETHERNET);
  assert.is(v.ptype(), ETHERTYPE_IPV4);
  assert.is(v.hlen(), 6);
  assert.is(v.plen(), 4);
  assert.is(v.oper(), ARP_OP_REQUEST);
  assert.is(v.shaHi(), 0x5254);
  assert.is(v.shaLo(), 0x00123456);
  // Unsigned: 192.x.x.x has the top bit set and must not read negative.
  assert.is(v.spa(), 0xc0a80164);
  assert.is(v.thaHi(), 0);
  assert.is(v.thaLo(), 0);
  assert.is(v.tpa(), 0xc0a80101);
  assert.equal(v.read(), {
    htype: 1, ptype: 0x0800, hlen: 6, plen: 4, oper: ARP_OP_REQUEST,
    sha: '52:54:00:12:34:56', spa: '192.168.1.100', tha: '00:00:00:00:00:00', tpa: '192.168.1.1',
  });
});

test('fields → bytes, at a non-zero offset', () => {
  const buf = guarded(5, ARP_LEN);
  const v = new ArpView(buf, 5);
  v.write({
    htype: ARP_HTYPE_ETHERNET, ptype: ETHERTYPE_IPV4, hlen: 6, plen: 4, oper: ARP_OP_REPLY,
    sha: '02:00:5e:10:00:01', spa: '192.168.1.1', tha: '52:54:00:12:34:56', tpa: '192.168.1.100',
  });
  assert.is(hex(buf.subarray(5, 5 + ARP_LEN)), hex(unhex(REPLY)));
  assert.is(outside(buf, 5, ARP_LEN), 'ee'.repeat(7));
});

test('building a reply from a request with the setters', () => {
  const req = new ArpView(unhex(REQUEST), 0);
  const rep = new ArpView(Buffer.alloc(ARP_LEN), 0);
  rep.setHtype(ARP_HTYPE_ETHERNET); rep.setPtype(ETHERTYPE_IPV4); rep.setHlen(6); rep.setPlen(4);
  rep.setOper(ARP_OP_REPLY);
  rep.setSha(0x0200, 0x5e100001);
  rep.setSpa(req.tpa());
  rep.setThaFrom(req.buf, req.off + 8);
  rep.setTpa(req.spa());
  assert.is(hex(rep.buf), hex(unhex(REPLY)));
  rep.setShaFrom(req.buf, req.off + 8);
  assert.is(rep.shaLo(), 0x00123456);
});

test('round trip', () => {
  const f: ArpFields = {
    htype: 0xabcd, ptype: 0x86dd, hlen: 0xff, plen: 0x80, oper: 0xfffe,
    sha: 'ff:ff:ff:ff:ff:fe', spa: '255.255.255.255', tha: '01:02:03:04:05:06', tpa: '0.0.0.1',
  };
  const v = new ArpView(Buffer.alloc(ARP_LEN + 3), 3);
  v.write(f);
  assert.equal(v.read(), f);
  assert.is(v.spa(), 0xffffffff);
});

test('write throws on a bad address before touching the buffer', () => {
  const buf = guarded(0, ARP_LEN);
  const f: ArpFields = {
    htype: 1, ptype: 0x0800, hlen: 6, plen: 4, oper: 1,
    sha: '52:54:00:12:34:56', spa: '192.168.1.100', tha: '00:00:00:00:00:00', tpa: '192.168.1.256',
  };
  assert.throws(() => new ArpView(buf, 0).write(f), /192\.168\.1\.256/);
  assert.is(hex(buf), 'ee'.repeat(ARP_LEN + 2));
});

test('not Ethernet/IPv4: the fixed offsets do not apply (RFC 826 reception)', () => {
  const patch = (i: number, v: number) => {
    const b = unhex(REQUEST);
    b[i] = v;
    return new ArpView(b, 0).isEthernetIpv4();
  };
  assert.is(patch(1, 6), false);      // htype 6, IEEE 802 networks
  assert.is(patch(2, 0x86), false);   // ptype 0x86 00
  assert.is(patch(4, 8), false);      // hlen 8
  assert.is(patch(5, 16), false);     // plen 16
  assert.is(patch(7, 2), true);       // a reply is still Ethernet/IPv4
});

test('impossible length', () => {
  const b = unhex(REQUEST);
  assert.is(new ArpView(b, 0).checkLen(ARP_LEN - 1), false);
  assert.is(new ArpView(b.subarray(0, ARP_LEN - 1), 0).checkLen(ARP_LEN), false);
  assert.is(new ArpView(b, 1).checkLen(ARP_LEN), false);
  assert.is(new ArpView().checkLen(ARP_LEN), false);
});

test.run();
