// Convergence probe: `send DST PORT EVERY_MS FOR_MS` sends a small datagram
// every EVERY_MS until FOR_MS have passed (errors such as "network
// unreachable", before a route exists, are expected and ignored); `recv PORT
// FOR_MS` prints the wall-clock time (ms) of the first datagram to arrive,
// or "none". Both stop by themselves. An IPv6 DST sends over IPv6; `recv`
// listens on both families.

import { createSocket } from 'node:dgram';

const [mode, ...a] = process.argv.slice(2);
if (mode === 'send') {
  const [dst, port, every, total] = [a[0], Number(a[1]), Number(a[2]), Number(a[3])];
  const s = createSocket(dst.includes(':') ? 'udp6' : 'udp4');
  const end = Date.now() + total;
  const t = setInterval(() => {
    if (Date.now() > end) { clearInterval(t); s.close(); return; }
    s.send(Buffer.from(String(Date.now())), port, dst, () => { /* unreachable until the route is there */ });
  }, every);
} else if (mode === 'recv') {
  const [port, total] = [Number(a[0]), Number(a[1])];
  const s = createSocket('udp6');
  const t = setTimeout(() => { process.stdout.write('none\n'); s.close(); }, total);
  s.on('message', () => {
    process.stdout.write(`${Date.now()}\n`);
    clearTimeout(t);
    s.close();
  });
  s.bind(port, () => process.stderr.write('listening\n'));
} else {
  process.stderr.write('usage: udp-probe send DST PORT EVERY_MS FOR_MS | recv PORT FOR_MS\n');
  process.exitCode = 2;
}
