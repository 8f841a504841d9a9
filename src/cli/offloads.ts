// What `weft run` says about offloads once forwarding runs, for the VXLAN
// daemon (run.ts) and the udp backend's (run-udp.ts) alike: the word in the
// start line, and the one warning naming what the kernel refused.

import type { Logger } from '../log/logger.js';

/** What the device (TAP or TUN) and the socket were granted. */
export interface Granted { tso: boolean; uso: boolean; gso: boolean; gro: boolean }

/** "tso+uso+gso+gro", or the part granted, or "off". */
export function offloadWord(g: Granted): string {
  return [g.tso ? 'tso' : '', g.uso ? 'uso' : '', g.gso ? 'gso' : '', g.gro ? 'gro' : ''].filter(Boolean).join('+') || 'off';
}

/**
 * Warns once about kernel features asked for but missing; weft carries on
 * without them. `device` names the device (TAP, TUN); `capped` whether its
 * GSO segment limit (`segs`) could be set.
 */
export function warnMissingOffloads(log: Logger, device: string, g: Granted, capped: boolean, segs: number): void {
  const missing = [g.tso ? '' : `TSO on the ${device} (TUNSETOFFLOAD)`, g.gso ? '' : 'UDP GSO (UDP_SEGMENT)', g.gro ? '' : 'UDP GRO (UDP_GRO)',
    capped ? '' : `a GSO segment limit on the ${device} (ip link set gso_max_segs ${segs})`].filter(Boolean);
  if (missing.length) log.warn(`this kernel lacks ${missing.join(', ')}: falling back to one packet per system call there`);
}
