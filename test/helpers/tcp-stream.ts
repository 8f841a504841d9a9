// A long-running, paced TCP stream with an end-to-end check, run inside the
// rig's hosts, for faults that must not break a connection:
//
//   node tcp-stream.js serve IP PORT SECONDS
//       accepts one connection; when the peer closes, prints {"bytes",
//       "sha256", "gaps": [{fromMs, toMs}]}: every pause of more than 150 ms
//       between arrivals, in wall-clock ms, so a test can line it up with a
//       fault. Gives up (exit 3) after SECONDS.
//   node tcp-stream.js send IP PORT BYTES_PER_S SECONDS
//       sends BYTES_PER_S of deterministic data a second for SECONDS (16 KiB
//       writes every 50 ms or so), then closes and prints {"bytes", "sha256"}.
//       Gives up (exit 3) after SECONDS + 60. SIGTERM ends it early, as if
//       SECONDS were over.
//
// Pacing is by the clock: after a stall the sender catches up as fast as TCP
// lets it, so the stream's end still comes soon after SECONDS.

import { createServer, connect } from 'node:net';
import { createHash } from 'node:crypto';

const GAP_MS = 150;
const [mode, host, portS, a3, a4] = process.argv.slice(2);
const port = Number(portS);

if (mode === 'serve') {
  const seconds = Number(a3);
  setTimeout(() => { process.stderr.write('tcp-stream: timed out\n'); process.exit(3); }, seconds * 1000).unref();
  const srv = createServer((sock) => {
    const h = createHash('sha256');
    let n = 0, last = 0;
    const gaps: { fromMs: number; toMs: number }[] = [];
    sock.on('data', (d: Buffer) => {
      const now = Date.now();
      if (last !== 0 && now - last > GAP_MS) gaps.push({ fromMs: last, toMs: now });
      last = now;
      h.update(d);
      n += d.length;
    });
    sock.on('end', () => {
      process.stdout.write(JSON.stringify({ bytes: n, sha256: h.digest('hex'), gaps }) + '\n');
      sock.end();
      srv.close();
    });
    sock.on('error', (e) => { process.stderr.write(`tcp-stream: ${e.message}\n`); process.exit(2); });
  });
  srv.listen(port, host, () => process.stderr.write('tcp-stream: listening\n'));
} else if (mode === 'send') {
  const rate = Number(a3), seconds = Number(a4);
  setTimeout(() => { process.stderr.write('tcp-stream: timed out\n'); process.exit(3); }, (seconds + 60) * 1000).unref();
  let total = Math.round(rate * seconds);
  // SIGTERM ends the stream early (closing it as at the end), with its summary.
  process.once('SIGTERM', () => { total = sent; });
  const h = createHash('sha256');
  const chunk = Buffer.alloc(16 * 1024);
  let x = 0x9e3779b9, sent = 0, t0 = 0, blocked = false;
  const sock = connect(port, host, () => {
    t0 = Date.now();
    const pump = () => {
      if (blocked) return;
      const due = Math.min(total, Math.floor(((Date.now() - t0) * rate) / 1000));
      while (sent < due) {
        const len = Math.min(chunk.length, due - sent);
        for (let i = 0; i + 4 <= len; i += 4) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; chunk.writeUInt32LE(x, i); }
        const piece = Buffer.from(chunk.subarray(0, len));
        h.update(piece);
        sent += len;
        if (!sock.write(piece)) { blocked = true; sock.once('drain', () => { blocked = false; pump(); }); return; }
      }
      if (sent >= total) { clearInterval(tick); sock.end(); }
    };
    const tick = setInterval(pump, 50);
  });
  sock.on('close', () => process.stdout.write(JSON.stringify({ bytes: sent, sha256: h.digest('hex') }) + '\n'));
  sock.on('error', (e) => { process.stderr.write(`tcp-stream: ${e.message}\n`); process.exit(2); });
} else {
  process.stderr.write('usage: tcp-stream serve IP PORT SECONDS | send IP PORT BYTES_PER_S SECONDS\n');
  process.exitCode = 2;
}
