// The running weft's side of a handover (the successor's: take-over.ts).
// On the control socket, in order:
//
//   ← {"cmd":"handover","version":1,"path":P,"pid":N,"shape":{…}}
//     1. refuse (an error reply) when the version or the shape (TAPs, VNIs,
//        port, address) differs, or a handover is under way;
//     2. send the UDP socket's and the TAPs' descriptors to the successor's
//        unix socket P (fd-pass.ts), still forwarding; on failure refuse;
//   → {"ok":true,"result":{"pid":…,"fds":[…],"overlap":true}}
//     (the successor builds its loop on the descriptors, not reading yet)
//   ← {"cmd":"handover-state"}          (only when "overlap" was offered)
//   → {"ok":true,"result":<state>}       a snapshot, taken still forwarding
//     (the successor imports its tables and starts reading too: each
//     datagram and frame goes to whichever process reads it, once, and
//     the successor's code warms on real traffic while this one forwards)
//   ← {"cmd":"handover-switch"}
//     3. pause the forwarding loop: it is between batches, since this runs
//        on the event loop and a batch never yields to it;
//   → {"ok":true,"result":<state>}  (state.ts: tables, counters, lease)
//     (the successor imports the state and reads, if it does not already)
//   ← {"cmd":"handover-done"}
//   → {"ok":true,"result":{"exiting":true}}
//     4. stop without removing the TAP, its routes or the lease; exit 0.
//
// So forwarding pauses only for one round trip and the state's copy; with
// the overlap, not at all (the successor reads before this weft pauses), so
// a successor the scheduler runs late, or whose code is cold, costs no gap.
// A successor that does not ask for the snapshot gets the plain sequence
// (older ones ignore "overlap"). Until
// step 4 this weft keeps its own descriptors open and its tables whole: if
// the connection closes, something else arrives, or a step takes longer
// than STEP_TIMEOUT_MS, it resumes forwarding (if it had paused) and logs
// why. It never ends up without a successor or without its descriptors.

import type { Socket } from 'node:net';
import { sendFds } from '../io/fd-pass.js';
import { encodeLine, StreamDecoder, MAX_REQUEST_LINE } from '../admin/protocol.js';
import { STREAMING } from '../admin/server.js';
import type { Datapath } from '../datapath/datapath.js';
import type { Forwarder } from '../datapath/forwarder.js';
import type { Logger } from '../log/logger.js';
import { exportState, handoverRefusal, type HandoverRequest, type HandoverShape, type HandoverState } from './state.js';
import type { TapRecord } from './tap-record.js';

/** How long the successor has for each step (building its loop; importing the state and starting) before this weft goes on alone. */
export const STEP_TIMEOUT_MS = 10_000;

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
    const { log, fwd } = side;
    const order: HandoverState['fds'] = ['udp', ...side.shape.overlays.map((o) => `tap:${o.tap}` as const)];
    try {
      sendFds(req.path, side.fds(), Buffer.from(JSON.stringify({ fds: order })));
    } catch (e) {
      throw new Error(`handover: could not pass the descriptors to pid ${req.pid} at ${req.path}: ${(e as Error).message}`);
    }
    busy = true;
    log.info({ successor: req.pid }, `handover: descriptors passed to pid ${req.pid}, still forwarding`);
    socket.write(encodeLine({ ok: true, result: { pid: process.pid, fds: order, overlap: true } }));

    let step: 'switch' | 'done' | 'over' = 'switch';
    let snapshot = false;
    const state = () => {
      const r = side.record();
      return exportState(side.dp, side.now(), { pid: process.pid, fds: order, lease: side.lease(), handovers: r.handovers, crashReattaches: r.crashReattaches });
    };
    let paused = false;
    let timer = setTimeout(() => giveUp(`no "handover-switch" within ${STEP_TIMEOUT_MS / 1000} s`), STEP_TIMEOUT_MS);
    const giveUp = (why: string) => {
      if (step === 'over') return;
      step = 'over';
      clearTimeout(timer);
      busy = false;
      if (paused) fwd.resume();
      log.warn({ successor: req.pid }, `handover to pid ${req.pid} failed (${why}); ${paused ? 'forwarding again' : 'still forwarding'}`);
      socket.destroy();
    };
    const next = (o: Record<string, unknown>) => {
      if (step === 'switch' && o.cmd === 'handover-state' && !snapshot) {
        snapshot = true;
        socket.write(encodeLine({ ok: true, result: state() }));
        log.info({ successor: req.pid }, `handover: tables sent to pid ${req.pid}, which reads alongside this weft until it asks to switch`);
        clearTimeout(timer);
        timer = setTimeout(() => giveUp(`no "handover-switch" within ${STEP_TIMEOUT_MS / 1000} s`), STEP_TIMEOUT_MS);
        return;
      }
      if (step === 'switch' && o.cmd === 'handover-switch') {
        fwd.pause();
        paused = true;
        log.info({ successor: req.pid }, `handover: paused for pid ${req.pid}`);
        socket.write(encodeLine({ ok: true, result: state() }));
        step = 'done';
        clearTimeout(timer);
        timer = setTimeout(() => giveUp(`no "handover-done" within ${STEP_TIMEOUT_MS / 1000} s`), STEP_TIMEOUT_MS);
        return;
      }
      if (step === 'done' && o.cmd === 'handover-done') {
        step = 'over';
        clearTimeout(timer);
        log.info({ successor: req.pid }, `handover: pid ${req.pid} is forwarding; exiting`);
        // The reply must reach the successor before this process closes the connection.
        let once = false;
        const commit = () => { if (!once) { once = true; side.committed(req.pid); } };
        socket.end(encodeLine({ ok: true, result: { exiting: true } }), commit);
        setTimeout(commit, 1000).unref();
        return;
      }
      giveUp(`the successor sent ${JSON.stringify(o).slice(0, 80)} when "handover-${step}" was due`);
    };
    const dec = new StreamDecoder(MAX_REQUEST_LINE);
    socket.on('data', (chunk: Buffer) => {
      if (step === 'over') return;
      try {
        dec.push(chunk, (o) => { if (step !== 'over') next(o); });
      } catch (e) {
        giveUp(`bad message: ${(e as Error).message}`);
      }
    });
    socket.once('close', () => giveUp('the successor closed the connection'));
    return STREAMING;
  };
}
