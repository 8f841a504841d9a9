// The Internet checksum over a full-MTU packet (1500 bytes) and a 64 KiB
// GSO/GRO super-packet (65535 bytes): the native addon's csum against the
// TypeScript sum16 + fold it replaces on large buffers. perCall is the byte
// count, so the "ns/packet" column reads as ns per byte. A short case (64
// bytes) shows where the Node-API call costs more than the loop saves.
// Ranges start at offset 14, where an IP header sits behind Ethernet's.

import { runCases } from './lib.js';
import { native } from '../src/io/native.js';
import { sum16, fold } from '../src/wire/checksum.js';

const OFF = 14;
const n = native();

const buf = Buffer.alloc(OFF + 65535);
for (let i = 0; i < buf.length; i++) buf[i] = (i * 131 + (i >>> 7)) & 0xff;

for (const len of [64, 1500, 65535]) {
  const want = fold(sum16(buf, OFF, len, 0));
  if (n.csum(buf, OFF, len, 0) !== want) throw new Error(`csum and sum16 disagree on ${len} bytes`);
}

let sink = 0;
process.stdout.write('csum     (per byte: the ns/packet column is ns/byte)\n');
const results = runCases('csum', [64, 1500, 65535].flatMap((len) => [
  { name: `native csum, ${len} B`, perCall: len, fn: () => { sink += n.csum(buf, OFF, len, 0); } },
  {
    name: `TypeScript sum16 + fold, ${len} B`, perCall: len,
    fn: () => { sink += fold(sum16(buf, OFF, len, 0)); },
  },
]));

for (const len of [64, 1500, 65535]) {
  const nat = results.find((r) => r.name === `native csum, ${len} B`)!;
  const ts = results.find((r) => r.name === `TypeScript sum16 + fold, ${len} B`)!;
  process.stdout.write(`csum     ${String(len).padStart(5)} B: native ${nat.nsPerPacket.toFixed(3)} ns/byte, TypeScript ` +
    `${ts.nsPerPacket.toFixed(3)} ns/byte: native is ${(ts.nsPerPacket / nat.nsPerPacket).toFixed(1)}x as fast\n`);
}
if (sink === 0.5) process.stdout.write(`${results.length}\n`); // keep `sink` alive
