// `weft replay`: a pcap through the forwarding loop the daemon runs
// (replay-run.ts), with the capture's time as its clock. This file is the
// command line: options, help and the summary.

import { parseArgs } from 'node:util';
import { UsageError } from '../config/errors.js';
import { parseVni, parsePort, parseIp, parseStatic, parseIntIn, DEFAULT_PORT } from '../config/values.js';
import { replayDecap, replayEncap, replayUdpDecap, replayUdpEncap, type ReplayResult, type ReplayEndpoints, type UdpReplayEndpoints, type ReplayProgress } from './replay-run.js';
import { formatMac } from '../wire/mac.js';
import { DEFAULT_ICMP_RATE } from '../datapath/datapath.js';
import { UDP_BACKEND_PORT } from '../control/net-conf.js';
import { parseCidr4, formatSubnet, subnetOf } from '../control/ip4.js';

export const REPLAY_HELP = `Usage:
  weft replay --decap IN.pcap OUT.pcap [--vni N] [--port N] [--ignore-reserved]
  weft replay --encap IN.pcap OUT.pcap --local IP --peer IP [--peer IP …]
              [--vni N] [--port N] [--static MAC=IP …] [--mtu N]
  weft replay --udp-backend --decap IN.pcap OUT.pcap [--route SUBNET=IP …] [--port N]
  weft replay --udp-backend --encap IN.pcap OUT.pcap --local IP --route SUBNET=IP
              [--route SUBNET=IP …] [--port N] [--mtu N]

Runs a classic pcap (Ethernet link type; raw IPv4 for --udp-backend
--encap) through weft's forwarding loop and data path, the same code the
daemon runs (with the capture's timestamps as its clock), and writes the
result as classic pcap.

  --decap            IN holds outer frames (Ethernet/IPv4 or IPv6/UDP/VXLAN);
                     OUT gets the inner frames that pass decap, in order,
                     byte-exact. Datagrams not sent to --port are skipped and
                     counted.
  --encap            IN holds inner Ethernet frames; OUT gets one outer frame
                     (Ethernet/IP/UDP/VXLAN, valid IPv4 header and UDP
                     checksums) per datagram sent: a flooded frame yields one
                     per peer. ICMP answers to frames too big for --mtu go
                     into OUT as well, as the TAP would get them: plain
                     Ethernet frames, each after the outer frames of its
                     batch, with the too-big frame's timestamp.
  --vni N            VXLAN network identifier, 0–16777215 (default 1)
  --port N           UDP destination port (default 8472, as Linux and flannel;
                     4789 is the IANA port)
  --local IP         underlay source address (encap)
  --peer IP          a flood-list VTEP (encap; repeatable; same family as --local)
  --static MAC=IP    pin MAC to the VTEP at IP (repeatable)
  --mtu N            the overlay MTU, 68–65465 (encap): larger frames are
                     dropped (tx_drop_too_big) and answered with ICMP
                     "fragmentation needed" / "packet too big", at most
                     ${DEFAULT_ICMP_RATE} a second of capture time; default: no limit, no answers
  --ignore-reserved  accept datagrams with reserved VXLAN bits set, as RFC 7348
                     §5 asks; by default they are dropped, as Linux does
  -h, --help         this text

With --udp-backend, the loop of flannel's udp backend (Backend.Type "udp":
bare IPv4 packets in UDP between the hosts' TUN devices) instead:
  --decap            IN holds outer frames (Ethernet/IPv4/UDP, the payload a
                     bare IPv4 packet); OUT gets the packets the TUN would be
                     given (TTL − 1), as raw IPv4 (link type 101), byte-exact,
                     and the ICMP "time exceeded" answers after their batch
  --encap            IN holds raw IPv4 packets (link type 101 or 228, as
                     tcpdump writes for a TUN); OUT gets one outer frame
                     (Ethernet/IPv4/UDP, valid checksums, source port
                     --port) per datagram sent, and the ICMP answers the TUN
                     would be given (no route, TTL) after the datagrams of
                     their batch, as Ethernet frames to this host
  --route SUBNET=IP  a lease: SUBNET (IPv4 CIDR) is at the host with PublicIP
                     IP (repeatable; encap: at least one). Decap takes
                     datagrams only from these hosts, or from any when none
                     is given
  --port N           the backend's port (default ${UDP_BACKEND_PORT}, flannel's)
  --local IP         underlay source address (encap; IPv4)
  --mtu N            the TUN's MTU, 68–65535 (encap): larger packets are
                     dropped (tx_drop_too_big); default: no limit

The summary (stderr) counts every outcome by name and lists the forwarding
table (--udp-backend: the routes) at the end; in --encap its first line
says how many of the records in OUT are ICMP answers, when there are any.
VXLAN's UDP source ports are a hash of the inner flow, in 32768–60999
(Linux's default range). On a terminal, progress is shown.

Exit status: 0 done, 1 the input could not be read, 2 bad usage.`;

export async function replayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      decap: { type: 'boolean' },
      encap: { type: 'boolean' },
      vni: { type: 'string' },
      port: { type: 'string' },
      local: { type: 'string' },
      peer: { type: 'string', multiple: true },
      static: { type: 'string', multiple: true },
      mtu: { type: 'string' },
      'ignore-reserved': { type: 'boolean' },
      'udp-backend': { type: 'boolean' },
      route: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(REPLAY_HELP + '\n');
    return 0;
  }
  if (values.decap === values.encap) throw new UsageError('replay: give exactly one of --decap or --encap (see weft replay --help)');
  if (positionals.length !== 2) throw new UsageError('replay: give an input and an output pcap: weft replay --decap IN.pcap OUT.pcap');
  const [input, output] = positionals;
  if (values['udp-backend']) return replayUdpCommand(values, input, output);
  if (values.route) throw new UsageError('replay: --route is for --udp-backend; VXLAN replay takes --peer and --static');
  const ep: ReplayEndpoints = {
    vni: values.vni !== undefined ? parseVni(values.vni) : 1,
    port: values.port !== undefined ? parsePort(values.port) : DEFAULT_PORT,
    peers: [],
    statics: [],
  };
  const peers = values.peer ?? [];
  for (const s of values.static ?? []) {
    const st = parseStatic(s);
    ep.statics.push({ mac: st.mac, ip: st.ip });
  }
  if (values.encap) {
    if (!values.local) throw new UsageError('replay --encap: --local IP is required (the underlay source address)');
    const local = parseIp(values.local, '--local');
    if (peers.length === 0 && ep.statics.length === 0) throw new UsageError('replay --encap: give at least one --peer IP (or --static MAC=IP)');
    for (const p of peers) {
      const pp = parseIp(p, '--peer');
      if (pp.family !== local.family) throw new UsageError(`--peer ${p}: IPv${pp.family}, but --local is IPv${local.family}; use one family`);
      ep.peers.push(pp.ip);
    }
    for (const s of ep.statics) {
      if (parseIp(s.ip, '--static').family !== local.family) throw new UsageError(`--static ${formatMac(s.mac)}=${s.ip}: address family differs from --local`);
    }
    ep.local = local.ip;
    // The range `weft run --mtu` takes: what one datagram can carry over IPv6.
    if (values.mtu !== undefined) ep.mtu = parseIntIn('--mtu', values.mtu, 68, 65535 - 70);
  } else if (peers.length > 0 || values.local) {
    throw new UsageError('replay --decap: --peer and --local are for --encap; decap learns its peers from the capture');
  } else if (values.mtu !== undefined) {
    throw new UsageError('replay --decap: --mtu is for --encap; the MTU limits what is encapsulated');
  }

  const dpOpts = { strictReserved: !values['ignore-reserved'] };
  const mode = values.decap ? 'decap' : 'encap';
  return report(mode, input, output, (progress) => values.decap
    ? replayDecap(input, output, ep, dpOpts, progress)
    : replayEncap(input, output, ep, dpOpts, progress));
}

interface ReplayValues { decap?: boolean; vni?: string; port?: string; local?: string; peer?: string[]; static?: string[]; mtu?: string; 'ignore-reserved'?: boolean; route?: string[] }

/** `--udp-backend`: the options of the udp backend's replay, checked, then the run. */
async function replayUdpCommand(values: ReplayValues, input: string, output: string): Promise<number> {
  const vxlanOnly = (['vni', 'peer', 'static', 'ignore-reserved'] as const).filter((k) => values[k] !== undefined);
  if (vxlanOnly.length) throw new UsageError(`replay --udp-backend: --${vxlanOnly[0]} is VXLAN's; the udp backend takes --route, --port, --local and --mtu`);
  const ep: UdpReplayEndpoints = {
    port: values.port !== undefined ? parsePort(values.port) : UDP_BACKEND_PORT,
    routes: (values.route ?? []).map(parseRoute),
  };
  if (values.decap) {
    if (values.local || values.mtu !== undefined) throw new UsageError('replay --udp-backend --decap: --local and --mtu are for --encap');
  } else {
    if (!values.local) throw new UsageError('replay --udp-backend --encap: --local IP is required (the underlay source address)');
    if (parseIp(values.local, '--local').family !== 4) throw new UsageError(`--local ${values.local}: the udp backend carries IPv4 over IPv4`);
    if (ep.routes.length === 0) throw new UsageError('replay --udp-backend --encap: give at least one --route SUBNET=IP (e.g. --route 10.244.2.0/24=198.18.0.2)');
    ep.local = values.local;
    if (values.mtu !== undefined) ep.mtu = parseIntIn('--mtu', values.mtu, 68, 65535);
  }
  const mode = values.decap ? 'udp-backend decap' : 'udp-backend encap';
  return report(mode, input, output, (progress) => values.decap ? replayUdpDecap(input, output, ep, progress) : replayUdpEncap(input, output, ep, progress));
}

/** `SUBNET=IP`: an IPv4 lease subnet and its host's PublicIP. */
function parseRoute(s: string): { net: number; len: number; ip: string } {
  const eq = s.indexOf('=');
  const c = eq < 0 ? null : parseCidr4(s.slice(0, eq));
  if (c === null) throw new UsageError(`--route: '${s}' should be SUBNET=IP with an IPv4 subnet (like 10.244.2.0/24=198.18.0.2)`);
  if (c.hostBits) throw new UsageError(`--route: ${s.slice(0, eq)} has bits set past the prefix; the subnet is ${formatSubnet(subnetOf(c.ip, c.len))}`);
  const ip = parseIp(s.slice(eq + 1), '--route');
  if (ip.family !== 4) throw new UsageError(`--route ${s}: the udp backend's hosts have IPv4 PublicIPs`);
  return { net: c.ip, len: c.len, ip: ip.ip };
}

/** Runs a replay with progress on a terminal, then writes the summary. */
async function report(mode: string, input: string, output: string, run: (progress?: ReplayProgress) => Promise<ReplayResult>): Promise<number> {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const progress = tty ? (n: number, bytes: number) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    process.stderr.write(`\rreplay: ${n} records, ${(bytes / 1e6).toFixed(1)} MB`);
  } : undefined;
  const r = await run(progress);
  if (tty) process.stderr.write('\r\x1b[K');
  process.stderr.write(summary(mode, input, output, r));
  return 0;
}

export function summary(mode: string, input: string, output: string, r: ReplayResult): string {
  // Encap's output is outer frames; the TAP's (TUN's) frames in it are ICMP answers, said when there are any.
  const dev = r.routes ? 'TUN' : 'TAP';
  const answers = mode.endsWith('encap') && r.toTap > 0 ? ` (${r.recordsOut - r.toTap} outer frames, ${r.toTap} ICMP answers for the ${dev} as plain Ethernet frames)` : '';
  const lines = [`replay ${mode}: ${r.recordsIn} records from ${input}, ${r.recordsOut} written to ${output}${answers}`];
  const outer = Object.entries(r.outer).filter(([, n]) => n !== 0);
  if (outer.length) lines.push('  outer:');
  for (const [k, n] of outer) lines.push(`    ${k.padEnd(26)} ${n}`);
  lines.push('  data path:');
  for (const [k, n] of Object.entries(r.dp.counters.nonZero())) lines.push(`    ${k.padEnd(26)} ${n}`);
  if (r.routes) {
    lines.push(`  routes (${r.routes.length}):`);
    for (const e of r.routes) lines.push(`    ${formatSubnet({ ip: e.net, len: e.len })} → ${e.to}`);
    return lines.join('\n') + '\n';
  }
  lines.push(`  forwarding table (${r.dp.fdb.size} entries):`);
  r.dp.fdb.forEach((vni, mac, peer, isStatic) => {
    lines.push(`    ${formatMac(mac)} dst ${r.dp.peers.ipString(peer)} vni ${vni} ${isStatic ? 'static' : 'learned'}`);
  });
  return lines.join('\n') + '\n';
}
