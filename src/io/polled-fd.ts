// What the TAP and the UDP socket share: a non-blocking fd owned by the
// native addon, watched for readability on the event loop (paused and
// resumed around a handover), closed once.

import { native } from './native.js';

export class PolledFd {
  private poll: object | null = null;
  private closed = false;
  private cb: ((err?: Error) => void) | null = null;

  constructor(readonly fd: number) {}

  /** Calls `cb` whenever the fd is readable, or once with an error when it fails. */
  onReadable(cb: (err?: Error) => void): void {
    this.cb = cb;
    this.poll = native().pollStart(this.fd, cb);
  }

  /** Stops watching, keeping the fd open; resume() watches again with the same callback. */
  pause(): void {
    if (this.poll) native().pollStop(this.poll);
    this.poll = null;
  }

  resume(): void {
    if (this.closed || this.poll || !this.cb) return;
    this.poll = native().pollStart(this.fd, this.cb);
  }

  /** Stops watching and closes the fd; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) native().pollStop(this.poll);
    native().close(this.fd);
  }
}
