// What a process the test started costs, read from /proc (the rig's hosts
// are network namespaces, not PID namespaces, so their processes are
// visible here), and whether a weft's counters add up.

import { readFileSync } from 'node:fs';
import { COUNTER_NAMES } from '../../src/datapath/counters.js';

/** VmRSS and VmHWM (peak RSS) of `pid`, in KiB. */
export function memory(pid: number): { rssKiB: number; hwmKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

const TICK_MS = 10; // USER_HZ is 100 on every Linux architecture weft runs on

/** User + system CPU time `pid` has used, in ms; NaN once it is gone. */
export function cpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/**
 * The counter identities of one weft (datapath/counters.ts), as a list of
 * the ones that do not hold (empty when all do):
 *
 *   TAP → wire:  tx_frames     = tx_unicast + tx_flooded + every tx_drop_* but tx_drop_socket
 *                tx_datagrams  = tx_unicast + tx_flood_copies
 *   wire → TAP:  rx_datagrams  = rx_frames + every rx_drop_* but rx_drop_tap
 *
 * Drops decided after a frame was counted out (the socket refused the
 * datagram: tx_drop_socket; the TAP refused the frame: rx_drop_tap) are
 * parts of the "out" side, so they are left out of the sums. Counter names
 * are read from the data path's list, so a drop reason added later is
 * summed too.
 */
export function counterImbalances(c: Record<string, number>): string[] {
  const sum = (prefix: string, except: string) => COUNTER_NAMES
    .filter((n) => n.startsWith(prefix) && n !== except)
    .reduce((a, n) => a + (c[n] ?? 0), 0);
  const bad: string[] = [];
  const txDrops = sum('tx_drop_', 'tx_drop_socket');
  if (c.tx_frames !== c.tx_unicast + c.tx_flooded + txDrops) {
    bad.push(`tx_frames ${c.tx_frames} ≠ tx_unicast ${c.tx_unicast} + tx_flooded ${c.tx_flooded} + drops ${txDrops}`);
  }
  if (c.tx_datagrams !== c.tx_unicast + c.tx_flood_copies) {
    bad.push(`tx_datagrams ${c.tx_datagrams} ≠ tx_unicast ${c.tx_unicast} + tx_flood_copies ${c.tx_flood_copies}`);
  }
  const rxDrops = sum('rx_drop_', 'rx_drop_tap');
  if (c.rx_datagrams !== c.rx_frames + rxDrops) {
    bad.push(`rx_datagrams ${c.rx_datagrams} ≠ rx_frames ${c.rx_frames} + drops ${rxDrops}`);
  }
  return bad;
}
