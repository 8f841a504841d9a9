// The running weft's side of a handover (the successor's: take-over.ts).
// On the control socket, in order:
//
//   ← {"cmd":"handover","version":1,"path":P,"pid":N,"shape":{…}}
//     1. refuse (an error reply; nothing paused) when the version or the
//        shape (TAPs, VNIs, port, address) differs, or a handover is under way;
//     2. pause the forwarding loop: it is between batches, since this runs
//        on the event loop and a batch never yields to it;
//     3. send the UDP socket's and the TAPs' descriptors to the successor's
//        unix socket P (fd-pass.ts); on failure resume and refuse;
//   → {"ok":true,"result":<state>}  (state.ts: tables, counters, lease)
//   ← {"cmd":"handover-done"}  the successor forwards from the same descriptors
//   → {"ok":true,"result":{"exiting":true}}
//     4. stop without removing the TAP, its routes or the lease, exit 0.
//
// Until step 4 this weft keeps its own descriptors open and its tables
// whole: if the connection closes, or no "handover-done" comes within
// ACK_TIMEOUT_MS, it resumes forwarding and logs why. So it never ends up
// without a successor or without its descriptors.

import type { Socket } from 'node:net';
import { sendFds } from '../io/fd-pass.js';
import { encodeLine, StreamDecoder, MAX_REQUEST_LINE } from '../admin/protocol.js';
import { STREAMING } from '../admin/server.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Forwarder } from '../datapath/forwarder.js';
import type { Logger } from '../log/logger.js';
import { exportState, handoverRefusal, type HandoverRequest, type HandoverShape, type HandoverState } from './state.js';
import type { TapRecord } from './tap-record.js';

/** How long the successor has, from the state sent to its "handover-done", before this weft forwards again. */
export const ACK_TIMEOUT_MS = 10_000;

export interface HandOverSide {
  shape: HandoverShape;
  fwd: Forwarder;
  dp: Datapath;
  /** The loop's clock (learned entries' ages are measured on it). */
  now: () => number;
  /** The UDP socket's fd, then each overlay's TAP fd in shape.overlays order. */
  fds: () => number[];
  lease: () => HandoverState['lease'];
  record: () => TapRecord;
  log: Logger;
  /** The successor forwards: stop without removing anything, and exit 0. */
  committed: (pid: number) => void;
}

/** The `handover` command's handler for one running weft; at most one handover at a time. */
export function handOverHandler(side: HandOverSide): (req: HandoverRequest, socket: Socket) => typeof STREAMING {
  let busy = false;
  return (req, socket) => {
    const refused = handoverRefusal(req, side.shape);
    if (refused !== null) throw new Error(refused);
    if (busy) throw new Error('handover: another handover is under way');
    if (!side.fwd.running) throw new Error('handover: the forwarding loop has stopped');
    busy = true;
    const { log, fwd } = side;
    fwd.pause();
    const fds = side.fds();
    const order: HandoverState['fds'] = ['udp', ...side.shape.overlays.map((o) => `tap:${o.tap}` as const)];
    try {
      sendFds(req.path, fds, Buffer.from(JSON.stringify({ fds: order })));
    } catch (e) {
      fwd.resume();
      busy = false;
      throw new Error(`handover: could not pass the descriptors to pid ${req.pid} at ${req.path}: ${(e as Error).message}`);
    }
    log.info({ successor: req.pid }, `handover: descriptors passed to pid ${req.pid}; waiting for it to start forwarding`);
    const r = side.record();
    const state = exportState(side.dp, side.now(), { pid: process.pid, fds: order, lease: side.lease(), handovers: r.handovers, crashReattaches: r.crashReattaches });
    socket.write(encodeLine({ ok: true, result: state }));

    let done = false;
    const resume = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      busy = false;
      fwd.resume();
      log.warn({ successor: req.pid }, `handover to pid ${req.pid} failed (${why}); forwarding again`);
      socket.destroy();
    };
    const timer = setTimeout(() => resume(`no "handover-done" within ${ACK_TIMEOUT_MS / 1000} s`), ACK_TIMEOUT_MS);
    const dec = new StreamDecoder(MAX_REQUEST_LINE);
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        dec.push(chunk, (o) => {
          if (done) return;
          if (o.cmd !== 'handover-done') { resume(`the successor sent ${JSON.stringify(o).slice(0, 80)}`); return; }
          done = true;
          clearTimeout(timer);
          log.info({ successor: req.pid }, `handover: pid ${req.pid} is forwarding; exiting`);
          // The reply must reach the successor before this process closes the connection.
          let once = false;
          const commit = () => { if (!once) { once = true; side.committed(req.pid); } };
          socket.end(encodeLine({ ok: true, result: { exiting: true } }), commit);
          setTimeout(commit, 1000).unref();
        });
      } catch (e) {
        resume(`bad message: ${(e as Error).message}`);
      }
    });
    socket.once('close', () => resume('the successor closed the connection'));
    return STREAMING;
  };
}
