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
// `onSegment` and `leasePath` are pure; `readSegment` asks `ip` once at start.
// A segment that changes while weft runs (an address added to the underlay)
// is taken at the next start.

import { execFileSync } from 'node:child_process';
import { RuntimeError } from '../config/errors.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';
import { contains, formatSubnet, mask4, type Subnet } from './ip4.js';
import type { BackendType } from './net-conf.js';

/** How a lease's traffic leaves this host. */
export type LeasePath = 'vxlan' | 'udp' | 'direct';

/** Every path, in the order metrics and `weft peers` list them. */
export const LEASE_PATHS: readonly LeasePath[] = ['vxlan', 'udp', 'direct'];

/** The underlay interface and its IPv4 prefixes: the hosts we reach without a router. */
export interface Segment {
  dev: string;
  prefixes: readonly Subnet[];
}

/** True when `ip` (an IPv4 address) lies in one of the segment's prefixes. */
export function onSegment(ip: number, segment: Segment | null): boolean {
  if (!segment) return false;
  for (const p of segment.prefixes) if (contains(p, { ip, len: 32 })) return true;
  return false;
}

/** The segment as one line: `eth0 198.18.0.0/24`. */
export function describeSegment(segment: Segment | null): string {
  if (!segment) return 'none';
  return `${segment.dev} ${segment.prefixes.map(formatSubnet).join(' ') || '(no IPv4 prefix)'}`;
}

/**
 * The path a lease with IPv4 host `publicIp` takes in our network, or a
 * refusal (one line): host-gw reaches only hosts on our segment, and has no
 * tunnel to fall back to. A lease without an IPv4 host (IPv6-only) takes the
 * network's tunnel.
 */
export function leasePath(backend: BackendType, directRouting: boolean, publicIp: string | null, segment: Segment | null): LeasePath | { refused: string } {
  if (backend === 'udp') return 'udp';
  const ip = publicIp === null ? null : parseIpv4(publicIp);
  const near = ip !== null && onSegment(ip, segment);
  if (backend === 'host-gw') {
    if (near) return 'direct';
    return { refused: `PublicIP ${publicIp} is not on our segment (${describeSegment(segment)}); host-gw routes only to hosts on it: put the host on that segment, or use vxlan with "DirectRouting": true` };
  }
  return directRouting && near ? 'direct' : 'vxlan';
}

interface AddrJson { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number }[] }

/**
 * The interface holding `ip` and its IPv4 prefixes (`ip -j -4 addr show`),
 * or null when no interface holds it (a public IP behind NAT: nothing is on
 * our segment then).
 */
export function readSegment(ip: string): Segment | null {
  const links = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8' })) as AddrJson[];
  const link = links.find((l) => l.addr_info?.some((a) => a.local === ip));
  if (!link?.ifname) return null;
  return { dev: link.ifname, prefixes: segmentPrefixes(link.addr_info ?? []) };
}

/** The IPv4 prefixes of an interface's addresses, without /32s (they make no neighbour reachable) and without repeats. */
export function segmentPrefixes(addrs: { family?: string; local?: string; prefixlen?: number }[]): Subnet[] {
  const out: Subnet[] = [];
  for (const a of addrs) {
    const n = a.family === 'inet' && a.local ? parseIpv4(a.local) : null;
    if (n === null || a.prefixlen === undefined || a.prefixlen >= 32) continue;
    const p = { ip: (n & mask4(a.prefixlen)) >>> 0, len: a.prefixlen };
    if (!out.some((q) => q.ip === p.ip && q.len === p.len)) out.push(p);
  }
  return out;
}

/** `ip route` text for a direct route: the subnet via the lease's host on the underlay. */
export function directRoute(subnet: Subnet, publicIp: string, dev: string): { add: string; del: string } {
  const dst = `${numberToIpv4(subnet.ip)}/${subnet.len}`;
  return { add: `route replace ${dst} via ${publicIp} dev ${dev}`, del: `route del ${dst} via ${publicIp} dev ${dev}` };
}

/**
 * Our segment, when the network has direct paths (host-gw, or vxlan with
 * DirectRouting), else null. host-gw needs our public IP on an interface, as
 * flanneld's does ("your PublicIP differs from interface IP"): behind NAT the
 * other hosts' routes via that address would lead nowhere.
 */
export function networkSegment(conf: { backend: BackendType; directRouting: boolean }, ip: string | null, read = readSegment): Segment | null {
  if (conf.backend !== 'host-gw' && !conf.directRouting) return null;
  const segment = ip === null ? null : read(ip);
  if (!segment && conf.backend === 'host-gw') {
    throw new RuntimeError(`host-gw: no interface here has the public IP ${ip}; host-gw routes to hosts by it (no NAT): give --public-ip or --iface an address of this host`);
  }
  return segment;
}
