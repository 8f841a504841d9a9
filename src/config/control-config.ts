// `weft run`'s control-plane options, named as flanneld names them. Any of
// --etcd-endpoints or --lease-file turns the control plane on; then the
// overlay (VNI, port, MTU, the TAP's address, the peers) comes from the
// network configuration and the leases, so the options that set those by
// hand are refused rather than silently overridden.

import { UsageError } from './errors.js';
import { parseIp, parseIntIn } from './values.js';
import { DEFAULT_ETCD_PREFIX, DEFAULT_SUBNET_FILE } from '../control/defaults.js';
import { ETCD_AUTH_FILE_KEYS, ETCD_AUTH_HELP, ETCD_AUTH_OPTIONS, resolveEtcdSecurity, type EtcdAuthInput, type EtcdSecurity } from './etcd-auth.js';

export interface ControlInput extends EtcdAuthInput {
  'etcd-endpoints'?: string; 'etcd-prefix'?: string; 'lease-file'?: string; 'net-config-path'?: string;
  'public-ip'?: string; 'public-ipv6'?: string; iface?: string; 'subnet-file'?: string; 'subnet-lease-renew-margin'?: string;
}

/** parseArgs options for the control-plane flags. */
export const CONTROL_OPTIONS = {
  'etcd-endpoints': { type: 'string' }, 'etcd-prefix': { type: 'string' }, 'lease-file': { type: 'string' },
  'net-config-path': { type: 'string' }, 'public-ip': { type: 'string' }, 'public-ipv6': { type: 'string' }, iface: { type: 'string' },
  'subnet-file': { type: 'string' }, 'subnet-lease-renew-margin': { type: 'string' },
  ...ETCD_AUTH_OPTIONS,
} as const;

/** The same names in a --config JSON file. */
export const CONTROL_FILE_KEYS: Record<string, 'string' | 'number'> = {
  'etcd-endpoints': 'string', 'etcd-prefix': 'string', 'lease-file': 'string', 'net-config-path': 'string',
  'public-ip': 'string', 'public-ipv6': 'string', iface: 'string', 'subnet-file': 'string', 'subnet-lease-renew-margin': 'number',
  ...ETCD_AUTH_FILE_KEYS,
};

export const CONTROL_HELP = `Control plane (like flanneld; any of the first two turns it on):
  --etcd-endpoints URLS   etcd v3 endpoints, comma-separated
                          (http://198.18.0.254:2379); leases under
                          <prefix>/subnets/, net-conf.json at <prefix>/config
  --lease-file PATH       the file store instead of etcd: one JSON file
                          shared by the weft processes of this machine
  --etcd-prefix PREFIX    key prefix (default ${DEFAULT_ETCD_PREFIX})
${ETCD_AUTH_HELP}
  --net-config-path FILE  read net-conf.json from FILE instead of the store
  --public-ip IP          the address other hosts reach this one at (default:
                          --iface's address, or --local, or the default
                          route's interface address)
  --public-ipv6 IP        the same for IPv6, when net-conf.json has
                          EnableIPv6 (default: --iface's IPv6 address, or
                          --local if IPv6, or the IPv6 default route's)
  --iface NAME|IP         the underlay interface (or its address)
  --subnet-file PATH      where to write subnet.env (default
                          ${DEFAULT_SUBNET_FILE}); read at start to reuse
                          the same subnet
  --subnet-lease-renew-margin MIN
                          renew the 24 h lease MIN minutes before it lapses
                          (default 60, 1–1439)
With a store, the VNI, port and MTU come from net-conf.json's Backend, the
TAP gets the leased subnet's network address as /32, and every other host's
lease becomes a forwarding entry, a permanent neighbour entry and an onlink
route; --vni, --port, --mtu, --peer, --static and --address are refused.
Backend.Type "udp": a TUN (--tun) and bare IPv4 in UDP, as flanneld's udp.
Backend.Type "host-gw": no TAP, no tunnel, no data path in weft: each
lease is a kernel route via its host on the underlay interface, and a lease
whose host is not on that segment is refused (weft peers, metrics and the
control socket stay). vxlan with "DirectRouting": true: leases whose host
is on our segment get that route, the others the tunnel.`;

export type StoreChoice =
  | { kind: 'etcd'; endpoints: string[]; prefix: string; security: EtcdSecurity }
  | { kind: 'file'; path: string };

export interface ControlConfig {
  store: StoreChoice;
  netConfigPath: string | null;
  publicIp: string | null;
  /** --public-ipv6; absent or null: found as flanneld finds it. */
  publicIpv6?: string | null;
  iface: string | null;
  subnetFile: string;
  renewMarginMs: number;
}

const MANUAL = ['vni', 'port', 'mtu', 'peer', 'static', 'address'] as const;

/** null when no control-plane store was asked for (and then no control-plane option may be given). */
export function resolveControlConfig(input: ControlInput & Record<string, unknown>): ControlConfig | null {
  const given = Object.keys(CONTROL_OPTIONS).filter((k) => input[k] !== undefined);
  const etcd = input['etcd-endpoints'], file = input['lease-file'];
  if (etcd === undefined && file === undefined) {
    if (given.length) throw new UsageError(`--${given[0]}: needs a lease store: --etcd-endpoints URLS or --lease-file PATH`);
    return null;
  }
  if (etcd !== undefined && file !== undefined) throw new UsageError('--etcd-endpoints and --lease-file: pick one lease store');
  for (const k of MANUAL) {
    const v = input[k];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) {
      throw new UsageError(`--${k}: not with a lease store; ${k === 'vni' || k === 'port' || k === 'mtu' ? `set Backend.${k === 'vni' ? 'VNI' : k === 'port' ? 'Port' : 'MTU'} in net-conf.json` : 'the leases say where the other hosts are and which subnet is ours'}`);
    }
  }
  for (const k of ['etcd-prefix', ...Object.keys(ETCD_AUTH_OPTIONS)]) {
    if (etcd === undefined && input[k] !== undefined) throw new UsageError(`--${k}: only with --etcd-endpoints`);
  }
  let store: StoreChoice;
  if (etcd !== undefined) {
    const endpoints = etcd.split(',').map((s) => s.trim()).filter(Boolean);
    if (endpoints.length === 0) throw new UsageError('--etcd-endpoints: give at least one URL, like http://198.18.0.254:2379');
    for (const e of endpoints) {
      let u: URL | null = null;
      try { u = new URL(e); } catch { /* below */ }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname || u.pathname.length > 1) {
        throw new UsageError(`--etcd-endpoints: '${e}' is not an endpoint URL like http://198.18.0.254:2379`);
      }
      if (u.username || u.password) throw new UsageError('--etcd-endpoints: a user or password in the URL; give --etcd-username and --etcd-password instead');
    }
    const prefix = input['etcd-prefix'] ?? DEFAULT_ETCD_PREFIX;
    if (!/^\/[^\s]*[^/\s]$/.test(prefix)) throw new UsageError(`--etcd-prefix: '${prefix}' should be a key path like ${DEFAULT_ETCD_PREFIX}`);
    store = { kind: 'etcd', endpoints, prefix, security: resolveEtcdSecurity(input, endpoints) };
  } else {
    if (!file) throw new UsageError('--lease-file: give a path, like /run/weft/leases.json');
    store = { kind: 'file', path: file };
  }
  const publicIp = input['public-ip'] !== undefined ? parseIp(input['public-ip'], '--public-ip') : null;
  if (publicIp && publicIp.family !== 4) throw new UsageError(`--public-ip: ${publicIp.ip} is IPv6; give it as --public-ipv6`);
  const publicIpv6 = input['public-ipv6'] !== undefined ? parseIp(input['public-ipv6'], '--public-ipv6') : null;
  if (publicIpv6 && publicIpv6.family !== 6) throw new UsageError(`--public-ipv6: ${publicIpv6.ip} is IPv4; give it as --public-ip`);
  const iface = input.iface ?? null;
  if (iface !== null && !/^[A-Za-z0-9_.:-]{1,40}$/.test(iface)) throw new UsageError(`--iface: '${iface}' is not an interface name or address`);
  const subnetFile = input['subnet-file'] ?? DEFAULT_SUBNET_FILE;
  if (!subnetFile) throw new UsageError('--subnet-file: give a path');
  const margin = input['subnet-lease-renew-margin'] !== undefined ? parseIntIn('--subnet-lease-renew-margin', input['subnet-lease-renew-margin'], 1, 1439) : 60;
  return {
    store, netConfigPath: input['net-config-path'] ?? null, publicIp: publicIp?.ip ?? null, publicIpv6: publicIpv6?.ip ?? null, iface, subnetFile,
    renewMarginMs: margin * 60_000,
  };
}
