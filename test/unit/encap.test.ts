// Encap, table-driven: each row is one frame, the flood list and table it
// meets, and the datagrams it must become.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import type { CounterName } from '../../src/datapath/counters.js';
import { parseMac } from '../../src/wire/mac.js';
import { VxlanView } from '../../src/wire/vxlan.js';
import { SRC_PORT_MIN, SRC_PORT_MAX, flowSourcePort } from '../../src/datapath/flowhash.js';
import { eth, MAC_A, MAC_B, MAC_C, BCAST } from '../helpers/packets.js';
import { encapAll, decapAll } from '../helpers/datapath.js';
import { vxlan } from '../helpers/packets.js';

const P2 = '198.18.0.2', P3 = '198.18.0.3', P4 = '198.18.0.4';

interface Row {
  name: string;
  frame: Buffer;
  flood: string[];
  statics?: [string, string][];
  headroom?: number;
  /** Peers the frame must go to, in flood-list order. */
  to: string[];
  counter: CounterName;
}

const rows: Row[] = [
  // A static unicast destination: exactly one datagram, to that VTEP.
  { name: 'known unicast', frame: eth({ dst: MAC_B }), flood: [P2, P3], statics: [[MAC_B, P3]], to: [P3], counter: 'tx_unicast' },
  // Broadcast: head-end replication to every flood peer.
  { name: 'broadcast', frame: eth({ dst: BCAST }), flood: [P2, P3, P4], to: [P2, P3, P4], counter: 'tx_flooded' },
  // IPv4 multicast MAC: flooded like broadcast.
  { name: 'multicast', frame: eth({ dst: '01:00:5e:01:02:03' }), flood: [P2, P3], to: [P2, P3], counter: 'tx_flooded' },
  // Unknown unicast: flooded.
  { name: 'unknown unicast', frame: eth({ dst: MAC_C }), flood: [P2, P3], to: [P2, P3], counter: 'tx_flooded' },
  // A multicast destination is flooded even if a static entry exists for it.
  { name: 'multicast ignores table', frame: eth({ dst: '33:33:00:00:00:01' }), flood: [P2], statics: [['33:33:00:00:00:01', P3]], to: [P2], counter: 'tx_flooded' },
  // Nowhere to send: counted, nothing sent.
  { name: 'empty flood list', frame: eth({ dst: BCAST }), flood: [], to: [], counter: 'tx_drop_no_destination' },
  // Runt frame.
  { name: '13-byte frame', frame: Buffer.alloc(13, 1), flood: [P2], to: [], counter: 'tx_drop_too_short' },
  // No room in front for the VXLAN header.
  { name: 'no headroom', frame: eth(), flood: [P2], headroom: 4, to: [], counter: 'tx_drop_no_headroom' },
  // Larger than one datagram can carry.
  { name: 'too big', frame: eth({ payload: 65500 }), flood: [P2], to: [], counter: 'tx_drop_too_big' },
  // 802.1Q-tagged frame: carried as it is.
  { name: 'tagged', frame: eth({ dst: BCAST, vlan: 7 }), flood: [P2], to: [P2], counter: 'tx_flooded' },
];

for (const r of rows) {
  test(`encap: ${r.name}`, () => {
    const dp = new Datapath();
    const v = dp.addVni(0x123456, { port: 8472 });
    for (const p of r.flood) dp.addFloodPeer(v, p);
    for (const [m, ip] of r.statics ?? []) dp.addStatic(v, parseMac(m), ip);
    const out = encapAll(dp, v, [r.frame], r.headroom);
    assert.is(dp.counters.get(r.counter), 1, JSON.stringify(dp.counters.nonZero()));
    assert.equal(out.map((o) => o.peer), r.to);
    for (const o of out) {
      const h = new VxlanView(o.payload, 0);
      // RFC 7348 §5 on send: I flag, the VNI, reserved bits zero.
      assert.is(h.flags(), 0x08);
      assert.is(h.vni(), 0x123456);
      assert.is(h.anyReservedSet(), false);
      assert.ok(o.payload.subarray(8).equals(r.frame));
      // No copy: the payload starts 8 bytes before the frame, in the same slab.
      assert.is(o.payOff, o.frameOff - 8);
      assert.ok(o.srcPort >= SRC_PORT_MIN && o.srcPort <= SRC_PORT_MAX);
    }
    assert.is(dp.counters.get('tx_datagrams'), r.to.length);
  });
}

test('encap: a learned destination goes to where decap learned it', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 4789 });
  dp.addFloodPeer(v, P2);
  dp.addFloodPeer(v, P3);
  decapAll(dp, [{ payload: vxlan(eth({ src: MAC_B, dst: MAC_A })), from: P3 }]);
  const out = encapAll(dp, v, [eth({ src: MAC_A, dst: MAC_B })]);
  assert.equal(out.map((o) => o.peer), [P3]);
  assert.is(dp.peers.port(dp.peers.internIp(P3, 4789)), 4789);
});

test('encap: split horizon — a flooded frame from a MAC learned behind a VTEP is not sent back there', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472 });
  for (const p of [P2, P3, P4]) dp.addFloodPeer(v, p);
  decapAll(dp, [{ payload: vxlan(eth({ src: MAC_C })), from: P3 }]);
  const out = encapAll(dp, v, [eth({ src: MAC_C, dst: BCAST })]);
  assert.equal(out.map((o) => o.peer), [P2, P4]);
});

test('encap: the source port is stable per flow and differs across flows', () => {
  const udp = (sport: number) => {
    const ip = Buffer.alloc(28);
    ip[0] = 0x45; ip[9] = 17;
    ip.writeUInt32BE(0x0af40101, 12); ip.writeUInt32BE(0x0af40102, 16);
    ip.writeUInt16BE(sport, 20); ip.writeUInt16BE(53, 22);
    return eth({ payload: ip });
  };
  const a1 = udp(1000), a2 = udp(1000);
  assert.is(flowSourcePort(a1, 0, a1.length), flowSourcePort(a2, 0, a2.length));
  const ports = new Set<number>();
  for (let s = 1000; s < 1100; s++) { const f = udp(s); ports.add(flowSourcePort(f, 0, f.length)); }
  // 100 flows over 28,232 ports: collisions are possible but rare.
  assert.ok(ports.size > 95, `only ${ports.size} distinct ports`);
  for (const p of ports) assert.ok(p >= SRC_PORT_MIN && p <= SRC_PORT_MAX);
});

test('encap: a batch of frames keeps order; flood copies share the same bytes', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, P2);
  dp.addFloodPeer(v, P3);
  dp.addStatic(v, parseMac(MAC_B), P2);
  const frames = [eth({ dst: MAC_B, payload: 10 }), eth({ dst: BCAST, payload: 20 }), eth({ dst: MAC_B, payload: 30 })];
  const out = encapAll(dp, v, frames);
  assert.equal(out.map((o) => [o.from, o.peer]), [[0, P2], [1, P2], [1, P3], [2, P2]]);
  assert.is(out[1].payOff, out[2].payOff);
});

test.run();
