// What a process costs, from /proc: CPU time (user + system, all threads)
// and peak resident memory. PIDs are global, so this works from the root
// namespace for processes inside the rig's namespaces.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond = 0;

/** CLK_TCK, the unit of utime/stime in /proc/<pid>/stat (100 on Linux almost everywhere). */
function clockTicks(): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU seconds (utime + stime) the process has used so far. For a PID that
 * is a thread-group leader these fields are the sum over all its threads
 * (proc(5)), so worker threads are included.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces and parentheses: fields 3… follow the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[14 - 3]), stime = Number(f[15 - 3]);
  return (utime + stime) / clockTicks();
}

/** Peak resident set size in bytes (VmHWM in /proc/<pid>/status). */
export function peakRssBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
