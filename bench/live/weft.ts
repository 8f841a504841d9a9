// One weft of the live benchmarks' two-host pair: `weft run` in host i
// towards host j (VNI 1, UDP 8472, weft0 at 10.244.0.i/24), tracked by the
// rig like every other process. Node flags (a profiler's) go before the
// script, so the profile is weft's own.

import { WEFT, waitFor, type Proc, type Rig } from './rig.js';

export const weftOverlay = (i: number) => `10.244.0.${i}`;
export const underlay = (i: number) => `198.18.0.${i}`;

export function tail(s: string, lines = 5): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Starts weft in host i, peered with host j; resolves once it listens, throws
 * with its last words if it exits first. `weft`: another build's
 * dist/src/cli/main.js (an A/B against an older checkout).
 */
export async function startWeft(rig: Rig, i: number, j: number, nodeFlags: string[] = [], weft = WEFT): Promise<Proc> {
  const p = rig.spawn(i, [process.execPath, ...nodeFlags, weft, 'run', '--local', underlay(i), '--peer', underlay(j),
    '--address', `${weftOverlay(i)}/24`, '--tap', 'weft0', '--vni', '1', '--port', '8472']);
  await waitFor(() => /listening on/.test(p.stderr()) || !p.running(), 15_000, `weft to start in ${rig.ns(i)}`);
  if (!p.running()) throw new Error(`weft in ${rig.ns(i)} exited at start:\n${tail(p.stderr())}`);
  return p;
}
