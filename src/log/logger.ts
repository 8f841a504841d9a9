// weft's log: pino, one JSON object per line on stderr by default (what
// journald, Loki and jq want), or human-readable lines (pino-pretty) on a
// terminal or with --log-format pretty. Both write synchronously: there are
// few lines (state changes, never one per packet), and a line written just
// before exit must not be lost.
//
// Lines from parts that log plain text (the control plane passes a
// `(line) => void`) go through lineLogger, which drops their "weft: " prefix
// and picks the level from what the line says.

import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { RateLimiter } from './rate-limit.js';

export type { Logger };
export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerOptions {
  /** null: pretty when stderr is a terminal, else JSON. */
  format: LogFormat | null;
  level: LevelWithSilent;
  /** Where lines go (default stderr, fd 2); for tests. */
  dest?: NodeJS.WritableStream;
}

export function createLogger(o: LoggerOptions): Logger {
  const tty = o.dest === undefined && process.stderr.isTTY === true;
  const format = o.format ?? (tty ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pino({ level: o.level, name: 'weft' }, pretty({
      destination: o.dest ?? 2, sync: true, colorize: tty, singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name',
    }));
  }
  return pino({
    level: o.level,
    name: 'weft',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names, not numbers: readable with grep and jq.
    formatters: { level: (label) => ({ level: label }) },
  }, o.dest ?? pino.destination({ dest: 2, sync: true }));
}

// Control-plane lines that report trouble; everything else is a state change (info).
const WARN_LINES = [/unreachable/, /could not/, /^ignoring /, /^ip .*: /, /^deleting our old lease/];

/**
 * A `(line) => void` for code that logs plain "weft: …" lines. Warnings
 * repeated with the same text within a minute are held back and counted.
 */
export function lineLogger(log: Logger, nowMs: () => number = Date.now): (line: string) => void {
  const limiter = new RateLimiter(60_000);
  return (line: string) => {
    const msg = line.startsWith('weft: ') ? line.slice(6) : line;
    if (!WARN_LINES.some((re) => re.test(msg))) {
      log.info(msg);
      return;
    }
    const held = limiter.allow(msg, nowMs());
    if (held < 0) return;
    if (held > 0) log.warn({ repeated: held }, msg);
    else log.warn(msg);
  };
}
