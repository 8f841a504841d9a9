// Keeps a repeated warning (drops from one bad source, a MAC that keeps
// moving) to one line per key per window, and says how many were held back.
// Time is an argument; the table of keys is bounded (the oldest key goes).

export class RateLimiter {
  private readonly next = new Map<string, { untilMs: number; held: number }>();

  constructor(readonly windowMs: number, readonly maxKeys = 1024) {}

  /**
   * -1 when `key` logged less than windowMs ago (the event is held back and
   * counted); otherwise how many events of `key` were held back since its
   * last line (0 the first time), and the window starts again.
   */
  allow(key: string, nowMs: number): number {
    const e = this.next.get(key);
    if (e && nowMs < e.untilMs) {
      e.held++;
      return -1;
    }
    const held = e ? e.held : 0;
    if (e) this.next.delete(key); // re-insert: Map order is then oldest-logged first
    else if (this.next.size >= this.maxKeys) this.next.delete(this.next.keys().next().value as string);
    this.next.set(key, { untilMs: nowMs + this.windowMs, held: 0 });
    return held;
  }

  get size(): number { return this.next.size; }
}
