// `weft run`'s options for operating it: the metrics endpoint, the log, and
// the control socket. Like the control-plane options they have their own
// file, flags and --config keys, so run-config.ts only spreads them in.

import { isIP } from 'node:net';
import { UsageError } from './errors.js';
import { parseIntIn } from './values.js';
import { LOG_LEVELS, type LogFormat } from '../log/logger.js';
import type { LevelWithSilent } from 'pino';

export interface OpsInput {
  metrics?: string; 'log-format'?: string; 'log-level'?: string; 'control-socket'?: string;
}

/** parseArgs options for these flags. */
export const OPS_OPTIONS = {
  metrics: { type: 'string' }, 'log-format': { type: 'string' }, 'log-level': { type: 'string' },
  'control-socket': { type: 'string' },
} as const;

/** The same names in a --config JSON file. */
export const OPS_FILE_KEYS: Record<string, 'string'> = {
  metrics: 'string', 'log-format': 'string', 'log-level': 'string', 'control-socket': 'string',
};

export const OPS_HELP = `Operating it:
  --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics,
                       and /healthz (TAP and socket open) and /readyz (also:
                       lease held and peers programmed, with a lease store);
                       off by default. Use a loopback or management address,
                       e.g. 127.0.0.1:9108 or [::1]:9108
  --log-format F       json (default) or pretty (the default on a terminal)
  --log-level L        fatal, error, warn, info (default), debug (adds MAC
                       moves), trace or silent
  --control-socket P   the unix socket 'weft fdb', 'weft peers', 'weft stats'
                       and 'weft capture' talk to (default /run/weft/TAP.sock;
                       in a named network namespace /run/weft/netns/NS/TAP.sock);
                       mode 0600, removed at exit`;

export interface OpsConfig {
  metrics: { host: string; port: number } | null;
  /** null: decide by whether stderr is a terminal. */
  logFormat: LogFormat | null;
  logLevel: LevelWithSilent;
  /** null: the default path for the TAP (admin/paths.ts). */
  controlSocket: string | null;
}

/** `IP:PORT` or `[IPv6]:PORT`; port 0 picks a free one. */
export function parseListenAddr(s: string, option = '--metrics'): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m || isIP(m[1]) === 0) throw new UsageError(`${option}: '${s}' should be ADDR:PORT, like 127.0.0.1:9108 or [::1]:9108`);
  return { host: m[1], port: parseIntIn(`${option} port`, m[2], 0, 65535) };
}

export function resolveOpsConfig(input: OpsInput): OpsConfig {
  const f = input['log-format'];
  if (f !== undefined && f !== 'json' && f !== 'pretty') throw new UsageError(`--log-format: '${f}' is not json or pretty`);
  const l = input['log-level'];
  if (l !== undefined && !LOG_LEVELS.includes(l as LevelWithSilent)) {
    throw new UsageError(`--log-level: '${l}' is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const sock = input['control-socket'];
  if (sock !== undefined && !sock.startsWith('/')) throw new UsageError(`--control-socket: '${sock}' should be an absolute path`);
  return {
    metrics: input.metrics !== undefined ? parseListenAddr(input.metrics) : null,
    logFormat: (f as LogFormat | undefined) ?? null,
    logLevel: (l as LevelWithSilent | undefined) ?? 'info',
    controlSocket: sock ?? null,
  };
}
