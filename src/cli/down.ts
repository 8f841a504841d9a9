// `weft down`: removes a TAP that a weft left behind (killed, crashed, or
// stopped with --keep-tap), with everything on it, and its record.

import { parseArgs } from 'node:util';
import { RuntimeError, UsageError } from '../config/errors.js';
import { resolveTarget, TARGET_HELP, TARGET_OPTIONS } from '../admin/client.js';
import { socketAnswers } from '../admin/server.js';
import { linkState, tapReuseProblem } from '../io/link.js';
import { native } from '../io/native.js';
import { recordPath, removeRecord } from '../persist/tap-record.js';

export const DOWN_HELP = `Usage: weft down [--tap NAME]

Removes the TAP a weft left behind (with its addresses, routes and
neighbour entries): weft's TAP is persistent, so it stays when weft is
killed or crashes, or stops with --keep-tap, for the next 'weft run' to
reattach to. A running weft is not stopped: stop it instead (SIGTERM;
'systemctl stop weft'), which removes its TAP.

Options:
${TARGET_HELP}
  -h, --help           this text

Exit status: 0 removed, or nothing there; 1 a weft is running on it, or it
is not a TAP weft made; 2 bad usage.`;

export async function downCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { ...TARGET_OPTIONS, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(DOWN_HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`down: unexpected argument '${positionals[0]}'`);
  const target = resolveTarget(values);
  const tap = values.tap ?? 'weft0';
  if (await socketAnswers(target.path)) {
    throw new RuntimeError(`a weft is running ${target.what}: stop it (SIGTERM, systemctl stop weft), which removes its TAP`);
  }
  removeRecord(recordPath(target.path));
  const s = linkState(tap);
  if (s === null) {
    process.stdout.write(`no TAP ${tap} here: nothing to remove\n`);
    return 0;
  }
  const problem = tapReuseProblem(tap, s);
  if (problem !== null) throw new RuntimeError(`${tap} was not made by weft, left as it is: ${problem.split(': ')[0]}`);
  const n = native();
  let fd: number;
  try {
    fd = n.tapOpen(tap, n.TAP_VNET_HDR).fd;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EBUSY') throw new RuntimeError(`TAP ${tap} is held by a running process (a weft with another --control-socket?): stop it first`);
    throw new RuntimeError(err.message);
  }
  // Persistence off, then the last fd closed: the kernel deletes the device.
  n.tapSetPersist(fd, false);
  n.close(fd);
  process.stdout.write(`tap ${tap} removed\n`);
  return 0;
}
