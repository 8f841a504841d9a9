// flannel's network configuration, net-conf.json: read from a file
// (--net-config-path) or from the store (`<prefix>/config`).
//
//   {"Network": "10.244.0.0/16", "SubnetLen": 24,
//    "SubnetMin": "10.244.1.0", "SubnetMax": "10.244.255.0",
//    "EnableIPv6": true, "IPv6Network": "fd00:244::/48", "IPv6SubnetLen": 64,
//    "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "MTU": 1430}}
//
// Validation is exact: an unknown key, a wrong type or an impossible value is
// a UsageError naming the field and the reason, so a typo cannot silently
// change the network. Defaults and checks follow flannel
// (pkg/subnet/config.go, CheckNetworkConfig):
// - EnableIPv4 defaults to true, EnableIPv6 to false; at least one is on.
// - IPv4: SubnetLen is 24 when the network has room for it (prefix ≤ /22),
//   else the network's prefix + 2 (four subnets); networks smaller than /28
//   are refused; a given SubnetLen is at most /30 and at least prefix + 2.
// - IPv6: IPv6SubnetLen is 64 when the network has room for it (prefix ≤
//   /62), else prefix + 2; networks smaller than /124 are refused; a given
//   IPv6SubnetLen is at most /126 and at least prefix + 2.
// - SubnetMin / IPv6SubnetMin default to the second subnet (the first would
//   hold the network address itself), SubnetMax / IPv6SubnetMax to the last;
//   given ones must lie in the network, on a subnet boundary.
// Where flannel silently ignores a key (IPv6 keys without EnableIPv6, the
// IPv4 keys of an IPv6-only network) weft refuses it: a network the operator
// believes is dual-stack must not quietly come up IPv4-only.

import { UsageError } from '../config/errors.js';
import { IP_LEN_MAX, VNI_MAX, VXLAN_OVERHEAD_V4, VXLAN_PORT_LINUX } from '../wire/vxlan.js';
import { parseCidr4, mask4, size4, formatSubnet, NO_V4, type Subnet } from './ip4.js';
import { formatIpv6, formatSubnet6, mask6, parseCidr6, parseIpv6, size6, type Subnet6 } from './ip6.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';

/** The IPv6 half of a network (EnableIPv6). */
export interface Ipv6Conf {
  network: Subnet6;
  subnetLen: number;
  /** First and last subnet addresses a host may take (aligned to subnetLen). */
  subnetMin: bigint;
  subnetMax: bigint;
}

export interface NetConf {
  /** EnableIPv4. When false the IPv4 fields are flannel's empty values (network 0.0.0.0/0, lengths 0). */
  ipv4: boolean;
  network: Subnet;
  subnetLen: number;
  /** First and last subnet addresses a host may take (aligned to subnetLen). */
  subnetMin: number;
  subnetMax: number;
  /** EnableIPv6's network, or null. */
  ipv6: Ipv6Conf | null;
  vni: number;
  port: number;
  /** Backend.MTU, or null for underlay MTU − 50 (− 70 when IPv6 is on: see control-plane.ts). */
  mtu: number | null;
  /**
   * Backend.Type: flannel's vxlan; its udp (bare IP in UDP through a TUN;
   * only Port is read); or its host-gw (no tunnel: a kernel route per lease
   * via the lease's host, which must be on our segment; no key is read).
   */
  backend: BackendType;
  /** vxlan's DirectRouting: leases whose host is on our segment get host-gw's route instead of the tunnel. */
  directRouting: boolean;
}

export type BackendType = 'vxlan' | 'udp' | 'host-gw';

/** flannel's udp backend's default port (pkg/backend/udp: defaultPort). */
export const UDP_BACKEND_PORT = 8285;
/** The keys flannel's udp backend reads (it takes Port alone). */
const UDP_BACKEND_KEYS = ['Type', 'Port'];

const TOP_KEYS = ['Network', 'SubnetLen', 'SubnetMin', 'SubnetMax', 'Backend', 'EnableIPv4',
  'EnableIPv6', 'IPv6Network', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax'];
const IPV4_KEYS = ['Network', 'SubnetLen', 'SubnetMin', 'SubnetMax'];
const IPV6_KEYS = ['IPv6Network', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax'];
const BACKEND_KEYS = ['Type', 'VNI', 'Port', 'MTU', 'GBP', 'DirectRouting', 'Learning'];

type Bad = (field: string, why: string) => never;

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

  for (const k of Object.keys(obj)) if (!TOP_KEYS.includes(k)) bad(k, `unknown key (known: ${TOP_KEYS.join(', ')})`);
  for (const k of ['EnableIPv4', 'EnableIPv6']) if (k in obj && typeof obj[k] !== 'boolean') bad(k, `must be true or false, got ${JSON.stringify(obj[k])}`);
  const ipv4 = obj.EnableIPv4 !== false;
  const ipv6on = obj.EnableIPv6 === true;
  if (!ipv4 && !ipv6on) bad('EnableIPv4', 'false, and EnableIPv6 is not true: the network would carry nothing; set "EnableIPv6": true with an IPv6Network');
  if (!ipv6on) for (const k of IPV6_KEYS) if (k in obj) bad(k, 'given, but EnableIPv6 is not true; add "EnableIPv6": true or remove the IPv6 keys');
  if (!ipv4) for (const k of IPV4_KEYS) if (k in obj) bad(k, 'given, but EnableIPv4 is false (an IPv6-only network); remove it or drop "EnableIPv4": false');

  const v4 = ipv4 ? parseV4(obj, bad) : { network: NO_V4, subnetLen: 0, subnetMin: 0, subnetMax: 0 };
  const ipv6 = ipv6on ? parseV6(obj, bad) : null;

  return { ipv4, ...v4, ipv6, ...parseBackend(obj, ipv6on, bad) };
}

type BackendConf = Pick<NetConf, 'vni' | 'port' | 'mtu' | 'backend' | 'directRouting'>;

function parseBackend(obj: Record<string, unknown>, ipv6on: boolean, bad: Bad): BackendConf {
  if (!('Backend' in obj)) bad('Backend', 'missing; weft implements flannel\'s vxlan backend: "Backend": {"Type": "vxlan"}');
  const b = obj.Backend;
  if (!isObject(b)) bad('Backend', 'must be an object like {"Type": "vxlan"}');
  const be = b as Record<string, unknown>;
  for (const k of Object.keys(be)) if (!BACKEND_KEYS.includes(k)) bad(`Backend.${k}`, `unknown key (known: ${BACKEND_KEYS.join(', ')})`);
  if (be.Type === 'udp') {
    // flannel's udp backend carries bare IPv4 (its proxy reads iphdr): a dual-stack or IPv6 network cannot ride it.
    if (ipv6on) bad('Backend.Type', '"udp" carries IPv4 only (as flannel\'s udp backend); remove "EnableIPv6" or use "vxlan"');
    for (const k of Object.keys(be)) if (!UDP_BACKEND_KEYS.includes(k)) bad(`Backend.${k}`, `not a key of the udp backend (it takes ${UDP_BACKEND_KEYS.join(', ')})`);
    const port = 'Port' in be ? int(be.Port, 'Backend.Port', 1, 65535, bad) : UDP_BACKEND_PORT;
    return { vni: 1, port, mtu: null, backend: 'udp', directRouting: false };
  }
  if (be.Type === 'host-gw') {
    for (const k of Object.keys(be)) if (k !== 'Type') bad(`Backend.${k}`, 'not a key of the host-gw backend (it takes Type alone)');
    return { vni: 1, port: 0, mtu: null, backend: 'host-gw', directRouting: false };
  }
  if (be.Type !== 'vxlan') bad('Backend.Type', `${JSON.stringify(be.Type ?? null)}: weft implements "vxlan", "udp" and "host-gw"`);
  for (const k of ['GBP', 'Learning']) {
    if (k in be && be[k] !== false) bad(`Backend.${k}`, 'not supported by weft; remove it or set it to false');
  }
  if ('DirectRouting' in be && typeof be.DirectRouting !== 'boolean') bad('Backend.DirectRouting', `must be true or false, got ${JSON.stringify(be.DirectRouting)}`);
  const directRouting = be.DirectRouting === true;
  const vni = 'VNI' in be ? int(be.VNI, 'Backend.VNI', 0, VNI_MAX, bad) : 1;
  const port = 'Port' in be ? int(be.Port, 'Backend.Port', 1, 65535, bad) : VXLAN_PORT_LINUX;
  const mtu = 'MTU' in be ? int(be.MTU, 'Backend.MTU', 68, IP_LEN_MAX - VXLAN_OVERHEAD_V4, bad) : null;
  return { vni, port, mtu, backend: 'vxlan', directRouting };
}

function parseV4(obj: Record<string, unknown>, bad: Bad): Pick<NetConf, 'network' | 'subnetLen' | 'subnetMin' | 'subnetMax'> {
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
  return { network, subnetLen: subnetLen!, subnetMin, subnetMax };
}

function parseV6(obj: Record<string, unknown>, bad: Bad): Ipv6Conf {
  if (!('IPv6Network' in obj)) bad('IPv6Network', 'missing (EnableIPv6 is true); the IPv6 overlay network, like "fd00:244::/48"');
  const net = typeof obj.IPv6Network === 'string' ? parseCidr6(obj.IPv6Network) : null;
  if (!net) bad('IPv6Network', `${JSON.stringify(obj.IPv6Network)} is not an IPv6 network like "fd00:244::/48"`);
  if (net!.hostBits) bad('IPv6Network', `'${obj.IPv6Network}' has bits set past the /${net!.len} prefix (did you mean ${formatIpv6(net!.ip & mask6(net!.len))}/${net!.len}?)`);
  const network: Subnet6 = { ip: net!.ip, len: net!.len };

  let subnetLen: number;
  if ('IPv6SubnetLen' in obj) {
    subnetLen = int(obj.IPv6SubnetLen, 'IPv6SubnetLen', 1, 128, bad);
    if (subnetLen > 126) bad('IPv6SubnetLen', `/${subnetLen} leaves no room for hosts; at most 126`);
    if (subnetLen < network.len + 2) bad('IPv6SubnetLen', `/${subnetLen} must be at least /${network.len + 2} so the /${network.len} network holds four subnets`);
  } else if (network.len > 124) {
    bad('IPv6Network', `/${network.len} is too small; the smallest useful IPv6 network is /124`);
  } else {
    subnetLen = network.len <= 62 ? 64 : network.len + 2;
  }
  const step = size6(subnetLen!);
  const inNetwork = (v: bigint) => (v & mask6(network.len)) === network.ip;
  const bound = (key: 'IPv6SubnetMin' | 'IPv6SubnetMax', dflt: bigint): bigint => {
    if (!(key in obj)) return dflt;
    const v = typeof obj[key] === 'string' ? parseIpv6(obj[key] as string) : null;
    if (v === null) bad(key, 'must be an IPv6 address string like "fd00:244:0:1::"');
    if (!inNetwork(v!)) bad(key, `${formatIpv6(v!)} is outside IPv6Network ${formatSubnet6(network)}`);
    if ((v! & mask6(subnetLen)) !== v) bad(key, `${formatIpv6(v!)} is not on a /${subnetLen} boundary`);
    return v!;
  };
  const subnetMin = bound('IPv6SubnetMin', network.ip + step);
  const subnetMax = bound('IPv6SubnetMax', network.ip + size6(network.len) - step);
  if (subnetMin > subnetMax) bad('IPv6SubnetMin', `${formatIpv6(subnetMin)} is above IPv6SubnetMax ${formatIpv6(subnetMax)}`);
  return { network, subnetLen: subnetLen!, subnetMin, subnetMax };
}

function int(v: unknown, field: string, min: number, max: number, bad: Bad): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(field, `must be a whole number ${min}–${max}, got ${JSON.stringify(v)}`);
  if ((v as number) < min || (v as number) > max) bad(field, `${v} is out of range (allowed: ${min}–${max})`);
  return v as number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
