// V8's sampling heap profiler (node:inspector) around a function: what the
// allocation checks of the hot path share (unit/alloc, live/udp-src-ports).

import { Session } from 'node:inspector';

interface Node { selfSize: number; children: Node[] }

/** Bytes V8 sampled as allocated while fn ran (every 256 bytes on average). */
export function allocatedDuring(fn: () => void): number {
  const s = new Session();
  s.connect();
  const post = (method: string, params?: object): unknown => {
    let out: unknown, err: Error | null = null;
    // In-process sessions answer synchronously.
    s.post(method, params ?? {}, (e, r) => { err = e; out = r; });
    if (err) throw err;
    return out;
  };
  try {
    post('HeapProfiler.enable');
    post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    fn();
    const { profile } = post('HeapProfiler.stopSampling') as { profile: { head: Node } };
    const total = (n: Node): number => n.children.reduce((a, c) => a + total(c), n.selfSize);
    return total(profile.head);
  } finally {
    s.disconnect();
  }
}

/**
 * The least of three samplings of fn: a per-packet allocation shows in
 * every one of them, while V8's own work that may land in one window (code
 * optimised late on a busy machine, a deoptimisation) does not.
 */
export function leastAllocatedOf3(fn: () => void): number {
  return Math.min(allocatedDuring(fn), allocatedDuring(fn), allocatedDuring(fn));
}
