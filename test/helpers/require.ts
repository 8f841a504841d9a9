// Tests that need a tool or root say so and fail; they never skip quietly
// under CI. Outside CI a missing tool is still a failure with the install
// line, so nobody mistakes a partial run for a full one.
import { execFileSync } from 'node:child_process';

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws (failing the test) with the install hint when `cmd` is missing. */
export function requireTool(cmd: string, debianPackage: string): void {
  if (!have(cmd)) throw new Error(`this test needs '${cmd}': install it with: apt-get install -y ${debianPackage}`);
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (network namespaces, TAP devices): run the test command with sudo');
}
