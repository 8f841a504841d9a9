// The base every header view shares: a buffer and an offset that can be
// re-pointed at the next packet without allocating. Each header file adds
// its own `checkLen` gate and accessors.

const EMPTY = Buffer.alloc(0);

export class HeaderView {
  buf: Buffer;
  off: number;

  constructor(buf: Buffer = EMPTY, off = 0) {
    this.buf = buf;
    this.off = off;
  }

  /** Points the view at another header; no allocation. */
  bind(buf: Buffer, off: number): this {
    this.buf = buf;
    this.off = off;
    return this;
  }
}
