// Which way a remote lease's traffic goes, and the segment that decides it.
//
// flannel has three ways to reach another host's subnet:
//   - 'vxlan': through the tunnel (weft's TAP and data path);
//   - 'udp': through the udp backend's TUN and weft's own route table;
//   - 'direct': no tunnel at all, the kernel route `SUBNET via PUBLICIP dev
//     UNDERLAY` (flannel's host-gw, pkg/backend/route_network.go; and vxlan
//     with DirectRouting for hosts it can reach that way).
// A direct route is only right when the lease's host is on our L2 segment:
// the kernel hands the packet to that host's MAC, so the host must be on a
// link we are on. weft calls a host on our segment when its PublicIP lies in
// a prefix of the underlay interface (the one holding our address), which is
// what "directly connected" means to the kernel. flannel's vxlan asks the
// kernel for the route to the host and takes one without a gateway; its
// host-gw asks nothing and leaves the kernel to refuse the route. weft
// decides before programming, so a refusal is one line and a counter rather
// than a failed `ip route`.
//
// Each family is decided on its own, as flannel's vxlan does
// (vxlan_network.go: directRoutingOK and v6DirectRoutingOK): a dual-stack
// lease's IPv4 side may be direct while its IPv6 side takes the tunnel. The
// IPv6 side's route is `SUBNET6 via PUBLICIPV6 dev UNDERLAY`, on the same
// interface (flannel's host-gw routes both families by one LinkIndex), and
// its segment is that interface's global IPv6 prefixes.
//
// `onSegment` and `leasePaths` are pure; `readSegment` asks `ip` once at start.
// A segment that changes while weft runs (an address added to the underlay)
// is taken at the next start.

import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { RuntimeError } from '../config/errors.js';
import { parseIpv4 } from '../wire/ipv4.js';
import { contains, formatSubnet, mask4, type Subnet } from './ip4.js';
import { contains6, formatSubnet6, mask6, parseIpv6, type Subnet6 } from './ip6.js';
import type { BackendType } from './net-conf.js';

/** How a lease's traffic leaves this host. */
export type LeasePath = 'vxlan' | 'udp' | 'direct';

/** Every path, in the order metrics and `weft peers` list them. */
export const LEASE_PATHS: readonly LeasePath[] = ['vxlan', 'udp', 'direct'];

/** The underlay interface and its prefixes, per family: the hosts we reach without a router. */
export interface Segment {
  dev: string;
  prefixes: readonly Subnet[];
  /** Its global IPv6 prefixes (link-local ones name no lease's host). */
  prefixes6: readonly Subnet6[];
}

/** True when `ip` (IPv4 or IPv6 text) lies in one of the segment's prefixes of its family. */
export function onSegment(ip: string, segment: Segment | null): boolean {
  if (!segment) return false;
  const v4 = parseIpv4(ip);
  if (v4 !== null) return segment.prefixes.some((p) => contains(p, { ip: v4, len: 32 }));
  const v6 = parseIpv6(ip);
  return v6 !== null && segment.prefixes6.some((p) => contains6(p, { ip: v6, len: 128 }));
}

/** The segment as one line: `eth0 198.18.0.0/24 2001:2::/64`. */
export function describeSegment(segment: Segment | null): string {
  if (!segment) return 'none';
  const prefixes = [...segment.prefixes.map(formatSubnet), ...segment.prefixes6.map(formatSubnet6)];
  return `${segment.dev} ${prefixes.join(' ') || '(no prefix)'}`;
}

/** A lease's path per side: null for a side it does not carry in our network. */
export interface LeasePaths { path4: LeasePath | null; path6: LeasePath | null }

/**
 * The path each side of a lease (IPv4 host `publicIp`, IPv6 host
 * `publicIpv6`, null for a side it does not carry) takes in our network, or
 * a refusal (one line): host-gw reaches only hosts on our segment and has no
 * tunnel to fall back to, so a side off it refuses the lease; DirectRouting
 * sends such a side through the tunnel.
 */
export function leasePaths(backend: BackendType, directRouting: boolean, publicIp: string | null, publicIpv6: string | null, segment: Segment | null): LeasePaths | { refused: string } {
  if (backend === 'udp') return { path4: publicIp === null ? null : 'udp', path6: null };
  const side = (ip: string | null): LeasePath | null => ip === null ? null : (backend === 'host-gw' || directRouting) && onSegment(ip, segment) ? 'direct' : 'vxlan';
  const paths = { path4: side(publicIp), path6: side(publicIpv6) };
  if (backend !== 'host-gw') return paths;
  const off = paths.path4 === 'vxlan' ? `PublicIP ${publicIp}` : paths.path6 === 'vxlan' ? `PublicIPv6 ${publicIpv6}` : null;
  if (off) return { refused: `${off} is not on our segment (${describeSegment(segment)}); host-gw routes only to hosts on it: put the host on that segment, or use vxlan with "DirectRouting": true` };
  return paths;
}

interface AddrJson { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[] }

/**
 * The interface holding `ip` (IPv4 or IPv6) and its prefixes of both
 * families (`ip -j addr show`), or null when no interface holds it (a
 * public IP behind NAT: nothing is on our segment then).
 */
export function readSegment(ip: string): Segment | null {
  const links = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' })) as AddrJson[];
  const link = links.find((l) => l.addr_info?.some((a) => a.local !== undefined && sameAddress(a.local, ip)));
  if (!link?.ifname) return null;
  return { dev: link.ifname, ...segmentPrefixes(link.addr_info ?? []) };
}

/** Two addresses in any spelling (`2001:2::1`, `2001:2:0::1`) are the same address. */
function sameAddress(a: string, b: string): boolean {
  if (isIP(a) !== isIP(b)) return false;
  return isIP(a) === 6 ? parseIpv6(a) === parseIpv6(b) : a === b;
}

/**
 * The prefixes of an interface's addresses, per family: without host
 * routes (/32, /128: they make no neighbour reachable), IPv6 link-local
 * ones, or repeats.
 */
export function segmentPrefixes(addrs: { family?: string; local?: string; prefixlen?: number; scope?: string }[]): { prefixes: Subnet[]; prefixes6: Subnet6[] } {
  const prefixes: Subnet[] = [], prefixes6: Subnet6[] = [];
  for (const a of addrs) {
    if (!a.local || a.prefixlen === undefined) continue;
    const n = a.family === 'inet' ? parseIpv4(a.local) : null;
    if (n !== null && a.prefixlen < 32) {
      const p = { ip: (n & mask4(a.prefixlen)) >>> 0, len: a.prefixlen };
      if (!prefixes.some((q) => q.ip === p.ip && q.len === p.len)) prefixes.push(p);
    }
    const m = a.family === 'inet6' && a.scope === 'global' ? parseIpv6(a.local) : null;
    if (m !== null && a.prefixlen < 128) {
      const p = { ip: m & mask6(a.prefixlen), len: a.prefixlen };
      if (!prefixes6.some((q) => q.ip === p.ip && q.len === p.len)) prefixes6.push(p);
    }
  }
  return { prefixes, prefixes6 };
}

/** A direct route: the subnet (either family, as text) via the lease's host on the underlay. */
export interface DirectRoute { dst: string; via: string; dev: string }

/** A route as `ip -j route show` prints it: the fields a direct route is told by. */
export interface ShownRoute { dst?: string; gateway?: string; dev?: string }

/**
 * The routes of `owned` that `shown` (the kernel's table now) lacks, told
 * apart as flannel's routeEqual does: destination, gateway and interface.
 * One pass over each list, so a check at 10,000 leases costs one dump.
 */
export function missingRoutes(owned: readonly DirectRoute[], shown: readonly ShownRoute[]): DirectRoute[] {
  const have = new Set<string>();
  for (const r of shown) if (r.dst !== undefined && r.gateway !== undefined && r.dev !== undefined) have.add(`${r.dst} ${r.gateway} ${r.dev}`);
  return owned.filter((r) => !have.has(`${shownDst(r.dst)} ${r.via} ${r.dev}`));
}

/** `ip` prints a host route without its length (`10.244.2.5`, not `/32`). */
function shownDst(dst: string): string {
  return dst.endsWith('/32') || dst.endsWith('/128') ? dst.slice(0, dst.lastIndexOf('/')) : dst;
}

/** `ip route` text for a direct route. */
export function directRouteCmds(r: DirectRoute): { add: string; del: string } {
  return { add: `route replace ${r.dst} via ${r.via} dev ${r.dev}`, del: `route del ${r.dst} via ${r.via} dev ${r.dev}` };
}

/**
 * Our segment, when the network has direct paths (host-gw, or vxlan with
 * DirectRouting), else null: the interface holding `ip` (our IPv4 address,
 * or the IPv6 one in an IPv6-only network), with the prefixes of the
 * families the network carries. host-gw needs our public
 * addresses on that interface, as flanneld's does ("your PublicIP differs
 * from interface IP"): behind NAT the other hosts' routes via them would
 * lead nowhere; a dual-stack one needs `ip6`, our PublicIPv6, in its IPv6
 * prefixes too, since the others route our IPv6 subnet via it.
 */
export function networkSegment(conf: { backend: BackendType; directRouting: boolean; ipv4?: boolean; ipv6?: object | null }, ip: string | null, read = readSegment, ip6: string | null = null): Segment | null {
  if (conf.backend !== 'host-gw' && !conf.directRouting) return null;
  const found = ip === null ? null : read(ip);
  const segment = found && { dev: found.dev, prefixes: conf.ipv4 === false ? [] : found.prefixes, prefixes6: conf.ipv6 ? found.prefixes6 : [] };
  if (conf.backend !== 'host-gw') return segment;
  if (!segment) {
    throw new RuntimeError(`host-gw: no interface here has the public IP ${ip}; host-gw routes to hosts by it (no NAT): give --public-ip or --iface an address of this host`);
  }
  if (ip6 !== null && ip6 !== ip && !onSegment(ip6, segment)) {
    throw new RuntimeError(`host-gw: the public IPv6 ${ip6} is not on ${describeSegment(segment)}, the interface of ${ip}; the other hosts route our IPv6 subnet via it: give --public-ipv6 an address of that interface's IPv6 prefixes`);
  }
  return segment;
}
