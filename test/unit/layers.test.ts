// layersOf: the one L2 → L3 → L4 walk the TAP offloads and the flow hash
// share (src/wire/layers.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { layersOf, newLayers, L_ETHERTYPE, L_TAG, L_L3, L_L4, L_PROTO, L_FRAG, L_FRAG_OFFSET_MASK } from '../../src/wire/layers.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_ARP } from '../../src/wire/ethernet.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { unhex } from '../helpers/bytes.js';

const MACS = '020000000002 020000000001';
const V4 = '45000028 00004000 40060000 c6120001 c6120002';
const V4_OPTS = '46000030 00004000 40110000 c6120001 c6120002 01010100';
const V6 = '60000000 00141140 ' + 'fd00'.padEnd(32, '0') + 'fd00'.padEnd(31, '0') + '1';
const TCP = '9c401451 00000001 00000000 50100100 00000000';

function walk(hexFrame: string, at = 0): { ret: number; out: number[] } {
  const f = unhex(hexFrame);
  const b = Buffer.alloc(at + f.length);
  f.copy(b, at);
  const out = newLayers();
  const ret = layersOf(b, at, f.length, out);
  return { ret, out: [...out] };
}

test('untagged IPv4: L3 after 14 bytes, L4 after IHL, protocol, not a fragment', () => {
  const { ret, out } = walk(MACS + '0800' + V4 + TCP, 5);
  assert.is(ret, 5 + 14 + 20);
  assert.is(out[L_ETHERTYPE], ETHERTYPE_IPV4);
  assert.equal([out[L_TAG], out[L_L3], out[L_L4], out[L_PROTO], out[L_FRAG]], [-1, 19, 39, IPPROTO_TCP, 0]);
});

test('IPv4 options move L4; IPv6 has a fixed 40 bytes', () => {
  assert.is(walk(MACS + '0800' + V4_OPTS + '0000').ret, 14 + 24);
  const v6 = walk(MACS + '86dd' + V6 + '00000000');
  assert.equal([v6.ret, v6.out[L_ETHERTYPE], v6.out[L_L3], v6.out[L_PROTO]], [54, ETHERTYPE_IPV6, 14, IPPROTO_UDP]);
});

test('one 802.1Q or 802.1ad tag is stepped over and reported; a second shows as the EtherType', () => {
  for (const tpid of ['8100', '88a8']) {
    const { ret, out } = walk(MACS + tpid + '0064' + '0800' + V4 + TCP);
    assert.equal([ret, out[L_TAG], out[L_L3], out[L_ETHERTYPE]], [38, 14, 18, ETHERTYPE_IPV4]);
  }
  const qinq = walk(MACS + '88a8' + '0064' + '8100' + '0065' + '0800' + V4);
  assert.equal([qinq.ret, qinq.out[L_TAG], qinq.out[L_L3], qinq.out[L_ETHERTYPE]], [-1, 14, -1, ETHERTYPE_VLAN]);
});

test('fragments: MF and the offset are reported, and only the offset means "no L4 header here"', () => {
  const first = walk(MACS + '0800' + V4.replace('00004000', '00002000') + TCP).out;
  assert.is(first[L_FRAG], 0x2000);
  assert.is(first[L_FRAG] & L_FRAG_OFFSET_MASK, 0);
  const later = walk(MACS + '0800' + V4.replace('00004000', '000000b9') + TCP).out;
  assert.is(later[L_FRAG] & L_FRAG_OFFSET_MASK, 0xb9);
});

test('impossible lengths: no L3 or L4 claimed past the frame', () => {
  assert.is(walk('0000').ret, -1);
  assert.is(walk(MACS).ret, -1);
  // The IPv4 header is cut short; a tag announced but cut; an IHL below 5 words.
  const short = walk(MACS + '0800' + V4.slice(0, 30)).out;
  assert.equal([short[L_ETHERTYPE], short[L_L3], short[L_L4]], [ETHERTYPE_IPV4, -1, -1]);
  const cutTag = walk(MACS + '8100' + '00');
  assert.equal([cutTag.ret, cutTag.out[L_TAG], cutTag.out[L_ETHERTYPE]], [-1, -1, ETHERTYPE_VLAN]);
  const ihl4 = walk(MACS + '0800' + V4.replace(/^45/, '44') + TCP);
  assert.equal([ihl4.ret, ihl4.out[L_L3]], [-1, 14]);
  assert.is(walk(MACS + '86dd' + V6.slice(0, 70)).ret, -1);
  // Not IP at all.
  const arp = walk(MACS + '0806' + '0001080006040001');
  assert.equal([arp.ret, arp.out[L_ETHERTYPE], arp.out[L_L3]], [-1, ETHERTYPE_ARP, -1]);
});

test.run();
