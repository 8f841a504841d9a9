// Self time per function from a V8 CPU profile (`node --cpu-prof`'s
// .cpuprofile JSON): the sampled call tree flattened to "which function was
// on top of the stack, for how long", the figure that says where a
// process's own (user-mode) time goes.
//
// A sample's time is the delta to the next sample (timeDeltas[k + 1]), as
// Chrome's DevTools counts it; the last sample gets none. Sample times are
// V8's monotonic clock in µs, which on Linux is CLOCK_MONOTONIC, the clock of
// process.hrtime: a window taken with it in another process cuts the profile
// to the part that was measured (not start-up, not shutdown). Functions are keyed
// by name and script position, so the same function reached by different
// paths is one row. V8's pseudo-frames keep their names: "(program)" is time
// in the VM and native code outside any JavaScript frame, "(garbage
// collector)" is GC, "(idle)" is the event loop waiting.

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  /** `function (file:line)`, the file relative to the repository's dist/ when it is weft's. */
  name: string;
  ms: number;
  /** Share of the time the thread was busy (not "(idle)") in the window. */
  pct: number;
}

export interface SelfTimes {
  rows: SelfTime[];
  /** Sampled time in the window: waiting in the event loop, and everything else. */
  idleMs: number;
  busyMs: number;
}

function label(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const fn = cf.functionName || '(anonymous)';
  if (!cf.url) return fn;
  const file = cf.url.replace(/^file:\/\//, '').replace(/^.*\/dist\//, '');
  return `${fn} (${file}:${cf.lineNumber + 1})`;
}

/** Every function's self time, largest first, counting only samples taken in [fromUs, toUs) (CLOCK_MONOTONIC µs) when given. */
export function selfTimes(p: CpuProfile, window?: { fromUs: number; toUs: number }): SelfTimes {
  const byId = new Map(p.nodes.map((n) => [n.id, label(n.callFrame)]));
  const us = new Map<string, number>();
  let at = p.startTime;
  for (let k = 0; k < p.samples.length; k++) {
    at += p.timeDeltas[k] ?? 0;
    if (window && (at < window.fromUs || at >= window.toUs)) continue;
    const name = byId.get(p.samples[k]) ?? '(unknown)';
    us.set(name, (us.get(name) ?? 0) + (p.timeDeltas[k + 1] ?? 0));
  }
  const idle = us.get('(idle)') ?? 0;
  us.delete('(idle)');
  const busy = [...us.values()].reduce((a, b) => a + b, 0);
  const rows = [...us.entries()]
    .map(([name, t]) => ({ name, ms: t / 1000, pct: busy > 0 ? (100 * t) / busy : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return { rows, idleMs: idle / 1000, busyMs: busy / 1000 };
}
