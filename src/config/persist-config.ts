// `weft run`'s options for outliving the process: keeping the TAP at exit,
// and taking over from a running weft. Like the ops options they have their
// own file, flags and --config key, so run-config.ts only spreads them in.

export interface PersistInput { takeover?: boolean; 'keep-tap'?: boolean }

/** parseArgs options for these flags. */
export const PERSIST_OPTIONS = { takeover: { type: 'boolean' }, 'keep-tap': { type: 'boolean' } } as const;

/** In a --config file: keep-tap only (a takeover is one invocation's business, not the configuration's). */
export const PERSIST_FILE_KEYS: Record<string, 'boolean'> = { 'keep-tap': 'boolean' };

export const PERSIST_HELP = `Restarts and upgrades (docs/operating.md, "Restarts and upgrades"):
  --takeover           take over from the weft running on this TAP: its TAP
                       and UDP socket pass to this process with the
                       forwarding table, counters and lease, and it exits 0
                       once this one forwards; no queued packet is lost. Use
                       the same arguments. Nothing running: starts normally.
                       A failed handover leaves the running weft forwarding
                       and exits 1. The vxlan backend only (with udp or
                       host-gw it is refused: stop the running weft first)
  --keep-tap           at SIGINT/SIGTERM leave the TAP (with its addresses,
                       routes and neighbours) for the next weft to reattach;
                       by default it is removed. A weft that is killed or
                       crashes always leaves it; 'weft down' removes it`;

export interface PersistConfig { takeover: boolean; keepTap: boolean }

export function resolvePersistConfig(input: PersistInput): PersistConfig {
  return { takeover: input.takeover === true, keepTap: input['keep-tap'] === true };
}
