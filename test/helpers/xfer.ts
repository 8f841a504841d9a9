// A TCP transfer with an end-to-end check, run inside namespaces:
//   node xfer.js serve IP PORT        prints "<bytes> <sha256>" when the peer closes
//   node xfer.js send IP PORT BYTES   sends BYTES of deterministic data, prints "<bytes> <sha256>"
// Both give up after 60 s.

import { createServer, connect } from 'node:net';
import { createHash } from 'node:crypto';

const [mode, host, portS, bytesS] = process.argv.slice(2);
const port = Number(portS);
setTimeout(() => { process.stderr.write('xfer: timed out\n'); process.exit(3); }, 60_000).unref();

if (mode === 'serve') {
  const srv = createServer((sock) => {
    const h = createHash('sha256');
    let n = 0;
    sock.on('data', (d: Buffer) => { h.update(d); n += d.length; });
    sock.on('end', () => {
      process.stdout.write(`${n} ${h.digest('hex')}\n`);
      sock.end();
      srv.close();
    });
  });
  srv.listen(port, host, () => process.stderr.write('xfer: listening\n'));
} else if (mode === 'send') {
  const total = Number(bytesS);
  const h = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024);
  let x = 0x12345678;
  let sent = 0;
  const sock = connect(port, host, () => {
    const pump = () => {
      while (sent < total) {
        const len = Math.min(chunk.length, total - sent);
        for (let i = 0; i < len; i += 4) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; chunk.writeUInt32LE(x, i); }
        const piece = Buffer.from(chunk.subarray(0, len));
        h.update(piece);
        sent += len;
        if (!sock.write(piece)) { sock.once('drain', pump); return; }
      }
      sock.end();
    };
    pump();
  });
  sock.on('close', () => process.stdout.write(`${sent} ${h.digest('hex')}\n`));
  sock.on('error', (e) => { process.stderr.write(`xfer: ${e.message}\n`); process.exit(2); });
} else {
  process.stderr.write('usage: xfer.js serve IP PORT | send IP PORT BYTES\n');
  process.exit(2);
}
