// UdpSocket.send's count of datagrams sent, against the real kernel: what
// the forwarder turns into tx_drop_socket, so the counters stay exact when
// the underlay goes away (test/live/faults-underlay.test.ts does it live).
//
// Runs in the private network namespace test/run.ts made for it (unshare
// --net), holding only lo: nothing here can reach the host's namespace.
// 198.18.0.9 has no route there, so every
// send to it is refused (ENETUNREACH), as it is on a host whose underlay
// address or link is gone. Needs root; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UdpSocket } from '../../src/io/udp.js';
import { SendList, HEADROOM } from '../../src/io/batch.js';
import { PeerTable } from '../../src/fdb/peers.js';
import { privateNetns } from '../helpers/unshare.js';

/** `n` datagrams of `size` bytes, back to back after HEADROOM, each to a peer from `to`. */
function list(n: number, size: number, to: (i: number) => number): { sends: SendList; slab: Buffer } {
  const slab = Buffer.alloc(HEADROOM + n * size);
  const sends = new SendList(n);
  for (let i = 0; i < n; i++) {
    sends.off[i] = HEADROOM + i * size;
    sends.len[i] = size;
    sends.peer[i] = to(i);
    sends.from[i] = i;
  }
  sends.count = n;
  return { sends, slab };
}

for (const offload of [true, false]) {
  test(`send (${offload ? 'GSO' : 'one message per datagram'}): refused datagrams are not counted as sent; the rest are`, () => {
    privateNetns();
    const rx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: false });
    const tx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload });
    try {
      assert.is(tx.gso, offload);
      const peers = new PeerTable(8);
      const lo = peers.internIp('127.0.0.1', rx.port);
      const gone = peers.internIp('198.18.0.9', 4789);
      // Rows: datagrams, size, destination of each, datagrams the socket takes.
      const rows: [number, number, (i: number) => number, number][] = [
        [12, 1000, () => lo, 12],                      // all deliverable (GSO: one message of 12)
        [12, 1000, () => gone, 0],                     // all refused: the underlay is gone
        [1, 300, () => gone, 0],                       // a lone datagram, refused
        [8, 500, (i) => (i < 4 ? lo : gone), 4],       // a run each way: one GSO message refused
      ];
      for (const [n, size, to, want] of rows) {
        const { sends, slab } = list(n, size, to);
        const sent = tx.send(sends, peers, slab);
        if (offload && want !== 0 && want !== n) {
          // Which datagrams of a partly refused batch failed is not reported:
          // each refused GSO message counts as one.
          assert.ok(sent >= want && sent <= n - 1, `${n} × ${size}: sent ${sent}, want about ${want}`);
        } else {
          assert.is(sent, want, `${n} × ${size}`);
        }
      }
    } finally {
      tx.close();
      rx.close();
    }
  });
}

test.run();
