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
 * CPU seconds the process has used so far in user mode (utime) and in the
 * kernel (stime). For a PID that is a thread-group leader these fields are
 * the sum over all its threads (proc(5)), so worker threads are included.
 */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces and parentheses: fields 3… follow the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[14 - 3]) / clockTicks(), system: Number(f[15 - 3]) / clockTicks() };
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** Peak resident set size in bytes (VmHWM in /proc/<pid>/status). */
export function peakRssBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
