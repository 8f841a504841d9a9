// The pcap twin of the live I/O: `weft replay` reads a capture, feeds it to
// the data path in batches exactly as the TAP and the UDP socket would, and
// writes what comes out to another capture.
//
//   --decap: outer frames in → (outer.ts strips Ethernet/IP/UDP, as the
//            kernel's UDP stack does in live mode) → decapBatch → inner frames out
//   --encap: inner frames in → encapBatch → (outer.ts adds UDP/IP/Ethernet, as
//            the kernel does in live mode) → outer frames out, one per peer
//
// Records are copied into one slab, each with HEADROOM bytes in front, until
// the slab or the batch is full; then the batch runs and its results are
// written before the slab is reused. Memory stays bounded however long the
// capture is. The capture's own timestamps are the data path's clock, so
// ageing behaves as it did when the traffic was recorded.

import { readPcap, PcapFormatError } from './pcap-read.js';
import { PcapWriter, PCAP_SNAPLEN } from './pcap-write.js';
import { OuterParser, OuterBuilder } from './outer.js';
import { Datapath, type DatapathOptions } from '../datapath/datapath.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from './batch.js';
import type { VniState } from '../datapath/vni.js';

export const REPLAY_BATCH = 256;
const SLAB_BYTES = 4 << 20;

export interface ReplayEndpoints {
  vni: number;
  port: number;
  /** Flood-list peers (encap). */
  peers: string[];
  /** Static entries (encap and decap). */
  statics: { mac: number; ip: string }[];
  /** Underlay source address for encap. */
  local?: string;
}

export interface ReplayProgress { (records: number, bytes: number): void }

export interface ReplayResult {
  recordsIn: number;
  recordsOut: number;
  dp: Datapath;
  outer: Record<string, number>;
}

/** Records are bounded by the largest snap length capture tools use. */
function checkRecord(input: string, data: Buffer, n: number): void {
  if (data.length > PCAP_SNAPLEN) {
    throw new PcapFormatError(`${input}: record ${n} is ${data.length} bytes, more than any capture holds (${PCAP_SNAPLEN}); the file is damaged`);
  }
}

interface Pending { tsSec: Float64Array; tsUsec: Float64Array }

function setup(ep: ReplayEndpoints, dpOpts: DatapathOptions): { dp: Datapath; v: VniState } {
  const dp = new Datapath(dpOpts);
  const v = dp.addVni(ep.vni, { port: ep.port });
  for (const p of ep.peers) dp.addFloodPeer(v, p);
  for (const s of ep.statics) dp.addStatic(v, s.mac, s.ip);
  return { dp, v };
}

/** Replays outer frames through decap; writes surviving inner frames, in order, byte-exact. */
export async function replayDecap(
  input: string, output: string, ep: ReplayEndpoints, dpOpts: DatapathOptions = {}, progress?: ReplayProgress,
): Promise<ReplayResult> {
  const { dp } = setup(ep, dpOpts);
  const slab = Buffer.alloc(SLAB_BYTES);
  const dgrams = new DatagramBatch(REPLAY_BATCH, slab);
  const frames = new FrameBatch(REPLAY_BATCH);
  const ts: Pending = { tsSec: new Float64Array(REPLAY_BATCH), tsUsec: new Float64Array(REPLAY_BATCH) };
  const outer = new OuterParser(ep.port);
  const w = new PcapWriter(output);
  let used = 0, seen = 0, bytes = 0, nowMs = 0, records = 0;

  const flush = () => {
    dp.decap(dgrams, frames, nowMs);
    for (let i = 0; i < frames.count; i++) {
      const k = frames.from[i];
      w.write(slab, frames.off[i], frames.len[i], ts.tsSec[k], ts.tsUsec[k]);
    }
    dgrams.count = 0;
    used = 0;
  };

  try {
    records = await readPcap(input, (data, sec, usec) => {
      checkRecord(input, data, ++seen);
      if (dgrams.count === REPLAY_BATCH || used + data.length > SLAB_BYTES) flush();
      const at = used;
      data.copy(slab, at);
      used += data.length;
      bytes += data.length;
      nowMs = sec * 1000 + usec / 1000;
      // Only datagrams to our port that the underlay would deliver reach decap.
      if (outer.parse(slab, at, data.length, dgrams, dgrams.count)) {
        ts.tsSec[dgrams.count] = sec;
        ts.tsUsec[dgrams.count] = usec;
        dgrams.count++;
      }
      if (progress && (seen & 1023) === 0) progress(seen, bytes);
    });
    flush();
  } finally {
    w.close();
  }
  return { recordsIn: records, recordsOut: w.records, dp, outer: outer.counters() };
}

/** Replays inner frames through encap; writes one outer frame per datagram sent. */
export async function replayEncap(
  input: string, output: string, ep: ReplayEndpoints, dpOpts: DatapathOptions = {}, progress?: ReplayProgress,
): Promise<ReplayResult> {
  if (!ep.local) throw new Error('replayEncap needs a local address');
  const { dp, v } = setup(ep, dpOpts);
  const slab = Buffer.alloc(SLAB_BYTES);
  const frames = new FrameBatch(REPLAY_BATCH, slab);
  // Each frame can be replicated to every flood peer.
  const sends = new SendList(REPLAY_BATCH * Math.max(1, v.flood.count));
  const ts: Pending = { tsSec: new Float64Array(REPLAY_BATCH), tsUsec: new Float64Array(REPLAY_BATCH) };
  const builder = new OuterBuilder(ep.local, dp.peers);
  const w = new PcapWriter(output);
  let used = 0, seen = 0, bytes = 0, records = 0;

  const flush = () => {
    dp.encap(v, frames, sends);
    for (let j = 0; j < sends.count; j++) {
      const start = builder.build(slab, sends.off[j], sends.len[j], sends.peer[j], sends.srcPort[j]);
      if (start < 0) continue;
      const k = sends.from[j];
      w.write(slab, start, sends.off[j] + sends.len[j] - start, ts.tsSec[k], ts.tsUsec[k]);
    }
    frames.count = 0;
    used = 0;
  };

  try {
    records = await readPcap(input, (data, sec, usec) => {
      checkRecord(input, data, ++seen);
      if (frames.count === REPLAY_BATCH || used + HEADROOM + data.length > SLAB_BYTES) flush();
      const at = used + HEADROOM;
      data.copy(slab, at);
      // Keep every frame 8-byte aligned, so headers land on aligned offsets.
      used = (at + data.length + 7) & ~7;
      bytes += data.length;
      ts.tsSec[frames.count] = sec;
      ts.tsUsec[frames.count] = usec;
      frames.push(at, data.length);
      if (progress && (seen & 1023) === 0) progress(seen, bytes);
    });
    flush();
  } finally {
    w.close();
  }
  return { recordsIn: records, recordsOut: w.records, dp, outer: builder.counters() };
}
