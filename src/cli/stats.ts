// `weft stats`: the counters of a running weft, once or refreshing.

import { parseArgs } from 'node:util';
import { UsageError } from '../config/errors.js';
import { parseIntIn } from '../config/values.js';
import { AdminClient, resolveTarget, TARGET_HELP, TARGET_OPTIONS } from '../admin/client.js';
import { formatStats } from '../admin/format.js';
import type { StatsResult } from '../admin/commands.js';

export const STATS_HELP = `Usage: weft stats [--json] [--watch [--interval S] [--count N]]

The counters of a running weft, like 'ip -s link': received datagrams and
the frames they carried, frames sent and the datagrams made of them (flood
copies included), drops (in total, then each non-zero reason by its name;
docs/hostile-input.md, "What decap drops, and why"), the forwarding table, how many packets
each read moved, and the offloads.

Options:
  --json               the reply as one JSON line (with --watch: one line per
                       refresh)
  --watch              refresh every --interval seconds (default 1), with a
                       per-second rate under each counter; Ctrl-C stops
  --interval S         seconds between refreshes, 1–3600
  --count N            with --watch: stop after N refreshes
${TARGET_HELP}
  -h, --help           this text

Exit status: 0 done, 1 no weft running there (or it stopped while
watching), 2 bad usage.`;

export async function statsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      ...TARGET_OPTIONS, json: { type: 'boolean' }, watch: { type: 'boolean' },
      interval: { type: 'string' }, count: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(STATS_HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`stats: unexpected argument '${positionals[0]}'`);
  if (!values.watch && (values.interval !== undefined || values.count !== undefined)) throw new UsageError('stats: --interval and --count go with --watch');
  const intervalMs = values.interval !== undefined ? parseIntIn('--interval', values.interval, 1, 3600) * 1000 : 1000;
  const count = values.count !== undefined ? parseIntIn('--count', values.count, 1, 1_000_000) : Infinity;
  const client = await AdminClient.connect(resolveTarget(values));
  try {
    const clear = process.stdout.isTTY === true && !values.json;
    let prev: StatsResult | undefined;
    let prevAt = 0;
    for (let i = 0; i < (values.watch ? count : 1); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, intervalMs));
      const r = await client.request({ cmd: 'stats' }) as StatsResult;
      const at = performance.now();
      let text = values.json ? JSON.stringify(r) : formatStats(r, prev, prev ? (at - prevAt) / 1000 : undefined);
      if (values.watch && !values.json) text = clear ? `\x1b[H\x1b[2J${text}` : (i > 0 ? '\n' : '') + text;
      process.stdout.write(text + '\n');
      prev = r;
      prevAt = at;
    }
  } finally {
    client.close();
  }
  return 0;
}
