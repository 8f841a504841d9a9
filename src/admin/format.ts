// How the client commands print what a weft answers: shaped like the tools
// operators know (`bridge fdb show`, `ip -s link`), one fact per line,
// greppable. `--json` prints the replies themselves instead.

import type { FdbShowResult, LeaseView, PeersResult, StatsResult } from './commands.js';

/** `bridge fdb show` style: MAC dev TAP dst IP vni N static|learned [age S]. */
export function formatFdb(r: FdbShowResult): string {
  return r.entries.map((e) => `${e.mac} dev ${e.tap ?? r.tap} dst ${e.dst} vni ${e.vni} ${e.state}${e.ageS !== undefined ? ` age ${e.ageS}` : ''}`).join('\n');
}

export function formatPeers(r: PeersResult): string {
  const out: string[] = [];
  for (const v of r.vnis) out.push(`vni ${v.vni} port ${v.port} flood ${v.flood.length ? v.flood.join(' ') : '(empty: unknown destinations are dropped)'}`);
  for (const p of r.vteps) out.push(`vtep ${p.ip} port ${p.port}${p.flood ? ' flood' : ''} macs ${p.macs}${p.static ? ` static ${p.static}` : ''}`);
  const c = r.control;
  if (c) {
    const ours = [c.publicIp ? `public-ip ${c.publicIp}` : '', c.publicIpv6 ? `public-ipv6 ${c.publicIpv6}` : ''].filter(Boolean).join(' ');
    out.push(`lease ${c.subnet} ${ours} vtep-mac ${c.vtepMac} ours store ${c.store} ${c.storeReachable ? 'reachable' : 'UNREACHABLE'}`);
    for (const l of c.leases) out.push(`lease ${leaseLine(l)}`);
    for (const l of c.refused ?? []) out.push(`lease ${leaseLine(l)} REFUSED ${l.reason}${l.why ? `: ${l.why}` : ''}`);
  }
  return out.join('\n');
}

/**
 * A lease's sides: `SUBNET public-ip IP vtep-mac MAC`, then ` public-ipv6 IP vtep-mac6 MAC` for its IPv6 side,
 * then ` path P` when it has one, and ` path6 P` for the IPv6 side of a lease with both.
 */
function leaseLine(l: LeaseView): string {
  const v4 = l.publicIp !== null ? ` public-ip ${l.publicIp} vtep-mac ${l.vtepMac ?? '-'}` : '';
  const v6 = l.publicIpv6 ? ` public-ipv6 ${l.publicIpv6} vtep-mac6 ${l.vtepMac6 ?? '-'}` : '';
  return `${l.subnet}${v4}${v6}${l.path ? ` path ${l.path}` : ''}${l.path6 ? ` path6 ${l.path6}` : ''}`;
}

/** Columns: a header and a value (and, when watching, a per-second rate) under each. */
function table(indent: string, label: string, cols: [string, number, number?][]): string[] {
  const w = cols.map(([h, v, r]) => Math.max(h.length, String(v).length, r === undefined ? 0 : rate(r).length) + 2);
  const pad = ' '.repeat(label.length);
  const row = (cells: string[]) => cells.map((s, i) => i === cells.length - 1 ? s : s.padEnd(w[i])).join('');
  const lines = [`${indent}${label}${row(cols.map(([h]) => h))}`, `${indent}${pad}${row(cols.map(([, v]) => String(v)))}`];
  if (cols.some(([, , r]) => r !== undefined)) lines.push(`${indent}${pad}${row(cols.map(([, , r]) => (r === undefined ? '' : rate(r))))}`);
  return lines.map((l) => l.trimEnd());
}

function rate(x: number): string {
  const v = Math.max(0, x);
  const s = v >= 1e9 ? `${(v / 1e9).toFixed(1)}G` : v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(v < 10 && v % 1 !== 0 ? 1 : 0);
  return `${s}/s`;
}

function uptime(s: number): string {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(Math.floor(sec)).padStart(2, '0')}s` : `${sec.toFixed(1)}s`;
}

/**
 * `ip -s link` style. With `prev` (the reply from `dtS` seconds earlier, as
 * `--watch` has), a third row under each table gives rates per second.
 */
export function formatStats(r: StatsResult, prev?: StatsResult, dtS?: number): string {
  const c = r.counters;
  const per = (k: keyof StatsResult['counters']): number | undefined => (prev && dtS ? (c[k] - prev.counters[k]) / dtS : undefined);
  const sum = (re: RegExp, from: StatsResult['counters']) => Object.entries(from).filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0);
  const rxDrop = sum(/^rx_drop_/, c), txDrop = sum(/^tx_drop_/, c);
  const dropRate = (re: RegExp) => (prev && dtS ? (sum(re, c) - sum(re, prev.counters)) / dtS : undefined);
  const o = r.offload;
  const offloads = o ? ['tso', 'uso', 'gso', 'gro'].filter((k) => o[k] === true).join('+') || 'off' : 'n/a';
  const lines = [
    `${r.tap}: vni ${r.vni} port ${r.port} local ${r.local ?? 'any'} up ${uptime(r.uptimeS)} vteps ${r.peers} offload ${offloads}${r.capture ? ` capturing ${r.capture.side}` : ''}`,
    ...table('    ', 'RX: ', [
      ['datagrams', c.rx_datagrams, per('rx_datagrams')], ['frames', c.rx_frames, per('rx_frames')],
      ['bytes', c.rx_bytes, per('rx_bytes')], ['dropped', rxDrop, dropRate(/^rx_drop_/)],
    ]),
    ...table('    ', 'TX: ', [
      ['frames', c.tx_frames, per('tx_frames')], ['bytes', c.tx_bytes, per('tx_bytes')],
      ['datagrams', c.tx_datagrams, per('tx_datagrams')], ['dropped', txDrop, dropRate(/^tx_drop_/)],
      ['unicast', c.tx_unicast, per('tx_unicast')], ['flooded', c.tx_flooded, per('tx_flooded')],
      ['flood-copies', c.tx_flood_copies, per('tx_flood_copies')],
    ]),
  ];
  if (r.startedMs !== undefined) {
    lines.push(`    process started ${new Date(r.startedMs).toISOString()}, tap handovers ${r.handovers ?? 0}, crash-reattaches ${r.crashReattaches ?? 0}`);
  }
  // Several VNIs: each one's own traffic (the rows above are the totals).
  if (r.vnis && r.vnis.length > 1) {
    for (const v of r.vnis) lines.push(`    vni ${v.vni} ${v.tap}: rx frames ${v.rxFrames} bytes ${v.rxBytes}, tx frames ${v.txFrames} bytes ${v.txBytes}`);
  }
  // Several workers: how the traffic split between them.
  for (const w of r.workers ?? []) {
    const n = (k: string) => w.counters[k] ?? 0;
    lines.push(`    worker ${w.worker}: rx datagrams ${n('rx_datagrams')} frames ${n('rx_frames')}, tx frames ${n('tx_frames')} datagrams ${n('tx_datagrams')}`);
  }
  const drops = Object.entries(c).filter(([k, v]) => /_drop_/.test(k) && v !== 0);
  lines.push(`    drops: ${drops.length ? drops.map(([k, v]) => `${k} ${v}`).join(' ') : 'none'}`);
  // Frames too big for the MTU, answered with ICMP (or not, over --icmp-rate).
  if (c.icmp_too_big_sent || c.icmp_too_big_limited) lines.push(`    icmp too-big: sent ${c.icmp_too_big_sent ?? 0} rate-limited ${c.icmp_too_big_limited ?? 0}`);
  const f = r.fdb;
  const addRefused = Object.entries(f.addRefused ?? {}).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`);
  lines.push(`    fdb: entries ${f.entries} of ${f.max} learned ${f.learned} moved ${f.moved} aged ${f.aged} removed ${f.removed}` +
    `${addRefused.length ? ` add-refused ${addRefused.join(' ')}` : ''}`);
  if (r.peerCapacity !== undefined) lines.push(`    peers: vteps ${r.peers} of ${r.peerCapacity}`);
  const l = r.leases;
  if (l) {
    const nonzero = (m: Record<string, number>) => Object.entries(m).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(' ') || 'none';
    lines.push(`    leases: programmed ${l.programmed} refused ${Object.values(l.refused).reduce((a, n) => a + n, 0)} (now: ${nonzero(l.refused)}; since start: ${nonzero(l.refusedTotal)})`);
    if (l.routes) lines.push(`    direct routes: checks ${l.routes.checks} put back ${l.routes.restored}`);
  }
  lines.push(`    batches: ${Object.entries(r.batches).map(([d, b]) => `${d.replace(/_/g, '-')} ${b.reads} reads ${b.reads ? (b.packets / b.reads).toFixed(1) : '0'}/read`).join(', ')}`);
  if (o) {
    lines.push(`    offload: tso ${o.superFramesIn} super-frames → ${o.segmentsOut} segments, coalesced ${o.coalesced}` +
      `${o.csumBadOut ? ` (bad checksums ${o.csumBadOut}, not merged)` : ''}, ` +
      `gso ${o.gsoMessages} msgs → ${o.gsoDatagrams} datagrams, gro ${o.groMessages} msgs → ${o.groDatagrams} datagrams`);
  }
  return lines.join('\n');
}
