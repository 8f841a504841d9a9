// RFC 6040 across the tunnel: the rules as pure functions (wire/ecn.ts),
// then encap and decap applying them to frames, and the TAP's coalescer
// keeping segments whose ECN differs apart.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decapEcn, encapEcn, frameEcn, setFrameEcn, ECN_CE, ECN_DROP, ECN_ECT0, ECN_ECT1, ECN_NOT_ECT, ECN_NO_IP,
} from '../../src/wire/ecn.js';
import { sum16, fold } from '../../src/wire/checksum.js';
import { Datapath } from '../../src/datapath/datapath.js';
import { parseMac } from '../../src/wire/mac.js';
import { Coalescer } from '../../src/io/tap-write.js';
import { arpRequest, eth, ether, tcp4, tcp6, udp4, vxlan, MAC_A, MAC_B } from '../helpers/packets.js';
import { decapAll, encapAll } from '../helpers/datapath.js';

const arp = (): Buffer => ether(0x0806, arpRequest(MAC_A, '10.244.0.2', '10.244.0.1'));
const N = ECN_NOT_ECT, E0 = ECN_ECT0, E1 = ECN_ECT1, CE = ECN_CE, X = ECN_DROP;

test('decapEcn is RFC 6040 §4.2\'s table, cell by cell', () => {
  // Rows: inner; columns: outer Not-ECT, ECT(0), ECT(1), CE.
  const table: [number, number[]][] = [
    [N, [N, N, N, X]],
    [E0, [E0, E0, E1, CE]],
    [E1, [E1, E1, E1, CE]],
    [CE, [CE, CE, CE, CE]],
  ];
  const outers = [N, E0, E1, CE];
  for (const [inner, want] of table) {
    outers.forEach((outer, k) => assert.is(decapEcn(outer, inner), want[k], `inner ${inner}, outer ${outer}`));
  }
});

test('encapEcn copies the inner field, CE included (§4.1 normal mode); no IP header: Not-ECT', () => {
  for (const e of [N, E0, E1, CE]) assert.is(encapEcn(e), e);
  assert.is(encapEcn(ECN_NO_IP), N);
});

/** An IPv4 TCP frame whose TOS carries `ecn` (DSCP 0x28 above it), checksum valid. */
function tcpFrame4(ecn: number, seq = 1000, payload = 100): Buffer {
  const ip = tcp4(40000, 80, Buffer.alloc(payload, 7), { seq });
  ip[1] = (0x28 << 2) | ecn;
  ip.writeUInt16BE(0, 10);
  ip.writeUInt16BE(~sum16(ip, 0, 20) & 0xffff, 10);
  return ether(0x0800, ip, { src: MAC_A, dst: MAC_B });
}

test('frameEcn reads IPv4, IPv6 and tagged frames; frames without IP have none', () => {
  for (const e of [N, E0, E1, CE]) assert.is(frameEcn(tcpFrame4(e), 0, 154), e);
  const v6 = ether(0x86dd, tcp6(1, 2, Buffer.alloc(10)));
  v6[14] = 0x60 | (0xb8 >>> 4); v6[15] = ((0xb8 | E1) & 0x0f) << 4; // traffic class 0xb9: DSCP 46, ECT(1)
  assert.is(frameEcn(v6, 0, v6.length), E1);
  const tagged = ether(0x0800, udp4(1, 2, Buffer.alloc(8)), { tags: [[0x8100, 5]] });
  tagged[18 + 1] = CE;
  assert.is(frameEcn(tagged, 0, tagged.length), CE);
  assert.is(frameEcn(arp(), 0, arp().length), ECN_NO_IP);
  // An IPv4 EtherType over a header whose version says 6: not IP as far as ECN goes.
  const lying = tcpFrame4(CE); lying[14] = 0x65;
  assert.is(frameEcn(lying, 0, lying.length), ECN_NO_IP);
});

test('setFrameEcn keeps the IPv4 header checksum valid (RFC 1624) and DSCP as it was', () => {
  for (const from of [N, E0, E1, CE]) {
    for (const to of [N, E0, E1, CE]) {
      const f = tcpFrame4(from);
      assert.ok(setFrameEcn(f, 0, f.length, to));
      assert.is(f[15], (0x28 << 2) | to);
      assert.is(fold(sum16(f, 14, 20)), 0xffff, `${from} → ${to}: header checksum`);
      assert.equal(f.subarray(34), tcpFrame4(from).subarray(34), 'nothing after the IP header changes');
    }
  }
  const v6 = ether(0x86dd, tcp6(1, 2, Buffer.alloc(10)));
  v6[14] = 0x6b; v6[15] = 0x85; // traffic class 0xb8, flow label 0x5....
  assert.ok(setFrameEcn(v6, 0, v6.length, CE));
  assert.is(v6[14], 0x6b);
  assert.is(v6[15], 0xb5);
  assert.not.ok(setFrameEcn(arp(), 0, arp().length, CE));
});

function rxPath(): Datapath {
  const dp = new Datapath();
  dp.addVni(1, { port: 8472 }).addLocalMac(parseMac('02:00:0a:f4:0f:0f'));
  return dp;
}

test('decap: outer CE marks an ECT inner packet CE, drops a Not-ECT one (counted), passes ARP', () => {
  const dp = rxPath();
  const out = decapAll(dp, [
    { payload: vxlan(tcpFrame4(E0)), from: '198.18.0.2', ecn: CE },   // marked
    { payload: vxlan(tcpFrame4(N)), from: '198.18.0.2', ecn: CE },    // dropped
    { payload: vxlan(tcpFrame4(E0)), from: '198.18.0.2', ecn: E1 },   // ECT(1) outside: ECT(1) inside
    { payload: vxlan(tcpFrame4(N)), from: '198.18.0.2', ecn: E0 },    // unchanged (Linux logs it, passes it)
    { payload: vxlan(arp()), from: '198.18.0.2', ecn: CE }, // no IP: as it came
  ]);
  assert.is(out.length, 4);
  assert.is(dp.counters.get('rx_drop_ecn_not_ect'), 1);
  assert.is(dp.counters.get('rx_ecn_ce'), 1);
  assert.is(frameEcn(out[0].frame, 0, out[0].frame.length), CE);
  assert.is(fold(sum16(out[0].frame, 14, 20)), 0xffff, 'the marked header\'s checksum verifies');
  assert.is(frameEcn(out[1].frame, 0, out[1].frame.length), E1);
  assert.is(frameEcn(out[2].frame, 0, out[2].frame.length), N);
  assert.is(out[3].frame.readUInt16BE(12), 0x0806);
});

test('encap: each datagram\'s outer ECN is its inner packet\'s', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, '198.18.0.2', 8472);
  const tx = encapAll(dp, v, [tcpFrame4(N), tcpFrame4(E0), tcpFrame4(E1), tcpFrame4(CE), eth()]);
  assert.equal(tx.map((t) => t.ecn), [N, E0, E1, CE, N]);
});

test('the coalescer does not merge TCP segments whose ECN differs (a CE mark must reach the receiver)', () => {
  const merged = (a: Buffer, b: Buffer): number => {
    const c = new Coalescer(Buffer.alloc(1 << 16), 8);
    c.add(a, 0, a.length);
    c.add(b, 0, b.length);
    c.flush();
    return c.count;
  };
  assert.is(merged(tcpFrame4(E0, 1000), tcpFrame4(E0, 1100)), 1, 'same ECN, in order: one super-frame');
  assert.is(merged(tcpFrame4(E0, 1000), tcpFrame4(CE, 1100)), 2, 'CE on the second: kept apart');
});

test.run();
