// A MAC flood, run from one of the rig's hosts at a weft's UDP port:
//
//   node mac-flood.js DST PORT VNI COUNT PPS MAX_SECONDS
//
// sends COUNT VXLAN datagrams (RFC 7348: I flag, VNI), each carrying a
// 60-byte inner frame from a new source MAC, 02:f1:00:00:00:00 + i (locally
// administered unicast, never one weft or the rig uses), to
// 02:f1:ff:ff:ff:ff (nobody's, so a TAP that is handed one drops it) with
// the local-experimental EtherType 0x88b5. At most PPS a second, in bursts
// every 10 ms; it stops after COUNT datagrams or MAX_SECONDS, whichever
// comes first, and prints {"sent", "errors", "seconds"}.
//
// node:dgram takes one datagram per call; at most BURST are in flight, so a
// slow receiver cannot make the sender queue without bound.

import { createSocket } from 'node:dgram';

const BURST = 1024;
const TICK_MS = 10;
const FRAME = 60;

const [dst, portS, vniS, countS, ppsS, maxS] = process.argv.slice(2);
if (!maxS) {
  process.stderr.write('usage: mac-flood DST PORT VNI COUNT PPS MAX_SECONDS\n');
  process.exit(2);
}
const port = Number(portS), vni = Number(vniS), count = Number(countS), pps = Number(ppsS), maxMs = Number(maxS) * 1000;

const s = createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
const t0 = Date.now();
let sent = 0, errors = 0, inFlight = 0, finished = false;
const done = (err: Error | null) => { inFlight--; if (err) errors++; };

function datagram(i: number): Buffer {
  const b = Buffer.alloc(8 + FRAME);
  b[0] = 0x08;                       // I flag
  b.writeUIntBE(vni, 4, 3);          // VNI, then a reserved byte
  const f = 8;
  b.writeUInt16BE(0x02f1, f); b.writeUInt32BE(0xffffffff, f + 2);        // destination
  b.writeUInt16BE(0x02f1, f + 6); b.writeUInt32BE(i >>> 0, f + 8);       // source: a new one each time
  b.writeUInt16BE(0x88b5, f + 12);
  b.writeUInt32BE(i >>> 0, f + 14);
  return b;
}

const tick = setInterval(() => {
  const elapsed = Date.now() - t0;
  const due = Math.min(count, Math.floor((elapsed * pps) / 1000));
  while (sent < due && inFlight < BURST) {
    inFlight++;
    s.send(datagram(sent), port, dst, done);
    sent++;
  }
  if (!finished && (sent >= count || elapsed > maxMs)) {
    finished = true;
    clearInterval(tick);
    const wait = setInterval(() => {
      if (inFlight > 0 && Date.now() - t0 < maxMs + 5000) return;
      clearInterval(wait);
      s.close();
      process.stdout.write(JSON.stringify({ sent, errors, seconds: (Date.now() - t0) / 1000 }) + '\n');
    }, 10);
  }
}, TICK_MS);
