// Sends a run of consecutive TCP segments (ACK, 1000 bytes each, one flow)
// to a weft as VXLAN datagrams, from an ordinary UDP socket on this host,
// with the segments listed in BAD damaged after their checksums were made:
// one payload byte flipped, as a fault on the way would leave them. Run
// inside a rig host by test/live/weft-pair.test.ts.
//
//   node tcp-run.js TO_IP PORT VNI DST_MAC SRC_MAC SRC_IP DST_IP COUNT BAD
//
// BAD is a comma-separated list of segment indexes (or "-" for none). The
// last line on stdout is {"sent": N}.

import { createSocket } from 'node:dgram';
import { ether, tcp4, vxlanPayload } from './packets.js';

const [to, portS, vniS, dstMac, srcMac, srcIp, dstIp, countS, badS] = process.argv.slice(2);
const count = Number(countS);
const bad = new Set(badS === '-' ? [] : badS.split(',').map(Number));
const payload = Buffer.alloc(1000);
const datagrams: Buffer[] = [];
for (let i = 0; i < count; i++) {
  for (let k = 0; k < payload.length; k++) payload[k] = (i * 31 + k) & 0xff;
  const ip = tcp4(40000, 9, payload, { seq: 1000 + i * payload.length, ack: 1 }, { src: srcIp, dst: dstIp, df: true });
  if (bad.has(i)) ip[ip.length - 100] ^= 0x10;
  datagrams.push(vxlanPayload(Number(vniS), ether(0x0800, ip, { dst: dstMac, src: srcMac })));
}
const s = createSocket('udp4');
let sent = 0;
s.bind(0, () => {
  for (const d of datagrams) {
    s.send(d, Number(portS), to, (err) => {
      if (err) throw err;
      if (++sent === datagrams.length) {
        process.stdout.write(`${JSON.stringify({ sent })}\n`);
        s.close();
      }
    });
  }
});
