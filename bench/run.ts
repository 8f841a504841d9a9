// `npm run bench`: first the micro-benchmarks, every bench/*.bench.js in its
// own process so that one benchmark's heap does not colour the next one's
// numbers; then the live benchmark (throughput.js: iperf3 through weft and
// through the kernel's vxlan device), inside `unshare --net` as the live
// tests are, so that even a mistake in it cannot touch the root namespace.
//
// `--only scale` runs scale.js instead (weft in a network of 1k, 10k and 30k
// leases in a real etcd; minutes, so never part of the default run).
// `--only profile` runs profile.js instead (where weft's CPU goes on one
// tcp-1 run: user and system time, system calls, perf, V8's profiler).
//
// Usage: npm run bench -- [--only micro|live|scale|profile] [--quick] [--reps N] [--seconds S] [--cases a,b] [--leases 1000,10000] [--workers 1,2] [--against DIR] [name …]
//   --against DIR  with --only profile: an A/B of this tree's weft pair against DIR's (built)
//   --workers 1,2  the live part is workers.js instead: one weft host at each
//                  worker count opposite a kernel vxlan host
//   name …   run only the micro-benchmark files whose name contains one
//   --quick  shorter micro-benchmarks, and the live one at 1 × 3 s

import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));

let a;
try {
  a = parseArgs({
    allowPositionals: true,
    options: {
      only: { type: 'string' }, quick: { type: 'boolean' },
      reps: { type: 'string' }, seconds: { type: 'string' }, cases: { type: 'string' }, leases: { type: 'string' }, workers: { type: 'string' },
      against: { type: 'string' },
    },
  });
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(2);
}
const { values: v, positionals: names } = a;
if (v.only !== undefined && !['micro', 'live', 'scale', 'profile'].includes(v.only)) {
  process.stderr.write(`bench: --only takes micro, live, scale or profile, not '${v.only}'\n`);
  process.exit(2);
}

// The child handles Ctrl-C itself (it is in our process group and gets the
// same SIGINT); we only wait for it to finish cleaning up, and pass SIGTERM on.
let current: ReturnType<typeof spawn> | null = null;
process.on('SIGINT', () => {});
process.on('SIGTERM', () => { if (current?.pid) process.kill(current.pid, 'SIGTERM'); });

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    current = child;
    child.on('error', (e) => { process.stderr.write(`bench: ${cmd}: ${e.message}\n`); res(1); });
    child.on('close', (code) => { current = null; res(code ?? 1); });
  });
}

/** A live benchmark inside `unshare --net`; without root the script itself says what is missing. */
async function live(script: string, args: string[]): Promise<number> {
  const wrap = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v unshare'], { stdio: 'ignore' }).status === 0;
  const cmd = [join(here, script), ...args];
  return wrap ? run('unshare', ['--net', '--', process.execPath, ...cmd]) : run(process.execPath, cmd);
}

if (v.only === 'profile') {
  const args = [...(v.seconds !== undefined ? ['--seconds', v.seconds] : []), ...(v.reps !== undefined ? ['--reps', v.reps] : []),
    ...(v.against !== undefined ? ['--against', v.against] : [])];
  process.exit(await live('profile.js', args));
}
let failed = 0;
if (v.only === 'scale') {
  if (await live('scale.js', v.leases !== undefined ? ['--leases', v.leases] : [])) failed++;
} else if (v.only !== 'live') {
  const env = v.quick ? { ...process.env, WEFT_BENCH_QUICK: '1' } : process.env;
  for (const f of readdirSync(here).filter((n) => n.endsWith('.bench.js')).sort()) {
    if (names.length && !names.some((s) => f.includes(s))) continue;
    if (await run(process.execPath, ['--expose-gc', join(here, f)], env)) failed++;
  }
}
if (v.only !== 'micro' && v.only !== 'scale') {
  const args: string[] = [];
  if (v.workers !== undefined) args.push('--workers', v.workers);
  else if (v.quick) args.push('--quick');
  for (const k of ['reps', 'seconds', ...(v.workers === undefined ? ['cases'] as const : [])] as const) if (v[k] !== undefined) args.push(`--${k}`, v[k]);
  if (await live(v.workers !== undefined ? 'workers.js' : 'throughput.js', args)) failed++;
}
process.exitCode = failed ? 1 : 0;
