// subnet.env as flannel's CNI plugin reads it (flannel.go,
// loadFlannelSubnetEnv): KEY=VALUE lines, unknown keys ignored, the networks
// comma-separated and deduplicated, each subnet reduced to its network
// (FLANNEL_SUBNET=10.244.5.1/24 → 10.244.5.0/24), FLANNEL_IPMASQ true only
// when it says "true". The plugin reads what flanneld writes as well as what
// weft writes (control/subnet-env.ts), so this follows flannel's reader, not
// weft's writer. Pure: text in, values or a CniError out.

import { CniError, CNI_ERR } from './errors.js';
import { formatSubnet, parseCidr4, subnetOf } from '../control/ip4.js';
import { bytesToIpv6, ipv6ToBytes } from '../wire/ipv6.js';

export interface FlannelEnv {
  /** FLANNEL_NETWORK: the IPv4 networks, as network/len. */
  networks4: string[];
  /** FLANNEL_SUBNET as network/len, or null (an IPv6-only host). */
  subnet4: string | null;
  /** FLANNEL_IPV6_NETWORK: the IPv6 networks, as network/len. */
  networks6: string[];
  /** FLANNEL_IPV6_SUBNET as network/len, or null. */
  subnet6: string | null;
  mtu: number;
  /** FLANNEL_IPMASQ: the host masquerades pod traffic itself. */
  ipMasq: boolean;
}

/** 'A.B.C.D/N' → its network, 'A.B.C.0/N'; null if it is not an IPv4 CIDR. */
export function network4(cidr: string): string | null {
  const c = parseCidr4(cidr);
  return c ? formatSubnet(subnetOf(c.ip, c.len)) : null;
}

/** An IPv6 CIDR → its network in RFC 5952 form ('fd00:244:0:5::1/64' → 'fd00:244:0:5::/64'); null if it is not one. */
export function network6(cidr: string): string | null {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(cidr);
  if (!m || !m[1].includes(':') || Number(m[2]) > 128) return null;
  let b: Buffer;
  try {
    b = ipv6ToBytes(m[1]);
  } catch {
    return null;
  }
  const len = Number(m[2]);
  for (let i = 0; i < 16; i++) {
    const keep = Math.min(8, Math.max(0, len - 8 * i));
    b[i] &= (0xff00 >> keep) & 0xff;
  }
  return `${bytesToIpv6(b, 0)}/${len}`;
}

function cidrList(key: string, value: string, parse: (s: string) => string | null, path: string): string[] {
  const out: string[] = [];
  for (const s of value.split(',')) {
    const n = parse(s.trim());
    if (n === null) throw bad(path, `${key}=${value}: ${JSON.stringify(s)} is not a CIDR of that family`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

function bad(path: string, why: string): CniError {
  return new CniError(CNI_ERR.badSubnetEnv, `${path} is unusable: ${why}`,
    'subnet.env is written by weft (or flanneld) when it leases a subnet: check that daemon\'s log on this host');
}

/** The values of a subnet.env's text; `path` names it in errors. */
export function parseSubnetEnv(text: string, path: string): FlannelEnv {
  let networks4: string[] = [], networks6: string[] = [];
  let subnet4: string | null = null, subnet6: string | null = null;
  let mtu: number | null = null, ipMasq: boolean | null = null;
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq), value = line.slice(eq + 1).trim();
    switch (key) {
      case 'FLANNEL_NETWORK': networks4 = cidrList(key, value, network4, path); break;
      case 'FLANNEL_IPV6_NETWORK': networks6 = cidrList(key, value, network6, path); break;
      case 'FLANNEL_SUBNET':
        subnet4 = network4(value);
        if (subnet4 === null) throw bad(path, `${key}=${value} is not an IPv4 CIDR`);
        break;
      case 'FLANNEL_IPV6_SUBNET':
        subnet6 = network6(value);
        if (subnet6 === null) throw bad(path, `${key}=${value} is not an IPv6 CIDR`);
        break;
      case 'FLANNEL_MTU':
        if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffffffff) throw bad(path, `${key}=${value} is not an MTU`);
        mtu = Number(value);
        break;
      case 'FLANNEL_IPMASQ': ipMasq = value === 'true'; break;
    }
  }
  // flannel's rule (subnetEnv.missing): one family is enough, MTU and IPMASQ are not optional.
  const missing: string[] = [];
  if (networks4.length === 0 && networks6.length === 0) missing.push('FLANNEL_NETWORK or FLANNEL_IPV6_NETWORK');
  if (subnet4 === null && subnet6 === null) missing.push('FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET');
  if (mtu === null) missing.push('FLANNEL_MTU');
  if (ipMasq === null) missing.push('FLANNEL_IPMASQ');
  if (missing.length > 0 || mtu === null || ipMasq === null) throw bad(path, `missing ${missing.join(', ')}`);
  return { networks4, subnet4, networks6, subnet6, mtu, ipMasq };
}
