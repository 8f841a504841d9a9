// `weft run --workers N` beside what outlives the process: a handover and a
// kept TAP have one queue, so --takeover and --keep-tap with N > 1 are a
// usage error (one line, exit 2) from the flags, the environment or the
// config file alike, while --workers 1 (the default) takes both as before.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseRunArgs } from '../../src/cli/run.js';
import { UsageError } from '../../src/config/errors.js';

function refusal(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseRunArgs(argv, env);
  } catch (e) {
    assert.instance(e, UsageError);
    return (e as Error).message;
  }
  assert.unreachable(`${argv.join(' ')} was taken`);
  return '';
}

test('--takeover and --keep-tap with --workers 2: one line naming the flag and the way out', () => {
  assert.match(refusal(['--workers', '2', '--takeover']), /^--takeover works with --workers 1 only .*: drop --takeover or --workers$/);
  assert.match(refusal(['--workers', '4', '--keep-tap']), /^--keep-tap works with --workers 1 only .*--workers 4 needs 4/);
  assert.match(refusal(['--keep-tap'], { WEFT_WORKERS: '2' }), /--keep-tap works with --workers 1 only/);
});

test('from a --config file too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-run-workers-'));
  try {
    const p = join(dir, 'weft.json');
    writeFileSync(p, JSON.stringify({ workers: 2, 'keep-tap': true }));
    assert.match(refusal(['--config', p]), /--keep-tap works with --workers 1 only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--workers 1 (the default) takes --takeover and --keep-tap as before; --workers 2 alone is taken', () => {
  const one = parseRunArgs(['--takeover', '--keep-tap'], {})!;
  assert.is(one.workers, 1);
  assert.equal(one.persist, { takeover: true, keepTap: true });
  assert.is(parseRunArgs(['--workers', '1', '--takeover'], {})!.persist.takeover, true);
  assert.is(parseRunArgs(['--workers', '2'], {})!.workers, 2);
});

test.run();
