// flannel's routeCheck (pkg/backend/route_network.go): every ROUTE_CHECK_MS
// the control plane hands this the direct routes it owns (reconcile.ts,
// ownedRoutes); it reads the kernel's table, one dump per family that has
// a direct route, and puts back each owned route someone removed, all in
// one `ip` batch. Each put back is said and counted; one the kernel
// refuses is said once and tried again at every check. The control plane
// runs it in the same queue as lease changes, so no change is half done
// meanwhile and a route removed with its lease is no longer owned.
//
// Cost: one `ip -j route show` per family and one pass over each list
// (segment.ts, missingRoutes), not one process per route; at 10,000 routes
// about 70–90 ms in `ip` and 10–30 ms on weft's main thread per check.

import { ROUTE_CHECK_MS } from './defaults.js';
import type { HostOps } from './reconcile.js';
import { directRouteCmds, missingRoutes, type DirectRoute, type ShownRoute } from './segment.js';

/**
 * Routes named one by one in one check, of those put back and of those
 * that could not be; past that, one line says how many more (a link that
 * bounced can take every IPv6 route with it).
 */
const ROUTE_LINES_MAX = 20;

export class RouteCheck {
  /** Checks done, and direct routes found missing and put back, since start. */
  checks = 0;
  restored = 0;
  /** Missing routes that could not be put back, by command: said once until they can (or are no longer ours). */
  private unrestorable = new Set<string>();
  /** The last check could not read the table: said once until one can. */
  private dumpFailed = false;

  constructor(private readonly ops: HostOps, private readonly log: (line: string) => void) {}

  /** One check of `owned` (nothing to do, and no dump, when empty or the host has no kernel table to read). */
  async run(owned: readonly DirectRoute[]): Promise<void> {
    if (owned.length === 0 || !this.ops.routeTable) return;
    let shown: ShownRoute[];
    try {
      const families = [...new Set(owned.map((r) => (r.dst.includes(':') ? 6 : 4) as 4 | 6))];
      shown = (await Promise.all(families.map((f) => this.ops.routeTable!(f)))).flat();
    } catch (e) {
      if (!this.dumpFailed) this.log(`weft: route check: cannot read the routing table (${(e as Error).message}); trying again every ${ROUTE_CHECK_MS / 1000} s`);
      this.dumpFailed = true;
      return;
    }
    this.dumpFailed = false;
    this.checks++;
    const missing = missingRoutes(owned, shown);
    const cmds = missing.map((r) => directRouteCmds(r).add);
    const failures = cmds.length ? await this.ops.ip(cmds) : [];
    const failed = new Map(failures.map((f) => [f.cmd, f.error]));
    // A failure `ip` did not tie to a line leaves every line in doubt.
    const asked = new Set(cmds);
    const unsure = failures.find((f) => !asked.has(f.cmd))?.error;
    const still = new Set<string>();
    let put = 0, stuck = 0;
    missing.forEach((r, i) => {
      const error = unsure ?? failed.get(cmds[i]);
      const what = `route ${r.dst} via ${r.via} dev ${r.dev}`;
      if (error === undefined) {
        this.restored++;
        if (++put <= ROUTE_LINES_MAX) this.log(`weft: ${what} was missing from the kernel: put back (weft_direct_routes_restored_total)`);
        return;
      }
      still.add(cmds[i]);
      if (!this.unrestorable.has(cmds[i]) && ++stuck <= ROUTE_LINES_MAX) {
        this.log(`weft: ${what} is missing from the kernel and could not be put back: ${error}; trying again every ${ROUTE_CHECK_MS / 1000} s`);
      }
    });
    if (put > ROUTE_LINES_MAX) this.log(`weft: and ${put - ROUTE_LINES_MAX} more direct routes were missing from the kernel: put back (weft_direct_routes_restored_total)`);
    if (stuck > ROUTE_LINES_MAX) this.log(`weft: and ${stuck - ROUTE_LINES_MAX} more direct routes are missing and could not be put back; trying again every ${ROUTE_CHECK_MS / 1000} s`);
    this.unrestorable = still;
  }
}
