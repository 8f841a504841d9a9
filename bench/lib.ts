// Shared shape for micro-benchmarks: benchmark.js runs each case, and we
// print ns per packet (a case says how many packets one call moves).

import Benchmark from 'benchmark';

export interface BenchCase {
  name: string;
  /** Packets (or lookups) one call of `fn` handles. */
  perCall: number;
  fn: () => void;
}

export interface BenchResult { name: string; nsPerPacket: number; rme: number; samples: number }

// `npm run bench -- --quick` sets WEFT_BENCH_QUICK: fewer, shorter samples.
const QUICK = process.env.WEFT_BENCH_QUICK === '1';

export function runCases(title: string, cases: BenchCase[]): BenchResult[] {
  const results: BenchResult[] = [];
  const suite = new Benchmark.Suite(title);
  for (const c of cases) suite.add(c.name, c.fn, QUICK ? { minSamples: 5, maxTime: 0.5 } : { minSamples: 20, maxTime: 2 });
  suite.on('cycle', (ev: Benchmark.Event) => {
    const b = ev.target as unknown as Benchmark;
    const c = cases.find((x) => x.name === b.name)!;
    const ns = (b.stats.mean * 1e9) / c.perCall;
    results.push({ name: c.name, nsPerPacket: ns, rme: b.stats.rme, samples: b.stats.sample.length });
    process.stdout.write(`${title.padEnd(8)} ${c.name.padEnd(44)} ${ns.toFixed(1).padStart(9)} ns/packet  ±${b.stats.rme.toFixed(1)}%\n`);
  });
  suite.run({ async: false });
  return results;
}
