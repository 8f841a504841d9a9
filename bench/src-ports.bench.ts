// What sending from per-flow source ports costs (io/src-ports.ts): one
// send list of 64 datagrams of 1400 bytes (GSO on, as a TCP stream's
// segments are), sent on loopback to a socket drained after every send,
// from one socket as before and from the pool with 1, 4 and 64 flows in the
// list; and the cost of a per-message outer ECN (IP_TOS control message).
// Needs nothing but lo (127.0.0.1): the pool binds ports 47000–47063 there.

import { runCases } from './lib.js';
import { UdpSocket } from '../src/io/udp.js';
import { DatagramBatch, HEADROOM, SendList } from '../src/io/batch.js';
import { PeerTable } from '../src/fdb/peers.js';

const N = 64, SIZE = 1400;
const rx = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 256, offload: true });
const single = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: true });
const pooled = new UdpSocket({ family: 4, address: '127.0.0.1', port: 0, batch: 64, offload: true, srcPorts: { min: 47000, max: 47063 } });
const peers = new PeerTable(4);
const to = peers.internIp('127.0.0.1', rx.port);
const slab = Buffer.alloc(HEADROOM + N * SIZE);
const drain = new DatagramBatch(256);

/** The list: flow of entry i is i's run of N / flows, at port 47000 + flow; every entry's ECN `ecn`. */
function list(flows: number, ecn: number): SendList {
  const s = new SendList(N);
  for (let i = 0; i < N; i++) {
    s.off[i] = HEADROOM + i * SIZE; s.len[i] = SIZE; s.peer[i] = to; s.from[i] = i; s.ecn[i] = ecn;
  }
  s.count = N;
  return s;
}
const ports = (s: SendList, flows: number): SendList => {
  for (let i = 0; i < N; i++) s.srcPort[i] = 47000 + Math.floor(i / (N / flows));
  return s;
};

let sink = 0;
function sendFrom(sock: UdpSocket, s: SendList, flows: number): () => void {
  return () => {
    ports(s, flows);   // send() writes the port used back into the list
    sink += sock.send(s, peers, slab);
    while (rx.recv(drain) > 0) sink++;
  };
}

process.stdout.write('srcports  (64 × 1400 B a call, GSO, loopback; per datagram)\n');
runCases('srcports', [
  { name: 'one socket (before), 1 flow', perCall: N, fn: sendFrom(single, list(1, 0), 1) },
  { name: 'pool, 1 flow', perCall: N, fn: sendFrom(pooled, list(1, 0), 1) },
  { name: 'one socket (before), 4 flows', perCall: N, fn: sendFrom(single, list(4, 0), 4) },
  { name: 'pool, 4 flows', perCall: N, fn: sendFrom(pooled, list(4, 0), 4) },
  { name: 'one socket (before), 64 flows', perCall: N, fn: sendFrom(single, list(64, 0), 64) },
  { name: 'pool, 64 flows', perCall: N, fn: sendFrom(pooled, list(64, 0), 64) },
  { name: 'pool, 1 flow, outer ECN ECT(0) (IP_TOS)', perCall: N, fn: sendFrom(pooled, list(1, 2), 1) },
]);
single.close(); pooled.close(); rx.close();
if (sink === 0.5) process.stdout.write('\n'); // keep `sink` alive
