// From runs to what a reader sees: per case and tunnel the median and
// min–max over repetitions, the weft/kernel ratio, weft's CPU per GB; then
// the same as a text table and as a self-contained SVG chart.

import type { LoadCase, Sample } from './iperf.js';

export type Tunnel = 'weft' | 'kernel';
export const TUNNELS: readonly Tunnel[] = ['weft', 'kernel'];

export interface RunRecord {
  case: string;
  tunnel: Tunnel;
  rep: number;
  sample: Sample | null;
  error: string | null;
  /** CPU seconds both weft processes used during this run (for kernel runs: weft idling). */
  weftCpuS: number;
}

export interface Stat { median: number; min: number; max: number }

export interface TunnelSummary {
  ok: number;
  failed: number;
  gbps: Stat | null;
  pps: Stat | null;
  lossPct: Stat | null;
  /** weft only: CPU seconds of both weft processes per 1e9 payload bytes carried. */
  cpuSPerGB: Stat | null;
}

export interface CaseSummary {
  id: string;
  title: string;
  udp: boolean;
  weft: TunnelSummary;
  kernel: TunnelSummary;
  /** Median weft Gbit/s ÷ median kernel Gbit/s (for fixed-size UDP the same as the packet-rate ratio). */
  ratio: number | null;
}

export function stat(xs: number[]): Stat | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

export function summarise(cases: readonly LoadCase[], runs: RunRecord[]): CaseSummary[] {
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
        cpuSPerGB: t === 'weft' ? stat(ok.filter((r) => r.sample.bytes > 0).map((r) => r.weftCpuS / (r.sample.bytes / 1e9))) : null,
      };
    };
    const weft = of('weft'), kernel = of('kernel');
    const ratio = weft.gbps && kernel.gbps && kernel.gbps.median > 0 ? weft.gbps.median / kernel.gbps.median : null;
    return { id: c.id, title: c.title, udp: c.udp, weft, kernel, ratio };
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

export interface Heading { reps: number; seconds: number; kernel: string; cpus: number; iperf3: string; weftCommit: string }

export function table(h: Heading, sums: CaseSummary[], rssBytes: Record<string, number>, idleCpuS: number): string {
  const head = ['case', 'tunnel', 'Gbit/s median (min–max)', 'packets/s median (min–max)', 'loss %', 'weft/kernel', 'weft CPU s/GB'];
  const rows: string[][] = [];
  for (const s of sums) {
    for (const t of TUNNELS) {
      const ts = s[t];
      const failed = ts.failed ? ` [${ts.failed} failed]` : '';
      rows.push([
        t === 'weft' ? s.id : '',
        t + failed,
        range(ts.gbps, num),
        range(ts.pps, count),
        ts.lossPct ? num(ts.lossPct.median) : '',
        t === 'weft' && s.ratio !== null ? `${(100 * s.ratio).toFixed(1)} %` : '',
        ts.cpuSPerGB ? range(ts.cpuSPerGB, num) : '',
      ]);
    }
  }
  const w = head.map((x, i) => Math.max(x.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i >= 2 && i !== 6 ? x.padStart(w[i]) : x.padEnd(w[i]))).join('  ').trimEnd();
  const rss = Object.entries(rssBytes).map(([host, b]) => `${host} ${(b / 2 ** 20).toFixed(1)} MiB`).join(', ');
  return [
    `weft vs kernel vxlan: iperf3 ${h.iperf3}, ${h.reps} × ${h.seconds} s per case and tunnel, alternating; Linux ${h.kernel}, ${h.cpus} CPUs; weft ${h.weftCommit}`,
    line(head),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.map(line),
    '',
    `weft peak RSS (VmHWM): ${rss}`,
    `weft CPU while the kernel tunnel carried the load (idle cost): ${num(idleCpuS)} s in total`,
    'packets/s: UDP datagrams received; TCP payload bytes ÷ MSS (MTU-sized segments). Gbit/s: payload at the receiver, both directions summed for bidir.',
  ].join('\n') + '\n';
}

// ---- the chart ----

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One row per case, each scaled to its own largest value (a single axis
 * would flatten a slow tunnel next to a fast one): the kernel's and weft's
 * median as bars, min–max as whiskers, the ratio on the right and a dashed
 * mark at 50 % of the kernel's median, the issue's target.
 */
export function chart(h: Heading, sums: CaseSummary[]): string {
  const W = 860, left = 240, barW = 400, rowH = 74, top = 70;
  const H = top + sums.length * rowH + 34;
  const colour: Record<Tunnel, string> = { kernel: '#8a8f98', weft: '#2a7ab9' };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">weft vs Linux kernel vxlan (iperf3 through the tunnel)</text>`,
    `<text x="12" y="40" fill="#555">${esc(`bars: median of ${h.reps} × ${h.seconds} s; whiskers: min–max; dashed red: 50 % of the kernel's median (the target); each row has its own scale`)}</text>`,
    `<text x="12" y="56" fill="#555">${esc(`weft ${h.weftCommit}, Linux ${h.kernel}, ${h.cpus} CPUs, iperf3 ${h.iperf3}`)}</text>`,
  ];
  sums.forEach((s, k) => {
    const y0 = top + k * rowH;
    const metric = (t: Tunnel) => (s.udp ? s[t].pps : s[t].gbps);
    const fmt = (x: number) => (s.udp ? `${count(x)} pkt/s` : `${num(x)} Gbit/s`);
    const scale = Math.max(...TUNNELS.map((t) => metric(t)?.max ?? 0), 1e-12);
    const x = (v: number) => left + (barW * v) / scale;
    out.push(`<text x="12" y="${y0 + 24}" font-weight="bold">${esc(s.title)}</text>`);
    if (s.ratio !== null) out.push(`<text x="12" y="${y0 + 42}" fill="#555">weft/kernel ${(100 * s.ratio).toFixed(1)} %</text>`);
    if (s.weft.cpuSPerGB) out.push(`<text x="12" y="${y0 + 58}" fill="#555">weft CPU ${num(s.weft.cpuSPerGB.median)} s/GB</text>`);
    TUNNELS.forEach((t, j) => {
      const y = y0 + 8 + j * 28, m = metric(t);
      out.push(`<text x="${left - 6}" y="${y + 15}" text-anchor="end" fill="#333">${t}</text>`);
      if (!m) { out.push(`<text x="${left}" y="${y + 15}" fill="#b00">no result</text>`); return; }
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(m.median) - left).toFixed(1)}" height="20" fill="${colour[t]}"/>`);
      out.push(`<line x1="${x(m.min).toFixed(1)}" x2="${x(m.max).toFixed(1)}" y1="${y + 10}" y2="${y + 10}" stroke="#000"/>`);
      for (const v of [m.min, m.max]) out.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y + 5}" y2="${y + 15}" stroke="#000"/>`);
      const loss = s[t].lossPct ? `, ${num(s[t].lossPct!.median)} % lost` : '';
      out.push(`<text x="${(x(m.max) + 8).toFixed(1)}" y="${y + 15}">${esc(fmt(m.median) + loss)}</text>`);
    });
    const k50 = metric('kernel');
    if (k50) out.push(`<line x1="${x(k50.median / 2).toFixed(1)}" x2="${x(k50.median / 2).toFixed(1)}" y1="${y0 + 4}" y2="${y0 + 64}" stroke="#d33" stroke-dasharray="4 3"/>`);
  });
  out.push(`<text x="12" y="${H - 12}" fill="#555">TCP rows in Gbit/s of payload at the receiver (bidir: both directions summed); UDP row in datagrams received per second.</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
