// When the kernel's routes and neighbour entries for lease subnets came and
// went, as `ip monitor route neigh` reports them in a host's namespace: the
// way the scale runs (the live test control-scale, `npm run bench -- --only
// scale`) time convergence without polling a 10,000-line table while weft
// programs it. Each line is stamped when it arrives; `settled` answers the
// time of the last step of every change asked about (for an added lease its
// route, which weft programs last; for a removed one its neighbour, removed
// last).

import type { ChildProcess } from 'node:child_process';

/** A started `ip monitor route neigh` in the host to watch. */
export interface Monitor { child: ChildProcess; pid: number; exited: Promise<unknown> }

/** A lease subnet (/24) as `ip monitor` names it: the route's prefix, or the neighbour's address (the subnet's network address). */
const SUBNET = /^\d+\.\d+\.\d+\.0\/24$/;

export class KernelEvents {
  readonly routeAdded = new Map<string, number>();
  readonly neighDeleted = new Map<string, number>();
  /** Every subnet whose route or neighbour was added or removed, and how many times. */
  readonly touched = new Map<string, number>();
  private rest = '';

  constructor(private readonly p: Monitor) {
    p.child.stdout!.on('data', (d: Buffer) => {
      const now = Date.now();
      const lines = (this.rest + d.toString()).split('\n');
      this.rest = lines.pop()!;
      for (const l of lines) this.take(l, now);
    });
  }

  private take(line: string, now: number): void {
    const deleted = line.startsWith('Deleted ');
    const first = (deleted ? line.slice(8) : line).split(' ')[0];
    const route = first.includes('/');
    const subnet = route ? first : `${first}/24`;
    if (!SUBNET.test(subnet)) return;
    this.touched.set(subnet, (this.touched.get(subnet) ?? 0) + 1);
    if (route && !deleted) this.routeAdded.set(subnet, now);
    if (!route && deleted) this.neighDeleted.set(subnet, now);
  }

  /** Whether every added subnet's route came and every removed subnet's neighbour went. */
  done(added: string[], removed: string[]): boolean {
    return added.every((x) => this.routeAdded.has(x)) && removed.every((x) => this.neighDeleted.has(x));
  }

  /** When the last of them happened (epoch ms); call once done(). */
  lastMs(added: string[], removed: string[]): number {
    return Math.max(...added.map((x) => this.routeAdded.get(x)!), ...removed.map((x) => this.neighDeleted.get(x)!));
  }

  async stop(): Promise<void> {
    try { process.kill(this.p.pid, 'SIGTERM'); } catch { /* gone */ }
    await this.p.exited;
  }
}
