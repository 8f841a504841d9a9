// subnet.env: how flanneld tells the rest of the host (CNI's flannel plugin,
// docker's bip) what it got. weft writes the same file, the same way:
//
//   FLANNEL_NETWORK=10.244.0.0/16
//   FLANNEL_SUBNET=10.244.1.1/24     ← the subnet's first usable address, as flannel writes it
//   FLANNEL_MTU=1450
//   FLANNEL_IPMASQ=false
//
// and reads FLANNEL_SUBNET back at start-up to ask for the same subnet again.
// Written to a temporary file and renamed, so a reader never sees half of it.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError } from '../config/errors.js';
import { formatSubnet, parseCidr4, subnetOf, type Subnet } from './ip4.js';
import { numberToIpv4 } from '../wire/ipv4.js';

export function subnetEnv(network: Subnet, subnet: Subnet, mtu: number, ipMasq: boolean): string {
  return [
    `FLANNEL_NETWORK=${formatSubnet(network)}`,
    `FLANNEL_SUBNET=${numberToIpv4(subnet.ip + 1)}/${subnet.len}`,
    `FLANNEL_MTU=${mtu}`,
    `FLANNEL_IPMASQ=${ipMasq}`,
    '',
  ].join('\n');
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

/** The subnet in an existing subnet file, or null (no file, no FLANNEL_SUBNET, or unparsable). */
export function readPreviousSubnet(path: string): Subnet | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const m = /^FLANNEL_SUBNET=(\S+)$/m.exec(text);
  const c = m ? parseCidr4(m[1]) : null;
  return c ? subnetOf(c.ip, c.len) : null;
}
