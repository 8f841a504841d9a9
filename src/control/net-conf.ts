// flannel's network configuration, net-conf.json: read from a file
// (--net-config-path) or from the store (`<prefix>/config`).
//
//   {"Network": "10.244.0.0/16", "SubnetLen": 24,
//    "SubnetMin": "10.244.1.0", "SubnetMax": "10.244.255.0",
//    "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "MTU": 1450}}
//
// Validation is exact: an unknown key, a wrong type or an impossible value is
// a UsageError naming the field and the reason, so a typo cannot silently
// change the network. Defaults follow flannel (pkg/subnet/config.go):
// SubnetLen is 24 when the network has room for it (prefix ≤ /22), else the
// network's prefix + 2 (four subnets); networks smaller than /28 are refused.
// SubnetMin defaults to the second subnet (the first would hold the network
// address itself), SubnetMax to the last. IPv6 keys are refused until weft
// supports an IPv6 overlay: ignoring them would leave pods without the
// addresses the operator asked for.

import { UsageError } from '../config/errors.js';
import { IP_LEN_MAX, VNI_MAX, VXLAN_OVERHEAD_V4, VXLAN_PORT_LINUX } from '../wire/vxlan.js';
import { parseCidr4, mask4, size4, formatSubnet, type Subnet } from './ip4.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';

export interface NetConf {
  network: Subnet;
  subnetLen: number;
  /** First and last subnet addresses a host may take (aligned to subnetLen). */
  subnetMin: number;
  subnetMax: number;
  vni: number;
  port: number;
  /** Backend.MTU, or null for underlay MTU − 50. */
  mtu: number | null;
  /** Backend.Type: flannel's vxlan, or its udp (bare IP in UDP through a TUN; only Port is read). */
  backend: 'vxlan' | 'udp';
}

/** flannel's udp backend's default port (pkg/backend/udp: defaultPort). */
export const UDP_BACKEND_PORT = 8285;
/** The keys flannel's udp backend reads (it takes Port alone). */
const UDP_BACKEND_KEYS = ['Type', 'Port'];

const TOP_KEYS = ['Network', 'SubnetLen', 'SubnetMin', 'SubnetMax', 'Backend', 'EnableIPv4'];
const IPV6_KEYS = ['EnableIPv6', 'IPv6Network', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax'];
const BACKEND_KEYS = ['Type', 'VNI', 'Port', 'MTU', 'GBP', 'DirectRouting', 'Learning'];

/** Parses net-conf.json text; `where` names its source in errors (a path or an etcd key). */
export function parseNetConf(text: string, where: string): NetConf {
  const bad = (field: string, why: string): never => { throw new UsageError(`${where}: ${field}: ${why}`); };
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(obj)) throw new UsageError(`${where}: must be a JSON object like {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}`);

  for (const k of Object.keys(obj)) {
    if (IPV6_KEYS.includes(k)) {
      if (k === 'EnableIPv6' && obj[k] === false) continue;
      bad(k, 'IPv6 overlays are not supported by weft yet; remove the IPv6 keys (EnableIPv6, IPv6Network, …)');
    }
    if (!TOP_KEYS.includes(k)) bad(k, `unknown key (known: ${TOP_KEYS.join(', ')})`);
  }
  if ('EnableIPv4' in obj && obj.EnableIPv4 !== true) bad('EnableIPv4', 'weft carries an IPv4 overlay; it must be true or absent');

  if (!('Network' in obj)) bad('Network', 'missing; the overlay network, like "10.244.0.0/16"');
  if (typeof obj.Network !== 'string') bad('Network', 'must be a string like "10.244.0.0/16"');
  const net = parseCidr4(obj.Network as string);
  if (!net) bad('Network', `'${obj.Network}' is not an IPv4 network like "10.244.0.0/16"`);
  if (net!.hostBits) bad('Network', `'${obj.Network}' has bits set past the /${net!.len} prefix (did you mean ${numberToIpv4((net!.ip & mask4(net!.len)) >>> 0)}/${net!.len}?)`);
  const network: Subnet = { ip: net!.ip, len: net!.len };

  let subnetLen: number;
  if ('SubnetLen' in obj) {
    subnetLen = int(obj.SubnetLen, 'SubnetLen', 1, 32, bad);
    if (subnetLen > 30) bad('SubnetLen', `/${subnetLen} leaves no room for hosts; at most 30`);
    if (subnetLen < network.len + 2) bad('SubnetLen', `/${subnetLen} must be at least /${network.len + 2} so the /${network.len} network holds four subnets`);
  } else if (network.len > 28) {
    bad('Network', `/${network.len} is too small; the smallest useful network is /28`);
  } else {
    subnetLen = network.len <= 22 ? 24 : network.len + 2;
  }
  const step = size4(subnetLen!);
  const subnetMask = mask4(subnetLen!);
  const inNetwork = (v: number) => ((v & mask4(network.len)) >>> 0) === network.ip;
  const bound = (key: 'SubnetMin' | 'SubnetMax', dflt: number): number => {
    if (!(key in obj)) return dflt;
    const v = typeof obj[key] === 'string' ? parseIpv4(obj[key] as string) : null;
    if (v === null) bad(key, 'must be an IPv4 address string like "10.244.1.0"');
    if (!inNetwork(v!)) bad(key, `${numberToIpv4(v!)} is outside Network ${formatSubnet(network)}`);
    if (((v! & subnetMask) >>> 0) !== v) bad(key, `${numberToIpv4(v!)} is not on a /${subnetLen} boundary`);
    return v!;
  };
  const subnetMin = bound('SubnetMin', network.ip + step);
  const subnetMax = bound('SubnetMax', network.ip + size4(network.len) - step);
  if (subnetMin > subnetMax) bad('SubnetMin', `${numberToIpv4(subnetMin)} is above SubnetMax ${numberToIpv4(subnetMax)}`);

  if (!('Backend' in obj)) bad('Backend', 'missing; weft implements flannel\'s vxlan backend: "Backend": {"Type": "vxlan"}');
  const b = obj.Backend;
  if (!isObject(b)) bad('Backend', 'must be an object like {"Type": "vxlan"}');
  const be = b as Record<string, unknown>;
  for (const k of Object.keys(be)) if (!BACKEND_KEYS.includes(k)) bad(`Backend.${k}`, `unknown key (known: ${BACKEND_KEYS.join(', ')})`);
  if (be.Type === 'udp') {
    for (const k of Object.keys(be)) if (!UDP_BACKEND_KEYS.includes(k)) bad(`Backend.${k}`, `not a key of the udp backend (it takes ${UDP_BACKEND_KEYS.join(', ')})`);
    const port = 'Port' in be ? int(be.Port, 'Backend.Port', 1, 65535, bad) : UDP_BACKEND_PORT;
    return { network, subnetLen: subnetLen!, subnetMin, subnetMax, vni: 1, port, mtu: null, backend: 'udp' };
  }
  if (be.Type !== 'vxlan') bad('Backend.Type', `${JSON.stringify(be.Type ?? null)}: weft implements "vxlan" and "udp"`);
  for (const k of ['GBP', 'DirectRouting', 'Learning']) {
    if (k in be && be[k] !== false) bad(`Backend.${k}`, 'not supported by weft; remove it or set it to false');
  }
  const vni = 'VNI' in be ? int(be.VNI, 'Backend.VNI', 0, VNI_MAX, bad) : 1;
  const port = 'Port' in be ? int(be.Port, 'Backend.Port', 1, 65535, bad) : VXLAN_PORT_LINUX;
  const mtu = 'MTU' in be ? int(be.MTU, 'Backend.MTU', 68, IP_LEN_MAX - VXLAN_OVERHEAD_V4, bad) : null;

  return { network, subnetLen: subnetLen!, subnetMin, subnetMax, vni, port, mtu, backend: 'vxlan' };
}

function int(v: unknown, field: string, min: number, max: number, bad: (f: string, w: string) => never): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(field, `must be a whole number ${min}–${max}, got ${JSON.stringify(v)}`);
  if ((v as number) < min || (v as number) > max) bad(field, `${v} is out of range (allowed: ${min}–${max})`);
  return v as number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
