// From runs to what a reader sees: per case and tunnel the median and
// min–max over repetitions, the weft/kernel, weft/tinc and weft/OVS ratios,
// the CPU per GB of the userspace tunnels (weft, tinc, OVS); then the same as
// a text table and as a self-contained SVG chart. tinc and OVS are optional:
// without one (not installed, or it did not come up) its fields are null and
// its rows are left out.

import type { LoadCase, Sample } from './iperf.js';

export type Tunnel = 'weft' | 'kernel' | 'tinc' | 'ovs';
export const TUNNELS: readonly Tunnel[] = ['weft', 'kernel', 'tinc', 'ovs'];

export interface RunRecord {
  case: string;
  tunnel: Tunnel;
  rep: number;
  sample: Sample | null;
  error: string | null;
  /** CPU seconds both weft processes used during this run (for kernel and tinc runs: weft idling). */
  weftCpuS: number;
  /** tinc and OVS runs: CPU seconds the tunnel's own processes (both tincds; both ovs-vswitchds and ovsdb-servers) used during the run; null on weft's and the kernel's runs. */
  tunnelCpuS: number | null;
}

export interface Stat { median: number; min: number; max: number }

export interface TunnelSummary {
  ok: number;
  failed: number;
  gbps: Stat | null;
  pps: Stat | null;
  lossPct: Stat | null;
  /** weft, tinc, OVS: CPU seconds of the tunnel's processes per 1e9 payload bytes carried (null for the kernel). */
  cpuSPerGB: Stat | null;
}

export interface CaseSummary {
  id: string;
  title: string;
  udp: boolean;
  weft: TunnelSummary;
  kernel: TunnelSummary;
  /** null when tinc was not part of the run. */
  tinc: TunnelSummary | null;
  /** Median weft Gbit/s ÷ median kernel Gbit/s (for fixed-size UDP the same as the packet-rate ratio). */
  ratio: number | null;
  /** Median weft Gbit/s ÷ median tinc Gbit/s, likewise. */
  ratioTinc: number | null;
  /** null when OVS was not part of the run. */
  ovs: TunnelSummary | null;
  /** Median weft Gbit/s ÷ median OVS Gbit/s, likewise. */
  ratioOvs: number | null;
}

export function stat(xs: number[]): Stat | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

/** The tunnels a summary has results for, in table order. */
export function tunnelsOf(s: CaseSummary): Tunnel[] {
  return TUNNELS.filter((t) => s[t] !== null);
}

const over = (a: TunnelSummary | null, b: TunnelSummary | null): number | null =>
  a?.gbps && b?.gbps && b.gbps.median > 0 ? a.gbps.median / b.gbps.median : null;

export function summarise(cases: readonly LoadCase[], runs: RunRecord[], withTinc: boolean, withOvs = false): CaseSummary[] {
  return cases.map((c) => {
    const of = (t: Tunnel): TunnelSummary => {
      const mine = runs.filter((r) => r.case === c.id && r.tunnel === t);
      const ok = mine.filter((r) => r.sample !== null) as (RunRecord & { sample: Sample })[];
      return {
        ok: ok.length,
        failed: mine.length - ok.length,
        gbps: stat(ok.map((r) => r.sample.gbps)),
        pps: stat(ok.map((r) => r.sample.pps)),
        lossPct: c.udp ? stat(ok.map((r) => r.sample.lossPct ?? 0)) : null,
        cpuSPerGB: t === 'kernel' ? null : stat(ok.filter((r) => r.sample.bytes > 0)
          .map((r) => (t === 'weft' ? r.weftCpuS : r.tunnelCpuS ?? NaN) / (r.sample.bytes / 1e9))
          .filter(Number.isFinite)),
      };
    };
    const weft = of('weft'), kernel = of('kernel'), tinc = withTinc ? of('tinc') : null, ovs = withOvs ? of('ovs') : null;
    return { id: c.id, title: c.title, udp: c.udp, weft, kernel, tinc, ratio: over(weft, kernel), ratioTinc: over(weft, tinc), ovs, ratioOvs: over(weft, ovs) };
  });
}

// ---- numbers as text ----

/** 3 significant digits, at least. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : a >= 0.01 ? x.toFixed(3) : x.toPrecision(2);
}

/** A count with k/M: 36.7 k, 1.43 M. */
export function count(x: number): string {
  return x >= 1e6 ? `${num(x / 1e6)} M` : x >= 1e3 ? `${num(x / 1e3)} k` : num(x);
}

function range(s: Stat | null, f: (x: number) => string): string {
  if (!s) return '–';
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

// ---- the table ----

export interface Heading {
  reps: number; seconds: number; kernel: string; cpus: number; iperf3: string; weftCommit: string;
  /** `tincd --version`'s version, or null when tinc is not part of the run. */
  tinc: string | null;
  /** `ovs-vswitchd --version`'s version, or null when OVS is not part of the run. */
  ovs: string | null;
  /** 1-minute load average when the run started (other work on the machine skews every tunnel). */
  loadAverage: number;
}

export interface Extras {
  /** Peak RSS per host of the weft processes, and of the tincd processes (empty without tinc). */
  rssBytes: Record<string, number>;
  tincRssBytes: Record<string, number>;
  /** weft's CPU seconds while the kernel tunnel, and while tinc, carried the load. */
  idleCpuS: number;
  idleCpuSTinc: number | null;
  /** Why tinc is missing from the run, if it is. */
  tincSkipped: string | null;
  /** weft's CPU seconds during the OVS runs, and why OVS is missing from the run, if it is. */
  idleCpuSOvs: number | null;
  ovsSkipped: string | null;
}

const pct = (r: number | null) => (r === null ? '' : `${(100 * r).toFixed(1)} %`);
const times = (r: number | null) => (r === null ? '' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`);
const mib = (m: Record<string, number>) => Object.entries(m).map(([host, b]) => `${host} ${(b / 2 ** 20).toFixed(1)} MiB`).join(', ');

export function title(h: Heading): string {
  return ['weft vs kernel vxlan', h.tinc !== null ? ' vs tinc' : '', h.ovs !== null ? ' vs OVS userspace' : ''].join('');
}

export function table(h: Heading, sums: CaseSummary[], x: Extras): string {
  const withTinc = sums.some((s) => s.tinc !== null), withOvs = sums.some((s) => s.ovs !== null);
  const head = ['case', 'tunnel', 'Gbit/s median (min–max)', 'packets/s median (min–max)', 'loss %', 'weft/kernel',
    ...(withTinc ? ['weft/tinc'] : []), ...(withOvs ? ['weft/OVS'] : []), 'CPU s/GB'];
  const rows: string[][] = [];
  for (const s of sums) {
    for (const t of tunnelsOf(s)) {
      const ts = s[t]!;
      const failed = ts.failed ? ` [${ts.failed} failed]` : '';
      rows.push([
        t === 'weft' ? s.id : '',
        t + failed,
        range(ts.gbps, num),
        range(ts.pps, count),
        ts.lossPct ? num(ts.lossPct.median) : '',
        t === 'weft' ? pct(s.ratio) : '',
        ...(withTinc ? [t === 'weft' ? times(s.ratioTinc) : ''] : []),
        ...(withOvs ? [t === 'weft' ? times(s.ratioOvs) : ''] : []),
        ts.cpuSPerGB ? range(ts.cpuSPerGB, num) : '',
      ]);
    }
  }
  const last = head.length - 1;
  const w = head.map((x, i) => Math.max(x.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i >= 2 && i !== last ? x.padStart(w[i]) : x.padEnd(w[i]))).join('  ').trimEnd();
  return [
    `${title(h)}: iperf3 ${h.iperf3}, ${h.reps} × ${h.seconds} s per case and tunnel, alternating; Linux ${h.kernel}, ${h.cpus} CPUs, load average ${h.loadAverage.toFixed(2)} at start; weft ${h.weftCommit}` +
      (h.tinc !== null ? `; tinc ${h.tinc}` : '') + (h.ovs !== null ? `; Open vSwitch ${h.ovs}` : ''),
    line(head),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.map(line),
    '',
    `weft peak RSS (VmHWM): ${mib(x.rssBytes)}` + (withTinc ? `; tincd: ${mib(x.tincRssBytes)}` : ''),
    `weft CPU while the other tunnels carried the load (idle cost): ${num(x.idleCpuS)} s during the kernel runs` +
      (x.idleCpuSTinc !== null ? `, ${num(x.idleCpuSTinc)} s during the tinc runs` : '') +
      (x.idleCpuSOvs !== null ? `, ${num(x.idleCpuSOvs)} s during the OVS runs` : '') + ', in total',
    'packets/s: UDP datagrams received; TCP payload bytes ÷ MSS (MTU-sized segments). Gbit/s: payload at the receiver, both directions summed for bidir.',
    `CPU s/GB: user + system CPU seconds of ${withTinc || withOvs ? 'the tunnel\'s processes in both hosts (weft, tincd, ovs-vswitchd + ovsdb-server)' : 'both weft processes'} per 10⁹ payload bytes; the kernel\'s is not attributable.`,
    ...(withTinc ? ['tinc: 1.0 switch mode over UDP, Cipher = none, Digest = none (no encryption, no MAC), TAP MTU 1450 like weft and vx0. weft/tinc: weft\'s median ÷ tinc\'s.'] : []),
    ...(x.tincSkipped ? [`tinc: not measured: ${x.tincSkipped.replace(/\s+/g, ' ').trim()}`] : []),
    ...(withOvs ? ['OVS: ovs-vswitchd\'s userspace datapath (datapath_type=netdev), native VXLAN tunnelling through br-phy, no userspace TSO, br-int at MTU 1450. weft/OVS: weft\'s median ÷ OVS\'s.'] : []),
    ...(x.ovsSkipped ? [`OVS: not measured: ${x.ovsSkipped.replace(/\s+/g, ' ').trim()}`] : []),
  ].join('\n') + '\n';
}

// ---- the chart ----

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One row per case, each scaled to its own largest value (a single axis
 * would flatten a slow tunnel next to a fast one): each tunnel's median as
 * a bar, min–max as whiskers, the ratios on the left, a dashed red mark at
 * 50 % of the kernel's median (the single-stream TCP target) and, on UDP rows
 * with tinc, a dashed green mark at 2× tinc's median (the small-packet
 * target).
 */
export function chart(h: Heading, sums: CaseSummary[]): string {
  const nT = Math.max(2, ...sums.map((s) => tunnelsOf(s).length));
  const W = 860, left = 240, barW = 400, barH = 20, gap = 8, rowH = 18 + nT * (barH + gap), top = 86;
  const H = top + sums.length * rowH + 34;
  const colour: Record<Tunnel, string> = { kernel: '#8a8f98', weft: '#2a7ab9', tinc: '#d98c2b', ovs: '#7a4fb0' };
  const withTinc = sums.some((s) => s.tinc !== null);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(`${title(h).replace('kernel', 'Linux kernel')} (iperf3 through the tunnel)`)}</text>`,
    `<text x="12" y="40" fill="#555">${esc(`bars: median of ${h.reps} × ${h.seconds} s; whiskers: min–max; each row has its own scale`)}</text>`,
    `<text x="12" y="56" fill="#555">${esc(`dashed red: 50 % of the kernel's median (TCP target)` + (withTinc ? `; dashed green: 2× tinc's median (small-packet target)` : ''))}</text>`,
    `<text x="12" y="72" fill="#555">${esc(`weft ${h.weftCommit}, Linux ${h.kernel}, ${h.cpus} CPUs, load ${h.loadAverage.toFixed(2)}, iperf3 ${h.iperf3}` + (h.tinc !== null ? `, tinc ${h.tinc}` : '') + (h.ovs !== null ? `, OVS ${h.ovs}` : ''))}</text>`,
  ];
  sums.forEach((s, k) => {
    const y0 = top + k * rowH;
    const ts = tunnelsOf(s);
    const metric = (t: Tunnel) => (s.udp ? s[t]?.pps : s[t]?.gbps) ?? null;
    const fmt = (x: number) => (s.udp ? `${count(x)} pkt/s` : `${num(x)} Gbit/s`);
    const tinc2 = s.udp ? metric('tinc') : null;
    const scale = Math.max(...ts.map((t) => metric(t)?.max ?? 0), tinc2 ? 2 * tinc2.median : 0, 1e-12);
    const x = (v: number) => left + (barW * v) / scale;
    const notes = [
      s.ratio !== null ? `weft/kernel ${(100 * s.ratio).toFixed(1)} %` : null,
      s.ratioTinc !== null ? `weft/tinc ${times(s.ratioTinc)}` : null,
      s.ratioOvs !== null ? `weft/OVS ${times(s.ratioOvs)}` : null,
      s.weft.cpuSPerGB ? `weft CPU ${num(s.weft.cpuSPerGB.median)} s/GB` : null,
      s.tinc?.cpuSPerGB ? `tinc CPU ${num(s.tinc.cpuSPerGB.median)} s/GB` : null,
      s.ovs?.cpuSPerGB ? `OVS CPU ${num(s.ovs.cpuSPerGB.median)} s/GB` : null,
    ].filter((n): n is string => n !== null);
    out.push(`<text x="12" y="${y0 + 24}" font-weight="bold">${esc(s.title)}</text>`);
    notes.forEach((n, j) => out.push(`<text x="12" y="${y0 + 40 + j * 14}" fill="#555">${esc(n)}</text>`));
    ts.forEach((t, j) => {
      const y = y0 + 8 + j * (barH + gap), m = metric(t);
      out.push(`<text x="${left - 6}" y="${y + 15}" text-anchor="end" fill="#333">${t}</text>`);
      if (!m) { out.push(`<text x="${left}" y="${y + 15}" fill="#b00">no result</text>`); return; }
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(m.median) - left).toFixed(1)}" height="${barH}" fill="${colour[t]}"/>`);
      out.push(`<line x1="${x(m.min).toFixed(1)}" x2="${x(m.max).toFixed(1)}" y1="${y + 10}" y2="${y + 10}" stroke="#000"/>`);
      for (const v of [m.min, m.max]) out.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y + 5}" y2="${y + 15}" stroke="#000"/>`);
      const loss = s[t]?.lossPct ? `, ${num(s[t]!.lossPct!.median)} % lost` : '';
      out.push(`<text x="${(x(m.max) + 8).toFixed(1)}" y="${y + 15}">${esc(fmt(m.median) + loss)}</text>`);
    });
    const y1 = y0 + 4, y2 = y0 + 12 + ts.length * (barH + gap);
    const k50 = metric('kernel');
    if (k50) out.push(`<line x1="${x(k50.median / 2).toFixed(1)}" x2="${x(k50.median / 2).toFixed(1)}" y1="${y1}" y2="${y2}" stroke="#d33" stroke-dasharray="4 3"/>`);
    if (tinc2) out.push(`<line x1="${x(2 * tinc2.median).toFixed(1)}" x2="${x(2 * tinc2.median).toFixed(1)}" y1="${y1}" y2="${y2}" stroke="#2a2" stroke-dasharray="4 3"/>`);
  });
  out.push(`<text x="12" y="${H - 12}" fill="#555">TCP rows in Gbit/s of payload at the receiver (bidir: both directions summed); UDP row in datagrams received per second.</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
