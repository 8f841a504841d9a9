// Drives the data path the way the I/O layer does: packs test packets into
// one slab (with headroom), runs a batch, and reads the results back out.

import { Datapath, type DatapathOptions } from '../../src/datapath/datapath.js';
import { decapBatch } from '../../src/datapath/decap.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../../src/io/batch.js';
import type { VniState } from '../../src/datapath/vni.js';
import { v4words } from './packets.js';

/** A datagram as received: its payload, underlay source and outer ECN field (default Not-ECT). */
/** A datagram; `follows`: cut from the same GRO message as the one before (DatagramBatch.follows). */
export interface Rx { payload: Buffer; from: string; ecn?: number; follows?: boolean }

/** Runs one decap batch; returns the delivered frames as copies, with their VNI. */
export function decapAll(dp: Datapath, rx: Rx[], nowMs = 0): { frame: Buffer; vni: number }[] {
  const slab = Buffer.alloc(rx.reduce((a, r) => a + r.payload.length + HEADROOM, 0) + 64);
  const dg = new DatagramBatch(rx.length, slab);
  let at = 0;
  rx.forEach((r, i) => {
    at += HEADROOM;
    r.payload.copy(slab, at);
    dg.off[i] = at;
    dg.len[i] = r.payload.length;
    dg.srcAddr.set(v4words(r.from), i * 4);
    dg.srcPort[i] = 40000 + i;
    dg.ecn[i] = r.ecn ?? 0;
    dg.follows[i] = r.follows ? 1 : 0;
    at += r.payload.length;
  });
  dg.count = rx.length;
  const out = new FrameBatch(rx.length);
  decapBatch(dp, dg, out, nowMs);
  const res: { frame: Buffer; vni: number }[] = [];
  for (let i = 0; i < out.count; i++) {
    res.push({ frame: Buffer.from(out.buf.subarray(out.off[i], out.off[i] + out.len[i])), vni: out.vni[i] });
  }
  return res;
}

export interface Tx { peer: string; payload: Buffer; srcPort: number; ecn: number; from: number; payOff: number; frameOff: number }

/** Runs one encap batch over `frames` (at `nowMs`); returns each datagram with its peer and payload. */
export function encapAll(dp: Datapath, v: VniState, frames: Buffer[], headroom = HEADROOM, nowMs = 0): Tx[] {
  const slab = Buffer.alloc(frames.reduce((a, f) => a + f.length + headroom, 0) + 64);
  const fb = new FrameBatch(frames.length, slab);
  let at = 0;
  const offs: number[] = [];
  for (const f of frames) {
    at += headroom;
    f.copy(slab, at);
    fb.push(at, f.length);
    offs.push(at);
    at += f.length;
  }
  const out = new SendList(Math.max(1, frames.length * Math.max(1, v.flood.count)));
  encapBatch(dp, v, fb, out, nowMs);
  const res: Tx[] = [];
  for (let j = 0; j < out.count; j++) {
    res.push({
      peer: dp.peers.ipString(out.peer[j]),
      payload: Buffer.from(slab.subarray(out.off[j], out.off[j] + out.len[j])),
      srcPort: out.srcPort[j],
      ecn: out.ecn[j],
      from: out.from[j],
      payOff: out.off[j],
      frameOff: offs[out.from[j]],
    });
  }
  return res;
}

export function newDatapath(opts: DatapathOptions = {}): Datapath {
  return new Datapath(opts);
}
