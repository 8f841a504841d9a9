// docs/architecture.md checked against the code: the layering rule (which
// directory of src/ may import which) and the two journeys (each at most
// five files with logic, each file present).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { ROOT } from '../helpers/paths.js';

const SRC = join(ROOT, 'src');

/**
 * What each directory of src/ may import, besides itself: the table in
 * docs/architecture.md. A name with a slash is one module allowed on its own
 * (a leaf: the error types, the control plane's defaults).
 */
const ALLOWED: Record<string, string[]> = {
  wire: [],
  log: [],
  types: [],
  fdb: ['wire'],
  io: ['wire', 'fdb', 'config/errors'],
  datapath: ['wire', 'fdb', 'io'],
  capture: ['wire', 'fdb', 'io', 'datapath'],
  control: ['wire', 'io', 'datapath', 'config', 'log'],
  config: ['wire', 'datapath', 'log', 'control/defaults'],
  daemon: ['control', 'datapath', 'io', 'log'],
  metrics: ['wire', 'fdb', 'io', 'datapath', 'config', 'daemon', 'log'],
  admin: ['wire', 'fdb', 'io', 'datapath', 'capture', 'config', 'daemon', 'log'],
  cni: ['wire', 'control/ip4'],
  persist: ['wire', 'fdb', 'io', 'datapath', 'admin', 'config', 'log'],
  workers: ['wire', 'fdb', 'io', 'datapath', 'capture', 'config/errors'],
  cli: ['*'],
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of a file, as a path below src/ without extension ('io/batch'). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)) {
    out.push(relative(SRC, resolve(dirname(file), m[1])).replace(/\.js$/, ''));
  }
  return out;
}

test('every directory of src/ imports only what the layering allows', () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const file of tsFiles(SRC)) {
    const from = relative(SRC, file).split('/')[0];
    const allowed = ALLOWED[from];
    if (allowed === undefined) { wrong.push(`${relative(ROOT, file)}: src/${from}/ is not in the layering table`); continue; }
    for (const imp of importsOf(file)) {
      checked++;
      const to = imp.split('/')[0];
      if (to === from || allowed.includes('*') || allowed.includes(to) || allowed.includes(imp)) continue;
      wrong.push(`${relative(ROOT, file)} imports src/${imp}`);
    }
  }
  assert.ok(checked > 200, `only ${checked} imports seen: the scan is broken`);
  assert.equal(wrong, []);
});

test('the rule is checked: an import the table forbids is caught', () => {
  const probe = importsOf(join(SRC, 'datapath', 'forwarder.ts'));
  assert.ok(probe.includes('io/ports'), 'forwarder imports io/ports');
  assert.not.ok(ALLOWED.io.includes('datapath'), 'io may not import datapath');
  assert.not.ok(ALLOWED.metrics.includes('admin'), 'metrics may not import admin');
});

test('docs/architecture.md: each journey is at most five files, all present', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  for (const heading of ['## TAP → wire', '## wire → TAP']) {
    const at = doc.indexOf(heading);
    assert.ok(at >= 0, `${heading} is in the doc`);
    const section = doc.slice(at, doc.indexOf('\n## ', at + 1));
    const files = [...section.matchAll(/^\| \d+ \| `([^`]+)` \|/gm)].map((m) => m[1]);
    assert.ok(files.length >= 3 && files.length <= 5, `${heading}: ${files.length} files`);
    for (const f of files) assert.ok(existsSync(join(ROOT, f)), `${heading}: ${f} exists`);
  }
});

test.run();
