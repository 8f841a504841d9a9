// `weft peers`: the flood list, the VTEPs a running weft knows, and its leases.

import { parseArgs } from 'node:util';
import { UsageError } from '../config/errors.js';
import { ask, resolveTarget, TARGET_HELP, TARGET_OPTIONS } from '../admin/client.js';
import { formatPeers } from '../admin/format.js';
import type { PeersResult } from '../admin/commands.js';

export const PEERS_HELP = `Usage: weft peers [--json]

The remote VTEPs of a running weft, one per line:

  vni N port P flood IP:PORT …   the flood list: where broadcast, multicast
                                 and unknown-unicast frames go (the Linux
                                 vxlan device's 00:00:00:00:00:00 entries)
  vtep IP port P [flood] macs N [static S]
                                 each VTEP weft knows, and how many
                                 forwarding entries point at it
  lease SUBNET public-ip IP vtep-mac MAC …
                                 with a lease store: our lease (marked
                                 'ours', with the store and whether it is
                                 reachable), then every other host's
                                 programmed here, then those a full
                                 table left out or that are not valid
                                 (control-plane.md), marked 'REFUSED REASON'
                                 (peer_table_full: raise --peer-capacity;
                                 fdb_full: raise --fdb-max; invalid: why,
                                 fix the lease); they are taken when a
                                 removal makes room or a write fixes them

Options:
  --json               the same as JSON
${TARGET_HELP}
  -h, --help           this text

Exit status: 0 done, 1 no weft running there, 2 bad usage.`;

export async function peersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { ...TARGET_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(PEERS_HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`peers: unexpected argument '${positionals[0]}'`);
  const r = await ask(resolveTarget(values), { cmd: 'peers' }) as PeersResult;
  const text = values.json ? JSON.stringify(r) : formatPeers(r);
  if (text) process.stdout.write(text + '\n');
  return 0;
}
