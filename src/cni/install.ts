// `weft-cni --install`: the plugin put where runtimes look (/opt/cni/bin),
// as a two-line shell wrapper rather than a copy or a symlink of main.js:
// the wrapper names the Node.js binary and the script by absolute path, so
// the plugin runs whatever PATH the runtime (containerd, kubelet, CRI-O)
// gives its plugins, and the script's imports resolve in the package it
// belongs to; upgrading weft upgrades the plugin.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The file name in the plugin directory, and so the "type" of a network config. */
export const PLUGIN_NAME = 'weft-cni';

/** The wrapper's text: runs `script` with `node`, both absolute, passing arguments and stdin through. */
export function wrapperScript(node: string, script: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# weft's CNI plugin, written by \`weft-cni --install\`.\nexec ${q(node)} ${q(script)} "$@"\n`;
}

/** Writes DIR/weft-cni running `script`, DIR made if missing (a temporary file renamed over it, so a runtime never runs half a file); returns its path. */
export function install(dir: string, script: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(resolve(dir), PLUGIN_NAME);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, wrapperScript(process.execPath, script), { mode: 0o755 });
  renameSync(tmp, path);
  return path;
}
