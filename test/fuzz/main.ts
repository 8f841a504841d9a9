// `npm run fuzz`: the long fuzz campaign (test/helpers/fuzz.ts), 10 million
// packets by default. Every crash is written to test/corpus/crashes/ as
// PATH-SEED-BATCH.bin (the packet that throws on a fresh VTEP), to be fixed
// and then moved into the regression corpus with its expected counter.
//
//   npm run fuzz                              10 M packets, seed from the clock
//   npm run fuzz -- --packets 50000000 --seed 42 [--minutes 30]
//   FUZZ_PACKETS=… FUZZ_SEED=… npm run fuzz   the same through the environment
//
// The seed is printed first: a campaign replays exactly with the same seed
// and packet count. Exit status: 0 no crash and every packet counted, 1
// otherwise, 2 bad usage.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCampaign, type Crash } from '../helpers/fuzz.js';
import { ROOT } from '../helpers/paths.js';

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`fuzz: ${name} must be a whole number, not '${v}'\n`);
    process.exit(2);
  }
  return n;
}

let values: { packets?: string; seed?: string; minutes?: string };
try {
  ({ values } = parseArgs({ options: { packets: { type: 'string' }, seed: { type: 'string' }, minutes: { type: 'string' } } }));
} catch (e) {
  process.stderr.write(`fuzz: ${(e as Error).message}\nusage: npm run fuzz -- [--packets N] [--seed S] [--minutes M]\n`);
  process.exit(2);
}
const packets = num('--packets', values.packets ?? process.env.FUZZ_PACKETS, 10_000_000);
const seed = num('--seed', values.seed ?? process.env.FUZZ_SEED, Date.now() % 0x7fffffff);
const minutes = num('--minutes', values.minutes ?? process.env.FUZZ_MINUTES, 60);
const crashDir = join(ROOT, 'test/corpus/crashes');

process.stdout.write(`fuzz: ${packets.toLocaleString('en')} packets, seed ${seed} (at most ${minutes} min)\n`);
const saved: string[] = [];
const r = runCampaign({
  packets, seed, timeLimitMs: minutes * 60_000,
  progress: (n) => { if (process.stdout.isTTY) process.stdout.write(`\r  ${n.toLocaleString('en')} packets`); },
  onCrash: (c: Crash) => {
    mkdirSync(crashDir, { recursive: true });
    const f = join(crashDir, `${c.path}-${seed}-${c.batch}${c.wholeBatch ? '-batch' : ''}.bin`);
    writeFileSync(f, c.input);
    saved.push(f);
  },
});
if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
const lines = [
  `fuzz: ${r.packets.toLocaleString('en')} packets fuzzed in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.packets / (r.ms / 1000)).toLocaleString('en')}/s), seed ${seed}`,
  `  by path: decap ${r.byPath.decap}, outer ${r.byPath.outer}, tap-read ${r.byPath['tap-read']}; ${r.batches} batches`,
  `  crashes found: ${r.crashes.length}`,
  ...r.crashes.map((c, i) => `    ${c.path} (batch ${c.batch}): ${c.error}\n      saved to ${saved[i] ?? '?'}`),
  `  counting problems: ${r.problemCount}`,
  ...r.problems.map((p) => `    ${p}`),
  `  good traffic afterwards: ${r.goodAfter.length === 0 ? 'forwards' : r.goodAfter.join('; ')}`,
  `  data path: ${Object.entries(r.counters).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  `  outer parser: ${Object.entries(r.outer).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  `  TAP reads: ${(['framesIn', 'superFramesIn', 'segmentsOut', 'csumCompletedIn', 'badIn', 'lost'] as const).map((k) => `${k} ${r.tap[k]}`).join(', ')}`,
  `  TAP writes: ${(['coalesced', 'csumMarkedOut', 'csumBadOut', 'refused'] as const).map((k) => `${k} ${r.tapWrite[k]}`).join(', ')}`,
];
process.stdout.write(lines.join('\n') + '\n');
process.exitCode = r.crashes.length === 0 && r.problemCount === 0 && r.goodAfter.length === 0 ? 0 : 1;
