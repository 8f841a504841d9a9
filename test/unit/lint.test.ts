// Lint and format as a test: eslint.config.js over every TypeScript file of
// src/, test/ and bench/ (typescript-eslint's recommended rules, @stylistic's
// layout rules, at most 500 lines a file). A problem fails the test with
// eslint's own report, file and line included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/paths.js';

test('the whole tree is lint- and format-clean (npx eslint src test bench)', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const results = await eslint.lintFiles(['src', 'test', 'bench']);
  assert.ok(results.length > 100, `linted ${results.length} files: the globs found too few`);
  const problems = results.reduce((n, r) => n + r.errorCount + r.warningCount, 0);
  if (problems > 0) {
    const report = await (await eslint.loadFormatter('stylish')).format(results);
    assert.unreachable(`${problems} lint problems:\n${report}`);
  }
});

test('the rules catch what they should (a file too long, double quotes)', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const long = Array.from({ length: 501 }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n';
  const [r] = await eslint.lintText(long + 'export const s = "x";\n', { filePath: 'src/probe.ts' });
  const rules = new Set(r.messages.map((m) => m.ruleId));
  assert.ok(rules.has('max-lines'), 'max-lines');
  assert.ok(rules.has('@stylistic/quotes'), '@stylistic/quotes');
});

test.run();
