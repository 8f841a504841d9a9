// The forwarding loop with several overlays on one socket (datapath/
// forwarder.ts), on in-memory twins of the TAP and the socket: frames decap
// delivers go to their own VNI's TAP and nowhere else, frames read from a
// TAP leave on that TAP's VNI, the same MAC on two VNIs is two entries, and
// a too-big frame is answered into the TAP it came from. A loop whose
// clock is driven from outside (replay) ages on that clock when asked, and
// keeps no timer.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import { Forwarder } from '../../src/datapath/forwarder.js';
import { VNI_RX_FRAMES, VNI_TX_FRAMES } from '../../src/datapath/vni.js';
import { VxlanView } from '../../src/wire/vxlan.js';
import { eth, vxlan, MAC_A, MAC_B, BCAST } from '../helpers/packets.js';
import { ether, ipv4, udpHdr } from '../helpers/packets.js';
import { MemoryTap, MemoryUdp, pump } from '../helpers/memory-ports.js';

const P2 = '198.18.0.2';

function twoVnis(opts: { mtu?: number } = {}) {
  const dp = new Datapath();
  const a = dp.addVni(10, { port: 8472, mtu: opts.mtu });
  const b = dp.addVni(20, { port: 8472, mtu: opts.mtu });
  for (const v of [a, b]) dp.addFloodPeer(v, P2);
  const tapA = new MemoryTap(), tapB = new MemoryTap(), udp = new MemoryUdp();
  const fwd = new Forwarder(dp, a, tapA, udp, { batch: 16 });
  fwd.addOverlay(b, tapB);
  fwd.start();
  return { dp, a, b, tapA, tapB, udp, fwd };
}

test('decap output goes to its own VNI\'s TAP only, in order', () => {
  const { dp, a, b, tapA, tapB, udp, fwd } = twoVnis();
  assert.equal(fwd.vnis, [10, 20]);
  // Interleaved: 10, 20, 10, 20, … with a frame number in the payload.
  for (let k = 0; k < 40; k++) {
    const vni = k % 2 === 0 ? 10 : 20;
    udp.inbox.push({ payload: vxlan(eth({ src: MAC_B, dst: BCAST, payload: Buffer.from([k, ...Buffer.alloc(45)]) }), { vni }), from: P2 });
  }
  pump([tapA, tapB], udp);
  assert.equal(tapA.written.map((f) => f[14]), Array.from({ length: 20 }, (_, i) => 2 * i));
  assert.equal(tapB.written.map((f) => f[14]), Array.from({ length: 20 }, (_, i) => 2 * i + 1));
  assert.is(a.counters[VNI_RX_FRAMES], 20);
  assert.is(b.counters[VNI_RX_FRAMES], 20);
  // The same MAC learned on both VNIs: two entries, no clash.
  assert.is(dp.fdb.size, 2);
  assert.ok(dp.fdb.lookupMac(10, 0x02000af40201) >= 0 && dp.fdb.lookupMac(20, 0x02000af40201) >= 0);
  fwd.stop();
  assert.ok(tapA.closed && tapB.closed && udp.closed);
});

test('frames read from a TAP leave on that TAP\'s VNI', () => {
  const { a, b, tapA, tapB, udp, fwd } = twoVnis();
  tapA.inbox.push(eth({ src: MAC_A, dst: BCAST }));
  tapB.inbox.push(eth({ src: MAC_A, dst: BCAST }), eth({ src: MAC_A, dst: BCAST }));
  pump([tapA, tapB], udp);
  const vnis = udp.sent.map((s) => new VxlanView(s.payload, 0).vni()).sort();
  assert.equal(vnis, [10, 20, 20]);
  assert.is(a.counters[VNI_TX_FRAMES], 1);
  assert.is(b.counters[VNI_TX_FRAMES], 2);
  fwd.stop();
});

test('a VNI the data path carries but no TAP serves: counted as rx_drop_tap, written nowhere', () => {
  const { dp, tapA, tapB, udp, fwd } = twoVnis();
  dp.addVni(30, { port: 8472 });
  udp.inbox.push({ payload: vxlan(eth({ src: MAC_B }), { vni: 30 }), from: P2 });
  pump([tapA, tapB], udp);
  assert.is(tapA.written.length + tapB.written.length, 0);
  assert.is(dp.counters.get('rx_drop_tap'), 1);
  fwd.stop();
});

test('a too-big frame from VNI 20\'s TAP is answered into that TAP, not the other', () => {
  const { dp, tapA, tapB, udp, fwd } = twoVnis({ mtu: 1400 });
  const big = ether(0x0800, ipv4(17, udpHdr(1, 2, Buffer.alloc(1472)), { df: true, src: '10.244.20.1', dst: '10.244.20.2' }), { src: '02:00:00:00:20:01', dst: '02:00:00:00:20:02' });
  tapB.inbox.push(big);
  pump([tapA, tapB], udp);
  assert.is(udp.sent.length, 0);
  assert.is(tapA.written.length, 0);
  assert.is(tapB.written.length, 1);
  const r = tapB.written[0];
  assert.equal([r.readUInt16BE(12), r[14 + 9], r[34], r[35], r.readUInt16BE(40)], [0x0800, 1, 3, 4, 1400]);
  assert.equal(dp.counters.nonZero(), { tx_frames: 1, tx_bytes: big.length, tx_drop_too_big: 1, icmp_too_big_sent: 1 });
  fwd.stop();
});

test('addOverlay refuses a VNI twice', () => {
  const { a, fwd } = twoVnis();
  assert.throws(() => fwd.addOverlay(a, new MemoryTap()), /VNI 10 has a TAP already/);
  fwd.stop();
});

test('without its timer the loop ages on its own clock when asked: every ageEveryMs, the first call starting the count', () => {
  const dp = new Datapath({ fdbAgeingMs: 300_000 });
  const v = dp.addVni(10, { port: 8472 });
  const tap = new MemoryTap(), udp = new MemoryUdp();
  let now = 1_000_000;
  const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
  const before = timers();
  const fwd = new Forwarder(dp, v, tap, udp, { now: () => now, ageOnTimer: false, ageEveryMs: 30_000 });
  fwd.start();
  assert.is(timers(), before);
  udp.inbox.push({ payload: vxlan(eth({ src: MAC_B }), { vni: 10 }), from: P2 });
  pump([tap], udp);
  assert.is(dp.fdb.size, 1);
  assert.not.ok(fwd.ageIfDue());           // starts the count
  now += 301_000;
  assert.ok(fwd.ageIfDue());
  assert.is(dp.fdb.size, 0);
  now += 29_999;
  assert.not.ok(fwd.ageIfDue());           // not due yet
  fwd.stop();
  assert.not.ok(fwd.ageIfDue());
});

test('encap fills source ports only when the socket sends from them (flowSourcePorts)', () => {
  for (const flowSourcePorts of [false, true]) {
    const dp = new Datapath();
    const v = dp.addVni(10, { port: 8472 });
    dp.addFloodPeer(v, P2);
    const tap = new MemoryTap(), udp = new MemoryUdp();
    let ports = -1;
    const send = udp.send.bind(udp);
    udp.send = (list, peers, slab) => { ports = list.srcPort[0]; return send(list, peers, slab); };
    const fwd = new Forwarder(dp, v, tap, udp, { flowSourcePorts });
    fwd.start();
    tap.inbox.push(eth({ src: MAC_A, dst: BCAST }));
    pump([tap], udp);
    assert.is(udp.sent.length, 1);
    assert.is(ports !== 0, flowSourcePorts, `flowSourcePorts ${flowSourcePorts}: port ${ports}`);
    fwd.stop();
  }
});

test.run();
