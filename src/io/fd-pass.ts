// Passing open descriptors to another process (a handover: persist/):
// the receiver listens on a unix SOCK_SEQPACKET socket at a path, the
// sender connects, sends one message with the descriptors attached
// (SCM_RIGHTS) and closes. The receiver then holds its own copies of the
// same open files: the same TAP queue, the same bound UDP socket with
// whatever is queued on it. Nothing is re-opened or re-bound.

import { unlinkSync } from 'node:fs';
import { native } from './native.js';

/** Most descriptors one handover carries (the addon's limit). */
export const FDS_MAX = 64;
/** Largest header message: the descriptors' order, a few hundred bytes. */
const HEADER_MAX = 64 * 1024;

/** Sends `fds` with `header` to the receiver listening at `path`; synchronous. Throws the addon's errno error. */
export function sendFds(path: string, fds: number[], header: Buffer): void {
  const n = native();
  const sock = n.unixConnect(path);
  try {
    n.fdsSend(sock, header, Int32Array.from(fds), fds.length);
  } finally {
    n.close(sock);
  }
}

/** The receiving end: listening at `path` from construction until close(). */
export class FdReceiver {
  private readonly fd: number;
  private closed = false;

  constructor(readonly path: string) {
    try { unlinkSync(path); } catch { /* none left over */ }
    this.fd = native().unixListen(path);
  }

  /**
   * The message a sender has sent by now and its descriptors, or null when
   * none has connected or sent yet. Throws when the message was cut short.
   */
  take(): { header: Buffer; fds: number[] } | null {
    const n = native();
    const c = n.unixAccept(this.fd);
    if (c < 0) return null;
    try {
      const buf = Buffer.alloc(HEADER_MAX);
      const out = new Int32Array(FDS_MAX);
      const got = n.fdsRecv(c, buf, out);
      if (got === null || got.len === 0) return null;
      return { header: buf.subarray(0, got.len), fds: Array.from(out.subarray(0, got.nfds)) };
    } finally {
      n.close(c);
    }
  }

  /** Stops listening and removes the path. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.fd);
    try { unlinkSync(this.path); } catch { /* already gone */ }
  }
}
