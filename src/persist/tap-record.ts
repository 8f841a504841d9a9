// What a TAP has been through, kept beside its control socket
// (/run/weft/TAP.tap.json, or under the namespace's directory) so the count
// survives the processes: how many handovers and how many crash-reattaches
// (a weft that found the TAP left by one that did not stop). `weft stats`
// and /metrics show it. The file goes when the TAP goes (a clean stop,
// `weft down`); a missing or unreadable one counts from zero.

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

export interface TapRecord {
  handovers: number;
  crashReattaches: number;
  /** True when the last weft stopped and left the TAP on purpose (--keep-tap): finding it then is no crash. */
  kept: boolean;
}

/** The record's path for a control socket path. */
export function recordPath(socketPath: string): string {
  return `${socketPath.replace(/\.sock$/, '')}.tap.json`;
}

export function readRecord(path: string): TapRecord {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<TapRecord>;
    const n = (x: unknown) => (Number.isInteger(x) && (x as number) >= 0 ? x as number : 0);
    return { handovers: n(o.handovers), crashReattaches: n(o.crashReattaches), kept: o.kept === true };
  } catch {
    return { handovers: 0, crashReattaches: 0, kept: false };
  }
}

/** Writes the record whole (a rename), so a crash mid-write leaves the old one. Best effort: the counts are for display. */
export function writeRecord(path: string, r: TapRecord): void {
  try {
    writeFileSync(`${path}.tmp`, JSON.stringify(r) + '\n', { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch { /* the run directory is gone or read-only: nothing to keep */ }
}

export function removeRecord(path: string): void {
  try { unlinkSync(path); } catch { /* none */ }
}
