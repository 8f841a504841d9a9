// --src-port-range: the UDP source ports weft's datagrams leave from, one
// per inner flow (RFC 7348 §5; io/src-ports.ts says how they are sent).
// Linux's vxlan device takes its `srcport MIN MAX`, and without it the
// namespace's local port range (net.ipv4.ip_local_port_range), so the
// default here is read from the same place, once, at start.

import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { parseIntIn } from './values.js';
import { SRC_PORT_MIN, SRC_PORT_MAX } from '../datapath/flowhash.js';

export interface PortRange { min: number; max: number }

const LOCAL_PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';

/** `MIN-MAX`, 1 ≤ MIN ≤ MAX ≤ 65535. */
export function parseSrcPortRange(s: string, option = '--src-port-range'): PortRange {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(s);
  if (!m) throw new UsageError(`${option}: '${s}' is not a range; give MIN-MAX, e.g. 32768-60999`);
  const min = parseIntIn(option, m[1], 1, 65535), max = parseIntIn(option, m[2], 1, 65535);
  if (min > max) throw new UsageError(`${option}: ${min} is above ${max}; give the lower port first`);
  return { min, max };
}

/** The two numbers of ip_local_port_range's text ("32768\t60999\n"); null when it does not hold them. */
export function parseLocalPortRange(text: string): PortRange | null {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return null;
  const min = Number(m[1]), max = Number(m[2]);
  return min >= 1 && min <= max && max <= 65535 ? { min, max } : null;
}

/** This network namespace's local port range, as the kernel's vxlan device uses it; Linux's default when unreadable. */
export function localPortRange(path = LOCAL_PORT_RANGE): PortRange {
  try {
    return parseLocalPortRange(readFileSync(path, 'utf8')) ?? { min: SRC_PORT_MIN, max: SRC_PORT_MAX };
  } catch {
    return { min: SRC_PORT_MIN, max: SRC_PORT_MAX };
  }
}

/**
 * The range weft sends from: the one given, else the namespace's. A range
 * of only the VXLAN port itself means one source port for all (undefined:
 * no per-flow sockets), as weft did before it had them.
 */
export function sourcePortsFor(given: PortRange | null, port: number): PortRange | undefined {
  const r = given ?? localPortRange();
  return r.min === port && r.max === port ? undefined : r;
}
