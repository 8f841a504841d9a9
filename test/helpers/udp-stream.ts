// A paced, numbered UDP stream, to count loss and find stalls exactly, run
// inside the rig's hosts:
//
//   node udp-stream.js send DST PORT PPS SECONDS [SIZE]
//       sends PPS datagrams a second for SECONDS, each carrying its sequence
//       number and send time; prints {"sent":N,"errors":N} at the end.
//       Send errors (no route while the underlay is down) are counted, not fatal.
//       SIGTERM ends it early, with the summary.
//   node udp-stream.js recv BIND PORT SECONDS [IDLE_S [GAP_MS]]
//       counts what arrives until SECONDS have passed, or IDLE_S (default 3)
//       after the last datagram once any arrived; prints {"received", "unique", "dup",
//       "reordered", "maxSeq", "firstMs", "lastMs", "maxGapMs", "gaps":
//       [{afterSeq, fromMs, toMs}]} where maxGapMs is the longest pause
//       between two arrivals and a gap is a pause of more than GAP_MS (200)
//       (wall-clock ms, so a test can line it up with a fault).
//
// Both stop by themselves. Pacing is by the clock, in bursts every 10 ms, so
// a late timer catches up instead of lowering the rate.

import { createSocket } from 'node:dgram';

const TICK_MS = 10;
const [mode, ...a] = process.argv.slice(2);

if (mode === 'send') {
  const [dst, port, pps, seconds, size] = [a[0], Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4] ?? 200)];
  const s = createSocket('udp4');
  let total = Math.round(pps * seconds);
  // SIGTERM ends the stream early, with its summary: for a test that stops it when its fault is over.
  process.once('SIGTERM', () => { total = seq; });
  const t0 = Date.now();
  let seq = 0, errors = 0, pending = 0;
  const done = (err: Error | null) => { pending--; if (err) errors++; };
  const tick = setInterval(() => {
    const due = Math.min(total, Math.floor(((Date.now() - t0) * pps) / 1000));
    // Never more than a second's worth queued in the socket layer.
    while (seq < due && pending < pps) {
      const b = Buffer.alloc(Math.max(16, size));
      b.writeUInt32BE(seq, 0);
      b.writeDoubleBE(Date.now(), 4);
      pending++;
      s.send(b, port, dst, done);
      seq++;
    }
    if (seq >= total || Date.now() - t0 > seconds * 1000 + 5000) {
      clearInterval(tick);
      const end = () => { s.close(); process.stdout.write(JSON.stringify({ sent: seq, errors }) + '\n'); };
      const wait = setInterval(() => { if (pending === 0) { clearInterval(wait); end(); } }, 10);
    }
  }, TICK_MS);
} else if (mode === 'recv') {
  const [bind, port, seconds, idleS, gapMs] = [a[0], Number(a[1]), Number(a[2]), Number(a[3] ?? 3), Number(a[4] ?? 200)];
  const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const seen = new Uint8Array(1 << 24);
  let received = 0, unique = 0, dup = 0, reordered = 0, maxSeq = -1, firstMs = 0, lastMs = 0, maxGapMs = 0;
  const gaps: { afterSeq: number; fromMs: number; toMs: number }[] = [];
  let idle: NodeJS.Timeout | null = null;
  const finish = () => {
    clearTimeout(deadline);
    if (idle) clearTimeout(idle);
    s.close();
    process.stdout.write(JSON.stringify({ received, unique, dup, reordered, maxSeq, firstMs, lastMs, maxGapMs, gaps }) + '\n');
  };
  const deadline = setTimeout(finish, seconds * 1000);
  s.on('message', (m: Buffer) => {
    if (m.length < 12) return;
    const now = Date.now();
    const seq = m.readUInt32BE(0);
    received++;
    if (seq < seen.length) {
      if (seen[seq]) dup++; else { seen[seq] = 1; unique++; }
    }
    if (firstMs === 0) firstMs = now;
    else {
      if (now - lastMs > maxGapMs) maxGapMs = now - lastMs;
      if (now - lastMs > gapMs) gaps.push({ afterSeq: maxSeq, fromMs: lastMs, toMs: now });
    }
    lastMs = now;
    if (seq < maxSeq) reordered++;
    if (seq > maxSeq) maxSeq = seq;
    if (idle) clearTimeout(idle);
    idle = setTimeout(finish, idleS * 1000);
  });
  s.bind(port, bind, () => process.stderr.write('listening\n'));
} else {
  process.stderr.write('usage: udp-stream send DST PORT PPS SECONDS [SIZE] | recv BIND PORT SECONDS [IDLE_S [GAP_MS]]\n');
  process.exitCode = 2;
}
