// Where things are, seen from dist/test/… at run time.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (dist/test/helpers → ../../..). */
export const ROOT = resolve(here, '../../..');
export const PCAPS = join(ROOT, 'pcaps');
export const WEFT = join(ROOT, 'dist/src/cli/main.js');

/** A fresh temporary directory and its remover. */
export function tempDir(tag: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `weft-${tag}-`));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}
