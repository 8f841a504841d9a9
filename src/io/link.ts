// Configuring links with iproute2 at start-up: the TAP's MAC, MTU, address
// and state, and the underlay's MTU; and what a TAP left by an earlier weft
// holds (the TAP is persistent: io/tap.ts). These run once, not per packet,
// and `ip` is on every Linux host weft runs on; its own error text is passed on.

import { execFile, execFileSync } from 'node:child_process';
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

/** What `ip -j -d addr show dev NAME` says of a link, as far as weft cares. */
export interface LinkState {
  mtu: number;
  txqlen: number;
  address: string;
  up: boolean;
  /** Addresses as "ip/prefix". */
  addrs: string[];
  /** linkinfo: the kind ("tun" for TUN and TAP) and, for those, the flags they were made with. */
  kind: string | null;
  tun: { type: string; pi: boolean; vnetHdr: boolean; multiQueue: boolean; persist: boolean } | null;
}

/** Parses `ip -j -d addr show dev NAME`'s output (one link). */
export function parseLinkState(json: string): LinkState {
  const l = (JSON.parse(json) as Record<string, unknown>[])[0] as {
    mtu: number; txqlen?: number; address?: string; flags?: string[]; addr_info?: { local: string; prefixlen: number }[];
    linkinfo?: { info_kind?: string; info_data?: { type?: string; pi?: boolean; vnet_hdr?: boolean; multi_queue?: boolean; persist?: boolean } };
  };
  const d = l.linkinfo?.info_data;
  return {
    mtu: l.mtu, txqlen: l.txqlen ?? 0, address: (l.address ?? '').toLowerCase(), up: (l.flags ?? []).includes('UP'),
    addrs: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
    kind: l.linkinfo?.info_kind ?? null,
    tun: d ? { type: d.type ?? '', pi: d.pi ?? false, vnetHdr: d.vnet_hdr ?? false, multiQueue: d.multi_queue ?? false, persist: d.persist ?? false } : null,
  };
}

/** The link `name` as it is now, or null when there is none. */
export function linkState(name: string): LinkState | null {
  let out: string;
  try {
    out = execFileSync('ip', ['-j', '-d', 'addr', 'show', 'dev', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new RuntimeError('the ip command is missing: install iproute2 (apt-get install iproute2)');
    return null;
  }
  return parseLinkState(out);
}

/**
 * Why weft cannot take over the existing link `name` as its TAP, or null
 * when it can: it must be a TAP made as weft makes them (IFF_TAP, no packet
 * information, a virtio-net header, one queue), or TUNSETIFF would refuse it.
 */
export function tapReuseProblem(name: string, s: LinkState): string | null {
  if (s.kind !== 'tun' || s.tun === null) return `'${name}' exists and is not a TAP (${s.kind ?? 'a device without a kind'}): pick another --tap, or delete it (ip link del ${name})`;
  const t = s.tun;
  const have = [t.type, t.pi ? 'pi' : '', t.vnetHdr ? 'vnet_hdr' : '', t.multiQueue ? 'multi_queue' : ''].filter(Boolean).join(' ');
  if (t.type !== 'tap' || t.pi || !t.vnetHdr || t.multiQueue) {
    return `TAP '${name}' exists with other flags than weft's (it has: ${have}; weft needs: tap vnet_hdr, one queue): ` +
      `delete it (ip link del ${name}) or pick another --tap`;
  }
  return null;
}

/** The `ip` commands (as argument lists) that make link `name` as `s` is into one with this MAC, MTU, queue and address, up; none for what already is. */
export function tapConfigCommands(name: string, s: LinkState | null, mac: number, mtu: number, queue: number,
  address: { ip: string; prefix: number } | null): string[][] {
  const cmds: string[][] = [];
  const set: string[] = [];
  if (s?.address !== formatMac(mac)) set.push('address', formatMac(mac));
  if (s?.mtu !== mtu) set.push('mtu', String(mtu));
  if (s?.txqlen !== queue) set.push('txqueuelen', String(queue));
  if (set.length) cmds.push(['link', 'set', 'dev', name, ...set]);
  const cidr = address ? `${address.ip}/${address.prefix}` : null;
  if (cidr !== null && !(s?.addrs ?? []).includes(cidr)) cmds.push(['addr', 'add', cidr, 'dev', name]);
  if (!s?.up) cmds.push(['link', 'set', 'dev', name, 'up']);
  return cmds;
}

/**
 * Gives the TAP its MAC, MTU, queue length and address and sets it up,
 * changing only what differs: a TAP an earlier weft left keeps its
 * addresses, routes and neighbours (the kernel drops a link's routes when
 * its address is removed or it goes down), and nothing is flapped.
 */
export function configureTap(name: string, mac: number, mtu: number, queue: number, address: { ip: string; prefix: number } | null,
  current: LinkState | null | undefined = undefined): void {
  // `current`: the link as the caller just read it (null: a new TAP), saving a look.
  const now = current === undefined ? linkState(name) : current;
  for (const c of tapConfigCommands(name, now, mac, mtu, queue, address)) ip(c);
}

/**
 * How many addresses (global ones), routes and neighbour entries link
 * `name` holds: what a reattach kept. Asked without blocking (it is only
 * reported), so frames queued on a reattached TAP go through meanwhile.
 */
export async function tapHolds(name: string): Promise<{ addresses: number; routes: number; neighbours: number }> {
  const ask = (args: string[]) => new Promise<unknown[]>((resolve) => {
    execFile('ip', args, { encoding: 'utf8' }, (err, out) => {
      try { resolve(err ? [] : JSON.parse(out) as unknown[]); } catch { resolve([]); }
    });
  });
  // The kernel's own routes (an address's prefix, link-local) come and go with the addresses: not counted.
  const own = (rs: unknown[]) => (rs as { protocol?: string }[]).filter((r) => r.protocol !== 'kernel').length;
  const [addrs, r4, r6, neigh] = await Promise.all([
    ask(['-j', 'addr', 'show', 'dev', name]), ask(['-j', 'route', 'show', 'dev', name]),
    ask(['-j', '-6', 'route', 'show', 'dev', name]), ask(['-j', 'neigh', 'show', 'dev', name, 'nud', 'permanent']),
  ]);
  const info = ((addrs as { addr_info?: { local: string }[] }[])[0]?.addr_info ?? []);
  return { addresses: info.filter((x) => !x.local.startsWith('fe80:')).length, routes: own(r4) + own(r6), neighbours: neigh.length };
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
