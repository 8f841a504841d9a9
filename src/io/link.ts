// Configuring links with iproute2 at start-up: the TAP's MAC, MTU, address
// and state, and the underlay's MTU. These run once, not per packet, and
// `ip` is on every Linux host weft runs on; its own error text is passed on.

import { execFileSync } from 'node:child_process';
import { RuntimeError } from '../config/errors.js';
import { formatMac } from '../wire/mac.js';

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new RuntimeError('the ip command is missing: install iproute2 (apt-get install iproute2)');
    throw new RuntimeError(`ip ${args.join(' ')}: ${(err.stderr ?? String(e)).trim().split('\n')[0]}`);
  }
}

export function configureTap(name: string, mac: number, mtu: number, queue: number, address: { ip: string; prefix: number } | null): void {
  ip(['link', 'set', 'dev', name, 'address', formatMac(mac), 'mtu', String(mtu), 'txqueuelen', String(queue)]);
  if (address) ip(['addr', 'add', `${address.ip}/${address.prefix}`, 'dev', name]);
  ip(['link', 'set', 'dev', name, 'up']);
}

/**
 * The udp backend's TUN as flanneld's configureIface leaves it
 * (pkg/backend/udp/udp_network_amd64.go): the lease's address as /32 (no
 * broadcast routes; only a source for the host's own traffic), the MTU, up,
 * and one route for the whole overlay `network` through it (`replace`
 * where flannel ignores EEXIST: a stale route left by another daemon is
 * taken over, not kept).
 */
export function configureTun(name: string, mtu: number, queue: number, address: string, network: string): void {
  ip(['link', 'set', 'dev', name, 'mtu', String(mtu), 'txqueuelen', String(queue)]);
  ip(['addr', 'add', `${address}/32`, 'dev', name]);
  ip(['link', 'set', 'dev', name, 'up']);
  ip(['route', 'replace', network, 'dev', name]);
}

/**
 * Caps the TCP/UDP super-frames the host hands the TAP at `segs` segments
 * (IFLA_GSO_MAX_SEGS). Returns false where the kernel or iproute2 refuses.
 * Why: a 64 KiB super-frame is ~46 segments, and once each has its VXLAN
 * and inner headers they no longer fit one UDP GSO send (64 KiB), so every
 * super-frame went out as two sends — a second trip through both stacks
 * for one or two datagrams.
 */
export function limitTapGsoSegs(name: string, segs: number): boolean {
  try {
    ip(['link', 'set', 'dev', name, 'gso_max_segs', String(segs)]);
    return true;
  } catch {
    return false;
  }
}

interface IpAddrInfo { ifname: string; mtu: number; addr_info?: { local: string }[] }

/**
 * MTU of the underlay interface: the one holding `local`, or else the one
 * the route to `towards` leaves by, or else the default route's. null when
 * none is found.
 */
export function underlayMtu(local: string | null, towards: string | null): number | null {
  try {
    const links = JSON.parse(ip(['-j', 'addr', 'show'])) as IpAddrInfo[];
    if (local) {
      const l = links.find((x) => x.addr_info?.some((a) => a.local === local));
      if (l) return l.mtu;
    }
    const dest = towards ?? '198.18.0.1';
    const r = JSON.parse(ip(['-j', 'route', 'get', dest])) as { dev?: string }[];
    const dev = r[0]?.dev;
    const l = links.find((x) => x.ifname === dev);
    return l ? l.mtu : null;
  } catch {
    return null;
  }
}
