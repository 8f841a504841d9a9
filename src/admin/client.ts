// The client side of the control socket, for `weft fdb|peers|stats|capture`:
// finds the socket (--socket PATH, or the default path for --tap NAME),
// connects, and sends requests. Every failure is a RuntimeError with one
// line that says what is wrong, so the CLI prints it and exits 1.

import { connect, type Socket } from 'node:net';
import { RuntimeError, UsageError } from '../config/errors.js';
import { defaultSocketPath } from './paths.js';
import { encodeLine, StreamDecoder, MAX_REPLY_LINE, ProtocolError, type Request } from './protocol.js';

/** How long a reply may take. */
const REPLY_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 3_000;

/** The `--tap NAME` / `--socket PATH` options every client command takes. */
export const TARGET_OPTIONS = { tap: { type: 'string' }, socket: { type: 'string' } } as const;
export const TARGET_HELP = `  --tap NAME           the weft running on TAP NAME (default weft0): its
                       socket is /run/weft/NAME.sock, or
                       /run/weft/netns/NS/NAME.sock inside network namespace NS
  --socket PATH        the weft whose control socket is PATH (weft run
                       --control-socket)`;

export interface Target { path: string; what: string }

export function resolveTarget(o: { tap?: string; socket?: string }): Target {
  if (o.tap !== undefined && o.socket !== undefined) throw new UsageError('give --tap or --socket, not both');
  if (o.socket !== undefined) return { path: o.socket, what: `at ${o.socket}` };
  const tap = o.tap ?? 'weft0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tap)) throw new UsageError(`--tap: '${tap}' is not a valid interface name`);
  const path = defaultSocketPath(tap);
  return { path, what: `on tap ${tap} (${path})` };
}

export class AdminClient {
  private readonly dec = new StreamDecoder(MAX_REPLY_LINE);
  private waiting: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void } | null = null;
  private onData: ((b: Buffer) => void) | null = null;
  private onLine: ((o: Record<string, unknown>) => void) | null = null;
  private failure: Error | null = null;
  private closedCb: (() => void) | null = null;

  private constructor(private readonly s: Socket, readonly target: Target) {
    s.on('data', (chunk: Buffer) => {
      try {
        this.dec.push(chunk, (o) => this.line(o), (b) => this.onData?.(b));
      } catch (e) {
        this.fail(new RuntimeError(`weft ${target.what} sent something unexpected: ${(e as ProtocolError).message}`));
        s.destroy();
      }
    });
    s.on('error', (e) => this.fail(new RuntimeError(`weft ${target.what}: ${e.message}`)));
    s.on('close', () => {
      this.fail(new RuntimeError(`weft ${target.what} closed the connection (did it stop?)`));
      this.closedCb?.();
    });
  }

  /** Connects; rejects with one line when no weft answers there. */
  static connect(target: Target): Promise<AdminClient> {
    return new Promise((resolve, reject) => {
      const s = connect(target.path);
      const t = setTimeout(() => { s.destroy(); reject(new RuntimeError(`weft ${target.what} does not answer (timed out connecting)`)); }, CONNECT_TIMEOUT_MS);
      s.once('connect', () => { clearTimeout(t); resolve(new AdminClient(s, target)); });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(t);
        reject(new RuntimeError(
          e.code === 'ENOENT' ? `no weft is running ${target.what}: no control socket there`
            : e.code === 'ECONNREFUSED' ? `no weft is running ${target.what}: the socket is left over from one that was killed`
              : e.code === 'EACCES' ? `cannot reach the weft ${target.what}: permission denied (the socket is root's: use sudo)`
                : `cannot reach the weft ${target.what}: ${e.message}`));
      });
    });
  }

  /** Sends one request; resolves with the reply's result, rejects with its error as a RuntimeError. */
  async request(req: Request): Promise<unknown> {
    const r = await this.send(req);
    if (r.ok === true) return r.result;
    throw new RuntimeError(String(r.error ?? 'weft answered with an error it did not explain'));
  }

  /**
   * Sends a streaming request (capture): resolves with the first reply's
   * result; then `data` gets each data chunk and `line` each later line.
   */
  async stream(req: Request, data: (b: Buffer) => void, line: (o: Record<string, unknown>) => void): Promise<unknown> {
    this.onData = data;
    const r = await this.send(req);
    if (r.ok !== true) throw new RuntimeError(String(r.error));
    this.onLine = line;
    return r.result;
  }

  /** Called once when the connection closes. */
  onClose(cb: () => void): void {
    this.closedCb = cb;
  }

  close(): void {
    this.s.destroy();
  }

  private send(req: Request): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting = null;
        reject(new RuntimeError(`weft ${this.target.what} did not answer within ${REPLY_TIMEOUT_MS / 1000} s`));
        this.s.destroy();
      }, REPLY_TIMEOUT_MS);
      this.waiting = {
        resolve: (v) => { clearTimeout(t); resolve(v); },
        reject: (e) => { clearTimeout(t); reject(e); },
      };
      this.s.write(encodeLine(req));
    });
  }

  private line(o: Record<string, unknown>): void {
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      w.resolve(o);
      return;
    }
    this.onLine?.(o);
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }
}

/** Connects, sends one request, closes: for the one-shot commands. */
export async function ask(target: Target, req: Request): Promise<unknown> {
  const c = await AdminClient.connect(target);
  try {
    return await c.request(req);
  } finally {
    c.close();
  }
}
