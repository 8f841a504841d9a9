// UdpSocket with per-flow source ports and outer ECN, against the real
// kernel on lo: each entry leaves from the socket of its flow's slot
// (io/src-ports.ts), in order within a flow, with the outer TOS the send
// list asked for, and the receiving socket reads that TOS back (IP_RECVTOS /
// IPV6_RECVTCLASS), with GSO and GRO and without.
//
// Runs in the private network namespace test/run.ts made for it (unshare
// --net), holding only lo. Needs root; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UdpSocket } from '../../src/io/udp.js';
import { SendList, DatagramBatch, HEADROOM } from '../../src/io/batch.js';
import { PeerTable } from '../../src/fdb/peers.js';
import { native } from '../../src/io/native.js';
import { privateNetns } from '../helpers/unshare.js';
import { allocatedDuring, leastAllocatedOf3 } from '../helpers/alloc.js';

/** `n` datagrams of `size` bytes; entry i carries its index in its first 4 bytes, flow port `port(i)` and ECN `ecn(i)`. */
function list(n: number, size: number, peer: number, port: (i: number) => number, ecn: (i: number) => number): { sends: SendList; slab: Buffer } {
  const slab = Buffer.alloc(HEADROOM + n * size);
  const sends = new SendList(n);
  for (let i = 0; i < n; i++) {
    const off = HEADROOM + i * size;
    slab.writeUInt32BE(i, off);
    sends.off[i] = off; sends.len[i] = size; sends.peer[i] = peer; sends.from[i] = i;
    sends.srcPort[i] = port(i); sends.ecn[i] = ecn(i);
  }
  sends.count = n;
  return { sends, slab };
}

/** Receives until `n` datagrams came or a second passed: [index, source port, outer ECN] each. */
async function receive(rx: UdpSocket, n: number): Promise<[number, number, number][]> {
  const got: [number, number, number][] = [];
  const b = new DatagramBatch(256);
  const until = Date.now() + 1000;
  while (got.length < n && Date.now() < until) {
    const k = rx.recv(b);
    for (let i = 0; i < k; i++) got.push([b.buf.readUInt32BE(b.off[i]), b.srcPort[i], b.ecn[i]]);
    if (k === 0) await new Promise((r) => setTimeout(r, 5));
  }
  return got;
}

for (const [family, lo] of [[4, '127.0.0.1'], [6, '::1']] as const) {
  for (const offload of [true, false]) {
    test(`IPv${family}, ${offload ? 'GSO/GRO' : 'one message per datagram'}: each flow from its own port, in order, with its ECN`, async () => {
      privateNetns();
      const rx = new UdpSocket({ family, address: lo, port: 0, batch: 256, offload });
      // A 4-port range: four slots, each bound to the hashed port itself.
      const tx = new UdpSocket({ family, address: lo, port: 0, batch: 64, offload, srcPorts: { min: 41000, max: 41003 } });
      try {
        const peers = new PeerTable(4);
        const to = peers.internIp(lo, rx.port);
        // 48 datagrams: flows 41000..41003 in runs of three, interleaved; the ECN is the flow's.
        const { sends, slab } = list(48, 400, to, (i) => 41000 + (Math.floor(i / 3) % 4), (i) => Math.floor(i / 3) % 4);
        assert.is(tx.send(sends, peers, slab), 48);
        const got = await receive(rx, 48);
        assert.is(got.length, 48);
        const ports = new Set(got.map((g) => g[1]));
        assert.equal([...ports].sort(), [41000, 41001, 41002, 41003]);
        for (const [i, port, ecn] of got) {
          assert.is(port, 41000 + (Math.floor(i / 3) % 4), `datagram ${i} from its flow's port`);
          assert.is(ecn, Math.floor(i / 3) % 4, `datagram ${i}'s outer ECN`);
          assert.is(sends.srcPort[i], port, 'the list says where each left from');
        }
        for (const p of ports) {
          const seq = got.filter((g) => g[1] === p).map((g) => g[0]);
          assert.equal(seq, [...seq].sort((a, b) => a - b), `port ${p}: in order`);
        }
        assert.is(tx.srcPorts!.opened, 4);
      } finally {
        tx.close();
        rx.close();
      }
    });
  }
}

test('a slot whose ports are all taken sends from the VXLAN socket, counted; a wide range binds one port per slot', async () => {
  privateNetns();
  const n = native();
  const rx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: false });
  const squatter = n.udpOpen(4, '127.0.0.1', 42001, {});
  const tx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: false, srcPorts: { min: 42000, max: 42003 } });
  const wide = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: false, srcPorts: { min: 43000, max: 43999 } });
  try {
    const peers = new PeerTable(4);
    const to = peers.internIp('127.0.0.1', rx.port);
    const { sends, slab } = list(2, 100, to, (i) => 42000 + i, () => 0);
    assert.is(tx.send(sends, peers, slab), 2);
    const got = await receive(rx, 2);
    assert.equal(got.map((g) => g[1]).sort(), [42000, tx.port].sort((a, b) => a - b));
    assert.is(tx.srcPorts!.fallbacks, 1);
    // 1000 ports, 64 slots: port 43000 + 64k + s goes to slot s, bound to 43000 + s.
    const w = list(3, 100, to, (i) => [43000, 43064 + 5, 43999][i], () => 0);
    assert.is(wide.send(w.sends, peers, w.slab), 3);
    const wgot = await receive(rx, 3);
    assert.equal(wgot.map((g) => g[1]), [43000, 43005, 43000 + (999 % 64)]);
  } finally {
    wide.close();
    tx.close();
    rx.close();
    n.close(squatter.fd);
  }
});

test('sending from the pool allocates nothing per datagram (grouping, ports, ECN)', () => {
  privateNetns();
  const rx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 256, offload: true });
  const tx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: true, srcPorts: { min: 44000, max: 44999 } });
  try {
    const peers = new PeerTable(4);
    const to = peers.internIp('127.0.0.1', rx.port);
    // 64 datagrams of 4 flows interleaved in runs of 4, two ECN values: every path of send() but the first-use open.
    const { sends, slab } = list(64, 200, to, (i) => 44000 + 7 * (Math.floor(i / 4) % 4), (i) => (i >> 3) & 2);
    const flows = Uint16Array.from(sends.srcPort);
    const drain = new DatagramBatch(256);
    let sent = 0;
    const rounds = (n: number) => () => {
      for (let r = 0; r < n; r++) {
        sends.srcPort.set(flows);
        sent += tx.send(sends, peers, slab);
        while (rx.recv(drain) > 0) sent++;
      }
    };
    rounds(200)();   // warm: sockets opened, code optimised
    // A control that allocates per datagram (a Buffer view each) shows the profiler sees it.
    const control = allocatedDuring(() => { for (let r = 0; r < 500 * 64; r++) sent += slab.subarray(r & 63, 64).length; });
    const got = leastAllocatedOf3(rounds(500));
    console.log(`  500 sends of 64 datagrams: ${got} bytes sampled (control: ${control})`);
    assert.ok(control > 500 * 64 * 16, `the control's allocations were seen (${control} bytes)`);
    assert.ok(got < 64 * 1024, `${got} bytes for ${500 * 64} datagrams`);
    assert.ok(sent > 0);
  } finally {
    tx.close();
    rx.close();
  }
});

test.run();
