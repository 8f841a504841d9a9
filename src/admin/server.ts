// The control socket's server: a unix stream socket that answers the
// protocol in protocol.ts. It knows nothing of weft's insides; it hands each
// parsed request to a handler and writes the reply.
//
// The socket file: mode 0600 (only root, or whoever runs weft, may talk to
// it); removed on close and, as a last resort, at process exit. A file left
// by a weft that was killed (SIGKILL, a crash) is found at the next start:
// if nothing answers on it, it is removed and reported; if a weft answers,
// this one refuses to start rather than steal its socket. A directory that
// open() had to create (a per-namespace one) is removed again at close when
// nothing else is in it.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError } from '../config/errors.js';
import { encodeLine, parseRequest, ProtocolError, StreamDecoder, MAX_REQUEST_LINE, type Request } from './protocol.js';

/** A handler returns the reply's result, or STREAMING when it took the connection over (capture). */
export const STREAMING = Symbol('streaming');
export type Handler = (req: Request, socket: Socket) => unknown;

/** At most this many clients at once; more are turned away by the kernel's backlog. */
const MAX_CLIENTS = 16;

export class AdminServer {
  private readonly clients = new Set<Socket>();
  private closed = false;
  private readonly onExit = () => this.unlink();
  /** The directory open() created for the socket, if it did. */
  private madeDir: string | null = null;

  private constructor(readonly path: string, private readonly server: Server) {
    process.on('exit', this.onExit);
  }

  /**
   * Listens on `path` (creating its directory), after clearing a stale
   * socket. Resolves once listening; rejects with a RuntimeError saying what
   * is in the way. `onStale` is told when a stale socket was removed.
   */
  static async open(path: string, handle: Handler, onStale: () => void = () => {}): Promise<AdminServer> {
    let made: string | undefined;
    try {
      made = mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new RuntimeError(`control socket ${path}: cannot create ${dirname(path)} (${(e as NodeJS.ErrnoException).code}); pass --control-socket PATH`);
    }
    if (await clearStale(path)) onStale();
    const server = createServer((s) => admin.accept(s, handle));
    server.maxConnections = MAX_CLIENTS;
    const admin = new AdminServer(path, server);
    if (made !== undefined) admin.madeDir = dirname(path);
    // Created 0600 from the start (umask), not chmod-ed after a window of 0755.
    const mask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => { server.off('error', reject); resolve(); });
      });
    } catch (e) {
      process.off('exit', admin.onExit);
      throw new RuntimeError(`control socket ${path}: ${(e as Error).message}`);
    } finally {
      process.umask(mask);
    }
    chmodSync(path, 0o600);
    return admin;
  }

  /** Stops listening, drops every client and removes the socket file. Idempotent, synchronous. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    for (const s of this.clients) s.destroy();
    this.clients.clear();
    this.unlink();
    process.off('exit', this.onExit);
  }

  private unlink(): void {
    try { unlinkSync(this.path); } catch { /* already gone */ }
    if (this.madeDir !== null) {
      try { rmdirSync(this.madeDir); } catch { /* another weft's socket is in it */ }
    }
  }

  private accept(s: Socket, handle: Handler): void {
    if (this.closed) { s.destroy(); return; }
    this.clients.add(s);
    s.on('close', () => this.clients.delete(s));
    s.on('error', () => s.destroy());
    const dec = new StreamDecoder(MAX_REQUEST_LINE);
    let streaming = false;
    s.on('data', (chunk: Buffer) => {
      if (streaming) return; // a capture ignores anything the client sends
      try {
        dec.push(chunk, (obj) => {
          if (streaming) return;
          let req: Request;
          try {
            req = parseRequest(obj);
          } catch (e) {
            s.write(encodeLine({ ok: false, error: (e as Error).message }));
            return;
          }
          let result: unknown;
          try {
            result = handle(req, s);
          } catch (e) {
            s.write(encodeLine({ ok: false, error: (e as Error).message }));
            return;
          }
          if (result === STREAMING) streaming = true;
          else s.write(encodeLine({ ok: true, result }));
        });
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        s.end(encodeLine({ ok: false, error: e.message }));
      }
    });
  }
}

/** Whether a process accepts connections on the unix socket `path` (one that hangs counts as there). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = connect(path);
    const t = setTimeout(() => { c.destroy(); resolve(true); }, 1000);
    c.once('connect', () => { clearTimeout(t); c.destroy(); resolve(true); });
    c.once('error', () => { clearTimeout(t); resolve(false); });
  });
}

/** Removes a socket file nobody answers on; true if it did. Throws when a live weft or a non-socket is there. */
async function clearStale(path: string): Promise<boolean> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isSocket()) throw new RuntimeError(`control socket ${path}: the path exists and is not a socket; remove it or pass --control-socket PATH`);
  if (await socketAnswers(path)) {
    throw new RuntimeError(`another weft is running with control socket ${path}; stop it first, or give this one another --tap or --control-socket`);
  }
  unlinkSync(path);
  return true;
}
