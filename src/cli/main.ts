#!/usr/bin/env node
// weft's command line: one entry point, one module per command.

import { UsageError, RuntimeError } from '../config/errors.js';
import { PcapFormatError } from '../io/pcap-read.js';
import { replayCommand, REPLAY_HELP } from './replay.js';
import { runCommand } from './run.js';
import { RUN_HELP } from './run-help.js';
import { fdbCommand, FDB_HELP } from './fdb.js';
import { peersCommand, PEERS_HELP } from './peers.js';
import { statsCommand, STATS_HELP } from './stats.js';
import { captureCommand, CAPTURE_HELP } from './capture.js';
import { downCommand, DOWN_HELP } from './down.js';

const HELP = `weft — a userspace VXLAN tunnel endpoint (RFC 7348)

Usage: weft <command> [options]

Commands:
  run      run a VXLAN tunnel endpoint on a TAP device (needs root)
  replay   run a pcap through the data path (--decap or --encap)
  down     remove the TAP a killed or crashed weft left (--tap NAME)
  help     this text, or 'weft help <command>'

Commands that talk to a running weft (through its control socket,
/run/weft/TAP.sock; --tap NAME or --socket PATH picks which):
  fdb      show, add or delete forwarding entries (MAC → VTEP)
  peers    the flood list, the VTEPs known, and the leases
  stats    the counters, once or --watch
  capture  copy the frames weft handles into a pcap file

'weft <command> --help' describes each command.`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  run: { run: runCommand, help: RUN_HELP },
  replay: { run: replayCommand, help: REPLAY_HELP },
  fdb: { run: fdbCommand, help: FDB_HELP },
  peers: { run: peersCommand, help: PEERS_HELP },
  stats: { run: statsCommand, help: STATS_HELP },
  capture: { run: captureCommand, help: CAPTURE_HELP },
  down: { run: downCommand, help: DOWN_HELP },
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help') {
    process.stdout.write(HELP + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'help') {
    const c = rest[0] ? COMMANDS[rest[0]] : undefined;
    if (rest[0] && !c) throw new UsageError(`no command '${rest[0]}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
    process.stdout.write((c ? c.help : HELP) + '\n');
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) throw new UsageError(`no command '${cmd}'; commands: ${Object.keys(COMMANDS).join(', ')} (weft --help)`);
  return c.run(rest);
}

/**
 * A failure is one line on stderr (config/errors.ts), but messages can
 * carry line breaks: node's parseArgs writes some over three lines, and ours
 * quote what the user typed, which may hold a newline or a terminal escape
 * (found by fuzzing the CLI). parseArgs' lines are joined; other
 * control characters are shown escaped (\n, \u001b).
 */
function oneLine(e: Error, parseArgsError: boolean): string {
  let m = e.message;
  if (parseArgsError) m = m.replace(/\s*\n\s*/g, ' ');
  return m.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function isParseArgsError(e: unknown): e is Error {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof UsageError || isParseArgsError(e)) {
      process.stderr.write(`weft: ${oneLine(e as Error, isParseArgsError(e))}\n`);
      process.exitCode = 2;
    } else if (e instanceof RuntimeError || e instanceof PcapFormatError || (e as NodeJS.ErrnoException)?.syscall) {
      process.stderr.write(`weft: ${oneLine(e as Error, false)}\n`);
      process.exitCode = 1;
    } else {
      // A bug: keep the stack so it can be reported.
      process.stderr.write(`weft: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
