#!/usr/bin/env node
// weft-cni: weft's CNI plugin, flannel's plugin for a weft host (plugin.ts).
// A container runtime runs it with CNI_COMMAND set and the network config on
// stdin; `weft-cni --install [DIR]` puts it where runtimes look (install.ts
// says why as a wrapper). It imports nothing but src/cni/ and two small
// address modules, so a call costs little more than Node's start-up.

import { fstatSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { install, PLUGIN_NAME } from './install.js';
import { runCni } from './plugin.js';
import { SUPPORTED_VERSIONS } from './netconf.js';

const DEFAULT_INSTALL_DIR = '/opt/cni/bin';

const HELP = `weft-cni — weft's CNI plugin (a flannel-compatible meta-plugin: bridge + host-local from subnet.env)

A container runtime runs it with CNI_COMMAND (ADD, DEL, CHECK, GC, STATUS, VERSION) and the
network config on stdin. By hand:

  weft-cni --install [DIR]   write DIR/${PLUGIN_NAME} (default ${DEFAULT_INSTALL_DIR}): a wrapper that runs this
                             plugin with this Node.js, whatever the runtime's PATH

A network config for it: flannel's, with "type": "${PLUGIN_NAME}" (see docs/cni.md).
CNI spec versions: ${SUPPORTED_VERSIONS.join(', ')}.`;

function readStdin(): string {
  // A terminal on stdin is a person trying the plugin; the runtime always pipes the config.
  if (fstatSync(0).isCharacterDevice()) return '';
  return readFileSync(0, 'utf8');
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--install') {
    try {
      process.stdout.write(`installed ${install(args[1] ?? DEFAULT_INSTALL_DIR, fileURLToPath(import.meta.url))}\n`);
    } catch (e) {
      process.stderr.write(`weft-cni: cannot install into ${args[1] ?? DEFAULT_INSTALL_DIR}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (run as root, or name a directory you can write)\n`);
      process.exitCode = 1;
    }
    return;
  }
  if (args.length > 0) {
    process.stderr.write(HELP + '\n');
    process.exitCode = args[0] === '--help' || args[0] === '-h' ? 0 : 2;
    return;
  }
  // Unset, the command is a person's mistake: the help, then the spec's error (invalid environment).
  if (!process.env.CNI_COMMAND) process.stderr.write(HELP + '\n');
  const out = runCni(process.env, readStdin());
  // stdout to a pipe or a file is written synchronously on Linux: all of it is out before the exit.
  process.stdout.write(out.stdout);
  process.exitCode = out.exitCode;
}

main();
