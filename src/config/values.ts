// Parsers for the values users type: each returns the value or throws a
// UsageError that names the option, what was given and what is allowed.

import { isIP } from 'node:net';
import { UsageError } from './errors.js';
import { VNI_MAX, VXLAN_PORT_LINUX } from '../wire/vxlan.js';
import { isMulticastMac, parseMac } from '../wire/mac.js';

export function parseIntIn(option: string, s: string, min: number, max: number): number {
  if (!/^\d+$/.test(s.trim())) throw new UsageError(`${option}: '${s}' is not a whole number (allowed: ${min}–${max})`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${option}: ${n} is out of range (allowed: ${min}–${max})`);
  return n;
}

export function parseVni(s: string, option = '--vni'): number {
  return parseIntIn(option, s, 0, VNI_MAX);
}

export function parsePort(s: string, option = '--port'): number {
  return parseIntIn(option, s, 1, 65535);
}

export const DEFAULT_PORT = VXLAN_PORT_LINUX;

export function parseIp(s: string, option: string): { ip: string; family: 4 | 6 } {
  const fam = isIP(s);
  if (fam === 0) throw new UsageError(`${option}: '${s}' is not an IPv4 or IPv6 address`);
  return { ip: s, family: fam as 4 | 6 };
}

/** `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address. */
export function parseIpPort(s: string, option: string, defaultPort: number): { ip: string; port: number; family: 4 | 6 } {
  let m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (m) return { ...parseIp(m[1], option), port: m[2] ? parsePort(m[2], option) : defaultPort };
  if (isIP(s) === 6) return { ip: s, family: 6, port: defaultPort };
  m = /^([^:]+):(\d+)$/.exec(s);
  if (m) return { ...parseIp(m[1], option), port: parsePort(m[2], option) };
  return { ...parseIp(s, option), port: defaultPort };
}

export function parseMacOpt(s: string, option: string): number {
  try {
    return parseMac(s);
  } catch {
    throw new UsageError(`${option}: '${s}' is not a MAC address (like 02:00:0a:f4:01:01)`);
  }
}

/** `MAC=IP` for static forwarding entries. */
export function parseStatic(s: string, option = '--static'): { mac: number; ip: string; family: 4 | 6 } {
  const eq = s.indexOf('=');
  if (eq < 0) throw new UsageError(`${option}: '${s}' should be MAC=IP (like 02:00:0a:f4:02:01=198.18.0.2)`);
  const mac = parseMacOpt(s.slice(0, eq), option);
  if (isMulticastMac(mac)) {
    throw new UsageError(`${option}: ${s.slice(0, eq)} is a multicast MAC; static entries are for unicast MACs`);
  }
  return { mac, ...parseIp(s.slice(eq + 1), option) };
}
