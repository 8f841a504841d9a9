// The test command's runner: runs every `*.test.js` under dist/test/unit and
// dist/test/live, one node process per file (so a crash or a leaked handle in
// one file cannot hide another's result), sequentially (the live tests build
// network namespaces and must not race). It sums uvu's per-file summaries and
// ends with the one line CI reads: `N passed, N failed, N skipped`.
//
// A file that dies before printing its summary counts as one failure. No test
// run at all is a failure too.
//
// Usage: node dist/test/run.js [substring …]   (only files whose path contains one)

import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SCANNED = ['unit', 'live'];
const FILE_TIMEOUT_MS = 10 * 60 * 1000;

function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

interface FileResult { total: number; passed: number; skipped: number; code: number | null }

// Live tests run in a private network namespace of their own (unshare
// --net), so even a mistake in one cannot touch the root namespace; the
// hosts they build are further namespaces made with scripts/rig.sh.
function commandFor(file: string): [string, string[]] {
  const node: [string, string[]] = [process.execPath, ['--enable-source-maps', file]];
  if (!file.includes(`${join('dist', 'test', 'live')}`)) return node;
  return ['unshare', ['--net', '--', node[0], ...node[1]]];
}

function runFile(file: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const [cmd, args] = commandFor(file);
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', WEFT_IN_UNSHARE: cmd === 'unshare' ? '1' : process.env.WEFT_IN_UNSHARE ?? '' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); process.stdout.write(d); });
    const timer = setTimeout(() => {
      process.stdout.write(`\n  ${file}: timed out after ${FILE_TIMEOUT_MS / 1000} s, killed\n`);
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const num = (label: string) => {
        const m = out.match(new RegExp(`${label}:\\s+(\\d+)`, 'g'));
        if (!m) return -1;
        return m.reduce((a, s) => a + Number(s.replace(/\D+/g, '')), 0);
      };
      resolve({ total: num('Total'), passed: num('Passed'), skipped: num('Skipped'), code });
    });
  });
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const files = SCANNED.flatMap((d) => findTests(join(here, d)))
    .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
  let passed = 0, failed = 0, skipped = 0;
  const failures: string[] = [];
  for (const f of files) {
    const name = relative(here, f);
    process.stdout.write(`\n# ${name}\n`);
    const r = await runFile(f);
    if (r.total < 0 || r.passed < 0) {
      // Died before uvu printed its summary.
      failed += 1;
      failures.push(`${name} (exited ${r.code} without a summary)`);
      continue;
    }
    passed += r.passed;
    skipped += Math.max(0, r.skipped);
    const f1 = r.total - r.passed;
    if (f1 > 0 || r.code !== 0) {
      failed += Math.max(f1, 1);
      failures.push(name);
    }
  }
  if (failures.length) process.stdout.write(`\nFailed: ${failures.join(', ')}\n`);
  if (passed + failed === 0) {
    process.stdout.write('\nno test ran\n');
    failed = 1;
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

void main();
