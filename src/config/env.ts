// `weft run`'s options from the environment, as flanneld reads its own:
// every flag `--some-flag` may also be set as WEFT_SOME_FLAG, and each flag
// weft shares with flanneld as FLANNELD_SOME_FLAG too (flanneld's rule: the
// prefix, the name upper-cased, dashes to underscores), so a unit file or
// manifest written for flanneld works unchanged.
//
// Precedence, highest first: a flag on the command line, WEFT_*, FLANNELD_*,
// the --config file. An empty variable counts as unset (flanneld's rule too),
// so `FLANNELD_IFACE=` in a unit file changes nothing. Variables with other
// names are none of weft's business and are left alone.
//
// A value that does not parse is refused like a flag's, and the line names
// the variable it came from (`attributeUsageError`), not only the flag.

import { UsageError } from './errors.js';

/** The flags weft has that flanneld has too, by flanneld's name: the ones FLANNELD_* sets. */
export const FLANNELD_FLAGS = [
  'etcd-endpoints', 'etcd-prefix', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile', 'etcd-username', 'etcd-password',
  'iface', 'public-ip', 'subnet-file', 'subnet-lease-renew-margin', 'net-config-path',
] as const;

/** A flag's shape, as node:util parseArgs declares it. */
export interface FlagShape { type: 'string' | 'boolean'; multiple?: boolean }

/** `etcd-cafile` → `FLANNELD_ETCD_CAFILE`. */
export function envName(prefix: 'WEFT' | 'FLANNELD', flag: string): string {
  return `${prefix}_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The options the environment sets, flag-shaped (strings; booleans as
 * booleans; a repeatable flag's values comma-separated), and for each the
 * variable it came from. `flags` is every flag `weft run` takes.
 */
export function envInput(env: NodeJS.ProcessEnv, flags: Record<string, FlagShape>): { input: Record<string, unknown>; from: Map<string, string> } {
  const input: Record<string, unknown> = {};
  const from = new Map<string, string>();
  const flanneld = new Set<string>(FLANNELD_FLAGS);
  for (const [flag, shape] of Object.entries(flags)) {
    if (flag === 'help') continue;
    // WEFT_* is weft's own name for it, so it wins over flanneld's.
    const names = [envName('WEFT', flag), ...(flanneld.has(flag) ? [envName('FLANNELD', flag)] : [])];
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    if (name === undefined) continue;
    const raw = env[name]!;
    from.set(flag, name);
    if (shape.type === 'boolean') input[flag] = parseBool(name, raw);
    else if (shape.multiple) input[flag] = raw.split(',').map((s) => s.trim()).filter(Boolean);
    else input[flag] = raw;
  }
  return { input, from };
}

function parseBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (v === '1' || v === 'true' || v === 'yes') return true;
  if (v === '0' || v === 'false' || v === 'no') return false;
  throw new UsageError(`${name}: '${raw}' is not true or false (1/0, true/false, yes/no)`);
}

/**
 * A UsageError about `--flag` whose value came from the environment, reworded
 * to name the variable: `--etcd-prefix: …` → `FLANNELD_ETCD_PREFIX (--etcd-prefix): …`.
 * Anything else is returned as it is.
 */
export function attributeUsageError(e: unknown, from: Map<string, string>): unknown {
  if (!(e instanceof UsageError)) return e;
  for (const [flag, name] of from) {
    const head = `--${flag}`;
    const next = e.message.charAt(head.length);
    if (e.message.startsWith(head) && (next === ':' || next === ' ')) return new UsageError(`${name} (${head})${e.message.slice(head.length)}`);
  }
  return e;
}
