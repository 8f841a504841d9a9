// How `weft run` starts and stops around a TAP that outlives it:
//
//   1. before anything opens: is a weft answering on the control socket?
//      Without --takeover that is a refusal (one line); with it, a handover
//      (take-over.ts). --takeover with nothing running starts normally.
//   2. each TAP: absent, it is made (persistent, io/tap.ts); present, it
//      must be a TAP weft can use (io/link.ts tapReuseProblem) and not held
//      by another process (EBUSY), and weft attaches to it, keeping its
//      addresses, routes and neighbours (configureTap changes only what
//      differs). A TAP found with no weft on it means the last one did not
//      stop (killed, crashed) unless it left it on purpose (--keep-tap): a
//      crash-reattach, logged with what was kept and counted.
//   3. the TAP's record (tap-record.ts): handovers and crash-reattaches,
//      written at start, marked `kept` by a --keep-tap stop, removed when
//      the TAP is.

import { RuntimeError } from '../config/errors.js';
import { socketAnswers } from '../admin/server.js';
import { Tap, type TapOptions } from '../io/tap.js';
import { netdevExists } from '../io/native-errors.js';
import { linkState, tapHolds, tapReuseProblem, type LinkState } from '../io/link.js';
import type { Logger } from '../log/logger.js';
import { readRecord, writeRecord, type TapRecord } from './tap-record.js';
import type { HandoverState } from './state.js';

/** Step 1: whether to take over (true), or start on our own (false). Throws when a weft runs and --takeover was not given. */
export async function runningWeft(socketPath: string, tap: string, takeover: boolean, log: Logger): Promise<boolean> {
  const running = await socketAnswers(socketPath);
  if (running && !takeover) {
    throw new RuntimeError(`another weft is running with control socket ${socketPath}: stop it first, start this one with --takeover to replace it, ` +
      'or give this one another --tap or --control-socket');
  }
  if (!running && takeover) log.info({ socket: socketPath }, `--takeover: no weft is running on tap ${tap}; starting normally`);
  return running && takeover;
}

/**
 * Step 2 for one TAP: opens (or adopts) it. `before` is the link as it was
 * (null: weft made it now), for configureTap to change only what differs.
 */
export function openTap(o: TapOptions): { tap: Tap; before: LinkState | null } {
  if (o.adopt !== undefined) return { tap: new Tap(o), before: null };
  // /proc/net/dev first: a file read, where `ip` is a process to start, on the way to the first packet.
  const before = netdevExists(o.name) ? linkState(o.name) : null;
  if (before !== null) {
    const problem = tapReuseProblem(o.name, before);
    if (problem !== null) throw new RuntimeError(problem);
  }
  let tap: Tap;
  try {
    tap = new Tap(o);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (before !== null && err.code === 'EBUSY') {
      throw new RuntimeError(`TAP ${o.name} is held by another process (a weft with another control socket?): stop it, or pick another --tap`);
    }
    throw e;
  }
  return { tap, before };
}

/**
 * Step 3 at start, once forwarding: the record as this process carries it
 * on, written back. `found` names the TAPs that were there before; what
 * they kept is logged when `ip` has said (without blocking the loop).
 */
export function startRecord(path: string, took: HandoverState | null, found: string[], log: Logger): TapRecord {
  let r: TapRecord;
  if (took) {
    r = { handovers: took.handovers + 1, crashReattaches: took.crashReattaches, kept: false };
  } else {
    const before = readRecord(path);
    r = { ...before, kept: false };
    if (found.length > 0) {
      if (!before.kept) r.crashReattaches++;
      const crashes = r.crashReattaches;
      void Promise.all(found.map(async (name) => {
        const kept = await tapHolds(name);
        return `${name} (kept ${plural(kept.addresses, 'address', 'addresses')}, ` +
          `${plural(kept.routes, 'route')}, ${plural(kept.neighbours, 'neighbour entry', 'neighbour entries')})`;
      })).then((parts) => {
        const what = parts.join(', ');
        if (before.kept) log.info(`reattached to ${what}, left by the last weft (--keep-tap)`);
        else {
          log.warn({ crashReattaches: crashes },
            `the last weft on this TAP did not stop cleanly (killed or crashed): reattached to ${what}; frames sent to it meanwhile are lost`);
        }
      });
    }
  }
  writeRecord(path, r);
  return r;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
