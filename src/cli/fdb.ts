// `weft fdb`: the forwarding table of a running weft, over its control socket.

import { parseArgs } from 'node:util';
import { UsageError } from '../config/errors.js';
import { ask, resolveTarget, TARGET_HELP, TARGET_OPTIONS } from '../admin/client.js';
import { formatFdb } from '../admin/format.js';
import { parseVni } from '../config/values.js';
import type { FdbEntry, FdbShowResult } from '../admin/commands.js';

export const FDB_HELP = `Usage:
  weft fdb show [--json]
  weft fdb add MAC dst IP [--vni N]
  weft fdb del MAC [dst IP] [--vni N]

The forwarding table of a running weft (MAC → the VTEP behind which it
is), like 'bridge fdb' for a Linux vxlan device.

  show    one line per entry:
            MAC dev TAP dst IP vni N static|learned [age S]
          age: seconds since a frame from MAC last arrived; a learned
          entry goes after --fdb-ageing seconds of silence
  add     pin MAC to the VTEP at IP: a static entry, never aged, not
          changed by learning (it replaces a learned one); frames from
          MAC arriving from another VTEP are dropped, as Linux does
  del     remove MAC's entry, static or learned (with dst IP: only if it
          points there); a learned MAC comes back with its next frame

Options:
  --vni N              the entry's VNI (default: the weft's VNI)
  --json               show: the entries as JSON
${TARGET_HELP}
  -h, --help           this text

Changes last until weft stops; for entries that survive a restart use
weft run --static MAC=IP.

Exit status: 0 done, 1 no weft running there or it refused (the reason in
one line), 2 bad usage.`;

export async function fdbCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { ...TARGET_OPTIONS, vni: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(FDB_HELP + '\n');
    return 0;
  }
  const [sub, mac, kw, ip, ...extra] = positionals;
  const target = resolveTarget(values);
  const vni = values.vni !== undefined ? parseVni(values.vni) : undefined;
  if (sub === 'show' || sub === undefined) {
    if (positionals.length > 1) throw new UsageError(`fdb show: unexpected argument '${positionals[1]}'`);
    const r = await ask(target, { cmd: 'fdb-show' }) as FdbShowResult;
    if (vni !== undefined) r.entries = r.entries.filter((e) => e.vni === vni);
    const text = values.json ? JSON.stringify(r.entries) : formatFdb(r);
    if (text) process.stdout.write(text + '\n');
    return 0;
  }
  if (sub !== 'add' && sub !== 'del') throw new UsageError(`fdb: '${sub}' is not show, add or del (weft fdb --help)`);
  if (values.json) throw new UsageError(`fdb ${sub}: --json is for show`);
  if (mac === undefined) throw new UsageError(`fdb ${sub}: give a MAC: weft fdb ${sub} MAC dst IP`);
  if (extra.length || (kw !== undefined && kw !== 'dst')) throw new UsageError(`fdb ${sub}: expected 'MAC dst IP', got '${positionals.slice(1).join(' ')}'`);
  if (kw === 'dst' && ip === undefined) throw new UsageError(`fdb ${sub}: 'dst' needs an IP`);
  if (sub === 'add') {
    if (ip === undefined) throw new UsageError('fdb add: give the VTEP: weft fdb add MAC dst IP');
    const r = await ask(target, { cmd: 'fdb-add', mac, dst: ip, vni }) as { added: FdbEntry; replaced: FdbEntry | null };
    const rep = r.replaced ? ` (was ${r.replaced.state} dst ${r.replaced.dst})` : '';
    process.stdout.write(`added ${r.added.mac} dst ${r.added.dst} vni ${r.added.vni} static${rep}\n`);
    return 0;
  }
  const r = await ask(target, { cmd: 'fdb-del', mac, dst: ip, vni }) as { removed: FdbEntry };
  process.stdout.write(`removed ${r.removed.mac} dst ${r.removed.dst} vni ${r.removed.vni} ${r.removed.state}\n`);
  return 0;
}
