// The successor's side of a handover (`weft run --takeover`; the running
// weft's side: hand-over.ts, which lists the messages in order).
//
//   begin   listen on a unix socket beside the control socket, ask the
//           running weft to hand over, take the descriptors from the unix
//           socket (the running weft still forwards);
//   (weft run adopts the descriptors and builds its loop)
//   readAlongside  when the running weft offers it: its tables (a snapshot,
//           it still forwarding) go in, this loop starts reading alongside
//           it for OVERLAP_MS; so when it pauses, this loop is running
//           already, and warm: the scheduler starting this process late, or
//           its code being cold, costs no gap in forwarding;
//   switchOver  the running weft pauses and sends its state;
//   (weft run imports it, and starts reading if it was not)
//   commit  say "handover-done"; the running weft exits 0;
//   oldGone wait for it to be gone, so its control socket and metrics port
//           are free to take.
//
// Any failure before commit returns is a RuntimeError with one line, and the
// running weft carries on (it resumes when the connection closes without
// "handover-done"); a successor that fails must close its copies of the
// descriptors without removing the TAP (Tap.removeOnClose = false).

import { AdminClient, type Target } from '../admin/client.js';
import { RuntimeError } from '../config/errors.js';
import { native } from '../io/native.js';
import { FdReceiver } from '../io/fd-pass.js';
import type { Logger } from '../log/logger.js';
import { notifySystemd } from './systemd.js';
import type { Datapath } from '../datapath/datapath.js';
import { HANDOVER_VERSION, importState, parseState, type HandoverShape, type HandoverState, type Imported } from './state.js';

/** How long the descriptors may take to arrive after the reply did (they are sent first). */
const FDS_WAIT_MS = 2000;
/**
 * How long this loop reads alongside the running weft before it pauses:
 * long enough for this process's timers to have run, so it is being
 * scheduled, and for its forwarding code to have met real traffic.
 */
export const OVERLAP_MS = 250;
/** How long the running weft may take to exit once it has confirmed. */
const EXIT_WAIT_MS = 5000;
/**
 * A pause between taking the descriptors and confirming, for tests that kill
 * the successor mid-handover (docs/testing.md). 0 in use.
 */
const STALL_MS = Number(process.env.WEFT_HANDOVER_STALL_MS ?? 0) || 0;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class TakeOver {
  private closed = false;
  private gone: Promise<void>;

  private constructor(
    private readonly client: AdminClient,
    /** The running weft's process id. */
    readonly pid: number,
    private readonly fds: Map<string, number>,
    private readonly log: Logger,
    /** The running weft sends a snapshot of its tables on request and forwards on until "handover-switch". */
    private readonly overlap: boolean,
  ) {
    this.gone = new Promise((resolve) => client.onClose(resolve));
  }

  /** Asks the weft at `target` to hand over; resolves once this process holds its descriptors. */
  static async begin(target: Target, shape: HandoverShape, log: Logger): Promise<TakeOver> {
    const client = await AdminClient.connect(target);
    let rx: FdReceiver | null = null;
    const got = new Map<string, number>();
    try {
      try {
        rx = new FdReceiver(`${target.path}.handover`);
      } catch (e) {
        throw new RuntimeError(`handover: cannot listen at ${target.path}.handover: ${(e as Error).message}`);
      }
      let result: unknown;
      try {
        result = await client.request({ cmd: 'handover', version: HANDOVER_VERSION, path: rx.path, pid: process.pid, shape });
      } catch (e) {
        const m = (e as Error).message;
        throw new RuntimeError(/unknown command "handover"/.test(m)
          ? 'the running weft cannot hand over (it is older than handovers): stop it and start this one instead'
          : m.startsWith('handover:') ? `${m}; the running weft carries on` : `handover: ${m}`);
      }
      const r = result as { pid?: unknown; fds?: unknown; overlap?: unknown };
      if (!Number.isInteger(r?.pid) || !Array.isArray(r.fds)) throw new RuntimeError('handover: the running weft answered without its pid and descriptor list');
      const pid = r.pid as number, want = r.fds as string[];
      const deadline = Date.now() + FDS_WAIT_MS;
      let msg = rx.take();
      while (msg === null && Date.now() < deadline) {
        await sleep(5);
        msg = rx.take();
      }
      if (msg === null) throw new RuntimeError(`handover: pid ${pid} answered but sent no descriptors within ${FDS_WAIT_MS / 1000} s`);
      const order = (JSON.parse(msg.header.toString('utf8')) as { fds: string[] }).fds;
      msg.fds.forEach((fd, k) => got.set(order[k] ?? `extra:${k}`, fd));
      const missing = want.filter((k) => !got.has(k));
      if (missing.length || got.size !== want.length) {
        throw new RuntimeError(`handover: expected descriptors for ${want.join(', ')}, got ${[...got.keys()].join(', ') || 'none'}`);
      }
      log.info({ predecessor: pid }, `handover: took ${got.size} descriptors from pid ${pid}`);
      return new TakeOver(client, pid, got, log, r.overlap === true);
    } catch (e) {
      for (const fd of got.values()) native().close(fd);
      client.close();
      throw e instanceof RuntimeError ? e : new RuntimeError(`handover: ${(e as Error).message}; the running weft carries on`);
    } finally {
      rx?.close();
    }
  }

  /** The descriptor for 'udp' or 'tap:NAME'. */
  fd(key: 'udp' | `tap:${string}`): number {
    const fd = this.fds.get(key);
    if (fd === undefined) throw new RuntimeError(`handover: the running weft sent no descriptor for ${key}`);
    return fd;
  }

  /**
   * With a running weft that offers it: imports a snapshot of its tables
   * (the counters wait for the final state), calls `start` so this loop
   * reads too, and resolves OVERLAP_MS later with what was imported. null
   * (nothing started) with an older running weft: switchOver alone.
   */
  async readAlongside(dp: Datapath, start: () => void, nowMs: () => number): Promise<Imported | null> {
    if (!this.overlap) return null;
    let result: unknown;
    try {
      result = await this.client.request({ cmd: 'handover-state' });
    } catch (e) {
      throw new RuntimeError(`handover: pid ${this.pid} sent no tables (${(e as Error).message}); it carries on`);
    }
    const got = importState(dp, parseState(result), nowMs(), { counters: false, keepOwn: false });
    start();
    this.log.info({ predecessor: this.pid }, `handover: reading alongside pid ${this.pid}; ${got.learned} learned forwarding entries taken`);
    await sleep(OVERLAP_MS);
    return got;
  }

  /** Asks the running weft to pause; resolves with its state, taken while paused. */
  async switchOver(): Promise<HandoverState> {
    let result: unknown;
    try {
      result = await this.client.request({ cmd: 'handover-switch' });
    } catch (e) {
      throw new RuntimeError(`handover: pid ${this.pid} did not pause (${(e as Error).message}); it carries on`);
    }
    const state = parseState(result);
    this.log.info({ predecessor: this.pid }, `handover: pid ${this.pid} paused; ${state.fdb.length} forwarding entries and the counters taken`);
    return state;
  }

  /**
   * Tells the running weft this one forwards; resolves once it has
   * confirmed (or has exited, which it does only after confirming). Throws
   * when it did neither: it is forwarding again, and this one must stop.
   */
  async commit(): Promise<void> {
    if (STALL_MS > 0) await sleep(STALL_MS);
    // Under systemd this process becomes the service's main one before the old one exits, or its exit would end the service.
    notifySystemd(`MAINPID=${process.pid}`, this.log);
    try {
      await this.client.request({ cmd: 'handover-done' });
    } catch (e) {
      const pid = this.pid;
      const until = Date.now() + 1000;
      while (alive(pid) && Date.now() < until) await sleep(20);
      if (alive(pid)) {
        notifySystemd(`MAINPID=${pid}`, this.log);
        throw new RuntimeError(`handover: pid ${pid} did not confirm (${(e as Error).message}); it forwards again`);
      }
    }
    this.log.info({ predecessor: this.pid }, `handover: pid ${this.pid} confirmed; this weft forwards`);
  }

  /** Closes the descriptors this process has not adopted (a failed start). */
  closeUnadopted(adopted: Set<number>): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds.values()) if (!adopted.has(fd)) native().close(fd);
    this.client.close();
  }

  /** Resolves when the running weft has closed the connection and exited (bounded by EXIT_WAIT_MS). */
  async oldGone(): Promise<void> {
    const until = Date.now() + EXIT_WAIT_MS;
    // A timer left pending would hold this process for EXIT_WAIT_MS when it hands over in turn.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.gone, new Promise<void>((r) => { timer = setTimeout(r, EXIT_WAIT_MS); })]);
    clearTimeout(timer);
    while (alive(this.pid) && Date.now() < until) await sleep(20);
  }
}
