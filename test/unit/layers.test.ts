// layersOf: the one L2 → L3 → L4 walk the TAP offloads and the flow hash
// share (src/wire/layers.ts), its answer packed in one number; layersOfIp,
// the same walk over a TUN's bare IP packet.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { layersAt, layersOf, layersOfIp, lyL3, lyL4, lyProto, LY_TAGGED, LY_IPV4, LY_IPV6, LY_L4, LY_FRAGMENT, LY_LATER_FRAGMENT } from '../../src/wire/layers.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { unhex } from '../helpers/bytes.js';

const MACS = '020000000002 020000000001';
const V4 = '45000028 00004000 40060000 c6120001 c6120002';
const V4_OPTS = '46000030 00004000 40110000 c6120001 c6120002 01010100';
const V6 = '60000000 00141140 ' + 'fd00'.padEnd(32, '0') + 'fd00'.padEnd(31, '0') + '1';
const TCP = '9c401451 00000001 00000000 50100100 00000000';
const FLAGS = LY_TAGGED | LY_IPV4 | LY_IPV6 | LY_L4 | LY_FRAGMENT | LY_LATER_FRAGMENT;

/** layersOf on the frame placed at a non-zero offset, with a longer buffer behind it. */
function walk(hexFrame: string, at = 5): number {
  const f = unhex(hexFrame);
  const b = Buffer.alloc(at + f.length + 64, 0x45);
  f.copy(b, at);
  return layersOf(b, at, f.length);
}

test('untagged IPv4: L3 after 14 bytes, L4 after IHL, the protocol, not a fragment', () => {
  const w = walk(MACS + '0800' + V4 + TCP);
  assert.is(w & FLAGS, LY_IPV4 | LY_L4);
  assert.equal([lyL3(w), lyL4(w), lyProto(w)], [14, 34, IPPROTO_TCP]);
});

test('IPv4 options move L4; IPv6 has a fixed 40 bytes', () => {
  const o = walk(MACS + '0800' + V4_OPTS + '0000');
  assert.equal([o & FLAGS, lyL4(o), lyProto(o)], [LY_IPV4 | LY_L4, 38, IPPROTO_UDP]);
  const v6 = walk(MACS + '86dd' + V6 + '00000000');
  assert.equal([v6 & FLAGS, lyL3(v6), lyL4(v6), lyProto(v6)], [LY_IPV6 | LY_L4, 14, 54, IPPROTO_UDP]);
  // The largest L4 offset: a tag and 60 bytes of IPv4 header.
  const big = walk(MACS + '8100 0064 0800' + '4f' + V4.slice(2) + '00'.repeat(40) + TCP);
  assert.equal([big & FLAGS, lyL3(big), lyL4(big)], [LY_TAGGED | LY_IPV4 | LY_L4, 18, 78]);
});

test('one 802.1Q or 802.1ad tag is stepped over and reported; a second leaves the frame not IP', () => {
  for (const tpid of ['8100', '88a8']) {
    const w = walk(MACS + tpid + '0064' + '0800' + V4 + TCP);
    assert.equal([w & FLAGS, lyL3(w), lyL4(w)], [LY_TAGGED | LY_IPV4 | LY_L4, 18, 38]);
  }
  assert.is(walk(MACS + '88a8' + '0064' + '8100' + '0065' + '0800' + V4) & FLAGS, LY_TAGGED);
});

test('fragments: MF alone is a first fragment (ports inside), an offset a later one', () => {
  assert.is(walk(MACS + '0800' + V4.replace('00004000', '00002000') + TCP) & FLAGS, LY_IPV4 | LY_L4 | LY_FRAGMENT);
  assert.is(walk(MACS + '0800' + V4.replace('00004000', '000000b9') + TCP) & FLAGS, LY_IPV4 | LY_L4 | LY_FRAGMENT | LY_LATER_FRAGMENT);
  assert.is(walk(MACS + '0800' + V4.replace('00004000', '00000100') + TCP) & FLAGS, LY_IPV4 | LY_L4 | LY_FRAGMENT | LY_LATER_FRAGMENT);
});

test('impossible lengths: no L3 or L4 claimed past the frame', () => {
  assert.is(walk('0000'), 0);
  assert.is(walk(MACS + '0800'), 0);
  // The IPv4 header cut short (the buffer goes on: only `len` counts); a tag announced but cut.
  assert.is(walk(MACS + '0800' + V4.slice(0, 30)), 0);
  assert.is(walk(MACS + '8100' + '00'), 0);
  // An IHL below 5 words: IPv4, but no L4.
  assert.is(walk(MACS + '0800' + V4.replace(/^45/, '44') + TCP) & FLAGS, LY_IPV4);
  assert.is(walk(MACS + '86dd' + V6.slice(0, 70)), 0);
  // Not IP at all.
  assert.is(walk(MACS + '0806' + '0001080006040001'), 0);
});

test('a bare IP packet (a TUN\'s): the version nibble picks the IP, L3 at 0, the same word as behind Ethernet less 14', () => {
  const at = 5;
  const bare = (hex: string): number => {
    const f = unhex(hex);
    const b = Buffer.alloc(at + f.length + 64, 0x45);
    f.copy(b, at);
    assert.is(layersAt(b, at, f.length, 0), layersOfIp(b, at, f.length), 'layersAt with no link header is layersOfIp');
    return layersOfIp(b, at, f.length);
  };
  const v4 = bare(V4 + TCP);
  assert.equal([v4 & FLAGS, lyL3(v4), lyL4(v4), lyProto(v4)], [LY_IPV4 | LY_L4, 0, 20, IPPROTO_TCP]);
  const opts = bare(V4_OPTS + '0000');
  assert.equal([opts & FLAGS, lyL4(opts), lyProto(opts)], [LY_IPV4 | LY_L4, 24, IPPROTO_UDP]);
  const v6 = bare(V6 + '00000000');
  assert.equal([v6 & FLAGS, lyL3(v6), lyL4(v6), lyProto(v6)], [LY_IPV6 | LY_L4, 0, 40, IPPROTO_UDP]);
  assert.is(bare(V4.replace('00004000', '00002000') + TCP) & FLAGS, LY_IPV4 | LY_L4 | LY_FRAGMENT);
  // The same packet behind Ethernet: the offsets move by 14, nothing else.
  const eth = walk(MACS + '0800' + V4 + TCP);
  assert.equal([eth & FLAGS, lyProto(eth), lyL4(eth) - 14], [v4 & FLAGS, lyProto(v4), lyL4(v4)]);
  // Impossible lengths and other versions: nothing claimed.
  assert.is(bare(''), 0);
  assert.is(bare(V4.slice(0, 30)), 0);
  assert.is(bare(V6.slice(0, 70)), 0);
  assert.is(bare('55' + V4.slice(2) + TCP), 0);
  assert.is(bare('00'.repeat(40)), 0);
});

test.run();
