// The offload paths per packet: cutting a 64 KiB TCP super-frame read from
// the TAP into MSS-sized segments (checksums included), and gluing those
// segments back into one super-frame for a TAP write (payloads copied, or
// listed for a gathering write), each segment's checksums verified first,
// summed in one call for the batch as the TAP's write does.

import { segmentTcp } from '../src/io/tap-read.js';
import { Coalescer } from '../src/io/tap-write.js';
import { runCases } from './lib.js';

const MSS = 1398;
const PAYLOAD = 45 * MSS;          // what Linux TSO hands over for a 64 KiB send
const HDR = 14 + 20 + 32;          // Ethernet + IPv4 + TCP with timestamps

// A super-frame: IPv4/TCP with timestamps, payload of pseudo-random bytes.
const frame = Buffer.alloc(HDR + PAYLOAD);
frame.writeUInt16BE(0x0800, 12);
frame[14] = 0x45; frame.writeUInt16BE(20 + 32 + PAYLOAD > 0xffff ? 0xffff : 20 + 32 + PAYLOAD, 16); frame[22] = 64; frame[23] = 6;
frame.writeUInt32BE(0x0af40001, 26); frame.writeUInt32BE(0x0af40002, 30);
frame.writeUInt16BE(40000, 34); frame.writeUInt16BE(5201, 36); frame.writeUInt32BE(1000, 38);
frame[46] = 8 << 4; frame[47] = 0x18;
for (let i = HDR; i < frame.length; i++) frame[i] = (i * 2654435761) >>> 24;

const dst = Buffer.alloc(PAYLOAD + 64 * (8 + HDR) + 4096);
const segs: [number, number][] = [];
let n = 0;
const emit = (off: number, len: number) => { if (n < segs.length) { segs[n][0] = off; segs[n][1] = len; } else segs.push([off, len]); n++; };
n = 0;
segmentTcp(frame, 0, frame.length, MSS, false, dst, 0, dst.length, 8, emit);
const count = n;
const offs = Int32Array.from(segs.slice(0, count), (x) => x[0]), lens = Int32Array.from(segs.slice(0, count), (x) => x[1]);
const coalescer = new Coalescer(Buffer.alloc(128 * 1024), 256, true, 1450);
const gatherer = new Coalescer(Buffer.alloc(128 * 1024), 256, true, 1450, 65535, false, true);

if (count < 40) throw new Error(`segmentation gave ${count} segments`);
runCases('offload', [
  { name: `segment 64 KiB TCP super-frame (${count} segments)`, perCall: count, fn: () => { n = 0; segmentTcp(frame, 0, frame.length, MSS, false, dst, 0, dst.length, 8, emit); } },
  { name: `coalesce ${count} segments into one frame`, perCall: count, fn: () => {
    coalescer.reset();
    coalescer.sumBatch(dst, offs, lens, count);
    for (let k = 0; k < count; k++) coalescer.add(dst, offs[k], lens[k], coalescer.sums[k]);
    coalescer.flush();
  } },
  { name: `coalesce ${count} segments, payloads gathered (writev)`, perCall: count, fn: () => {
    gatherer.reset();
    gatherer.sumBatch(dst, offs, lens, count);
    for (let k = 0; k < count; k++) gatherer.add(dst, offs[k], lens[k], gatherer.sums[k]);
    gatherer.flush();
  } },
]);
// A merge that did not happen (a checksum refused) would make these numbers meaningless.
if (coalescer.count !== 1 || gatherer.count !== 1 || coalescer.csumBad + gatherer.csumBad !== 0) throw new Error('the segments did not merge into one frame');
