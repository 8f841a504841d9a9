// What the TAP and the UDP socket share: a non-blocking fd owned by the
// native addon, watched for readability on the event loop, closed once.

import { native } from './native.js';

export class PolledFd {
  private poll: object | null = null;
  private closed = false;

  constructor(readonly fd: number) {}

  /** Calls `cb` whenever the fd is readable, or once with an error when it fails. */
  onReadable(cb: (err?: Error) => void): void {
    this.poll = native().pollStart(this.fd, cb);
  }

  /** Stops watching and closes the fd; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) native().pollStop(this.poll);
    native().close(this.fd);
  }
}
