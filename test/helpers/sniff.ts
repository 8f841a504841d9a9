// tcpdump in a rig host, for tests that look at what went over a link:
// started listening before the traffic, stopped (SIGINT) for its lines.

import { waitFor, type Proc, type Rig } from './rig.js';

/** Starts tcpdump in host h printing one line per packet; resolves once it listens. */
export async function sniff(rig: Rig, h: number, args: string[]): Promise<Proc> {
  const p = rig.spawn(h, ['tcpdump', '-nn', '-l', '-v', ...args]);
  await waitFor(() => /listening on/.test(p.stderr()), 5000, 'tcpdump');
  return p;
}

/** Stops a sniff and returns what it printed. */
export async function sniffed(p: Proc): Promise<string> {
  process.kill(p.pid, 'SIGINT');
  await p.exited;
  return p.stdout();
}

/** Source ports of `from`'s datagrams to `to`:8472 in tcpdump's lines, and how many each. */
export function sourcePorts(out: string, from: string, to: string): Map<number, number> {
  const ports = new Map<number, number>();
  const re = new RegExp(`${from.replaceAll('.', '\\.')}\\.(\\d+) > ${to.replaceAll('.', '\\.')}\\.8472`, 'g');
  for (const m of out.matchAll(re)) ports.set(Number(m[1]), (ports.get(Number(m[1])) ?? 0) + 1);
  return ports;
}
