// subnet.env: how flanneld tells the rest of the host (CNI's flannel plugin,
// docker's bip) what it got. weft writes the same file, the same way:
//
//   FLANNEL_NETWORK=10.244.0.0/16
//   FLANNEL_SUBNET=10.244.1.1/24     ← the subnet's first usable address, as flannel writes it
//   FLANNEL_IPV6_NETWORK=fd00:244::/48        ← these two only with EnableIPv6
//   FLANNEL_IPV6_SUBNET=fd00:244:0:1::1/64
//   FLANNEL_MTU=1430
//   FLANNEL_IPMASQ=false
//
// (flannel's WriteSubnetFile, pkg/subnet/subnet.go: the IPv4 pair only with
// EnableIPv4, the IPv6 pair only with EnableIPv6, in this order), and reads
// FLANNEL_SUBNET and FLANNEL_IPV6_SUBNET back at start-up to ask for the same
// subnets again.
// Written to a temporary file and renamed, so a reader never sees half of it.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError } from '../config/errors.js';
import { formatSubnet, NO_V4, parseCidr4, subnetOf, type Subnet } from './ip4.js';
import { formatIpv6, formatSubnet6, mask6, parseCidr6 } from './ip6.js';
import { numberToIpv4 } from '../wire/ipv4.js';
import type { NetConf } from './net-conf.js';

export function subnetEnv(conf: Pick<NetConf, 'ipv4' | 'network' | 'ipv6'>, subnet: Subnet, mtu: number, ipMasq: boolean): string {
  const lines: string[] = [];
  if (conf.ipv4) lines.push(`FLANNEL_NETWORK=${formatSubnet(conf.network)}`, `FLANNEL_SUBNET=${numberToIpv4(subnet.ip + 1)}/${subnet.len}`);
  if (conf.ipv6 && subnet.v6) {
    lines.push(`FLANNEL_IPV6_NETWORK=${formatSubnet6(conf.ipv6.network)}`, `FLANNEL_IPV6_SUBNET=${formatIpv6(subnet.v6.ip + 1n)}/${subnet.v6.len}`);
  }
  lines.push(`FLANNEL_MTU=${mtu}`, `FLANNEL_IPMASQ=${ipMasq}`, '');
  return lines.join('\n');
}

export function writeSubnetEnv(path: string, text: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    throw new RuntimeError(`--subnet-file ${path}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * The subnets in an existing subnet file (the IPv6 one in `v6`; an
 * IPv6-only file gives 0.0.0.0/0 with `v6`), or null (no file, neither
 * FLANNEL_SUBNET nor FLANNEL_IPV6_SUBNET, or unparsable).
 */
export function readPreviousSubnet(path: string): Subnet | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const m = /^FLANNEL_SUBNET=(\S+)$/m.exec(text);
  const c = m ? parseCidr4(m[1]) : null;
  const m6 = /^FLANNEL_IPV6_SUBNET=(\S+)$/m.exec(text);
  const c6 = m6 ? parseCidr6(m6[1]) : null;
  if (!c && !c6) return null;
  const v4 = c ? subnetOf(c.ip, c.len) : NO_V4;
  return c6 ? { ...v4, v6: { ip: c6.ip & mask6(c6.len), len: c6.len } } : v4;
}
