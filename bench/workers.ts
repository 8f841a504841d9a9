// The workers benchmark: ONE weft host opposite a kernel vxlan host, so the
// machine's cores are not shared by two weft processes, with weft at each
// worker count asked for (`--workers 1,2`), in the same run.
//
//   h1: weft --workers N (weft0 10.244.0.1/24)  ══ 198.18.0.0/24 ══  h2: kernel vx0 (10.244.0.2/24)
//
// Cases: tcp-1, tcp-4, tcp-8 (h1 → h2: weft encapsulates, TAP → wire) and
// the same from h2 → h1 (weft decapsulates: wire → TAP, where the kernel's
// per-flow source ports let the socket group spread flows), and udp-64
// (h1 → h2). Per run: Gbit/s, weft's CPU seconds per second (all threads,
// utime + stime from /proc), Gbit/s per busy core (the first over the
// second), and the share of datagrams each worker carried (weft stats).
// The worker counts take turns per case and repetition, so drift lands on
// both.
//
// udp-64 is a flood (`-b 0`): how much arrives says as much about the two
// ends' iperf3 as about weft, so its table also says where the rest went,
// hop by hop: datagrams iperf3 sent; frames the TAP dropped because its
// queue was full while weft waited for a CPU (weft0's TX dropped); datagrams
// weft forwarded (its tx_datagrams, which h2's vx0 receives one for one);
// datagrams the receiving iperf3's socket had no room for (h2's
// UdpRcvbufErrors); and weft's CPU per datagram it forwarded, which does not
// depend on how many the receiver then dropped (CPU s per GB delivered
// does).
//
// With `--against DIR` (another checkout, built: for instance main before
// workers), that tree's weft runs as one more variant, `base`, with its own
// defaults, in the same turns: the A/B of --workers 1 against the
// single-thread path it replaced, for the single-stream cases (tcp-1 both
// ways), with weft's CPU seconds per GB moved beside Gbit/s.
//
// Usage: node dist/bench/workers.js [--workers 1,2] [--reps N] [--seconds S] [--against DIR] [--cases udp-64,…]
// (normally `npm run bench -- --only live --workers 1,2`, inside unshare --net).

import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { parseReport, type LoadCase } from './live/iperf.js';
import { cpuSeconds } from './live/procstat.js';
import { parseLinkCounters, parseSnmp } from './live/netns-counters.js';
import { WEFT, Rig, kill, sleep, waitFor, type Proc } from './live/rig.js';

const CASES: (LoadCase & { reverse: boolean })[] = [
  { id: 'tcp-1', title: 'TCP, 1 stream, weft sends', args: [], udp: false, reverse: false },
  { id: 'tcp-4', title: 'TCP, 4 streams, weft sends', args: ['-P', '4'], udp: false, reverse: false },
  { id: 'tcp-8', title: 'TCP, 8 streams, weft sends', args: ['-P', '8'], udp: false, reverse: false },
  { id: 'tcp-1-rx', title: 'TCP, 1 stream, weft receives', args: ['-R'], udp: false, reverse: true },
  { id: 'tcp-4-rx', title: 'TCP, 4 streams, weft receives', args: ['-R', '-P', '4'], udp: false, reverse: true },
  { id: 'tcp-8-rx', title: 'TCP, 8 streams, weft receives', args: ['-R', '-P', '8'], udp: false, reverse: true },
  { id: 'udp-64', title: 'UDP, 64-byte payloads, weft sends', args: ['-u', '-l', '64', '-b', '0'], udp: true, reverse: false },
];

const { values: v } = parseArgs({ options: { workers: { type: 'string' }, reps: { type: 'string' }, seconds: { type: 'string' }, against: { type: 'string' }, cases: { type: 'string' } } });
const only = v.cases?.split(',');
const RUN_CASES = only ? CASES.filter((c) => only.includes(c.id)) : CASES;
if (RUN_CASES.length === 0) { process.stderr.write(`workers: --cases takes ${CASES.map((c) => c.id).join(',')}\n`); process.exit(2); }
const counts = (v.workers ?? '1,2').split(',').map(Number);
if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) { process.stderr.write('workers: --workers takes counts 1–64, like 1,2\n'); process.exit(2); }
const reps = Number(v.reps ?? 2), seconds = Number(v.seconds ?? 5);
if (process.getuid?.() !== 0) { process.stderr.write('workers: needs root: sudo npm run bench -- --only live --workers 1,2\n'); process.exit(1); }

/** A variant: this tree's weft with N workers, or (0) the --against tree's weft with its defaults. */
const BASE = 0;
const variants = v.against !== undefined ? [...counts, BASE] : counts;
const baseWeft = v.against !== undefined ? join(v.against, 'dist/src/cli/main.js') : '';
/** The cases the base variant runs: single-stream, where --workers 1 must match it. */
const AB_CASES = new Set(['tcp-1', 'tcp-1-rx']);
const label = (n: number) => (n === BASE ? 'base' : String(n));

/** Where a UDP flood's datagrams went (see the file's comment), as counts over the run. */
interface Hops { sent: number; tapDropped: number; forwarded: number; rcvbufErrors: number; delivered: number; cpuS: number }
interface Row { workers: number; gbps: number; cpu: number; share: string; hops: Hops | null }
const rig = new Rig(2);
const stop = () => { rig.down(); process.exit(130); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

async function startWeft(n: number): Promise<Proc> {
  const how = n === BASE ? [baseWeft, 'run'] : [WEFT, 'run', '--workers', String(n)];
  const p = rig.spawn(1, [process.execPath, ...how, '--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
  await waitFor(() => /listening on/.test(p.stderr()) || !p.running(), 15_000, 'weft to start');
  if (!p.running()) throw new Error(`weft exited: ${p.stderr()}`);
  rig.exec(1, ['ping', '-c', '2', '-i', '0.2', '10.244.0.2'], 10_000);
  return p;
}

type Stats = { counters: Record<string, number>; workers?: { counters: Record<string, number> }[] };
const weftStats = () => JSON.parse(rig.exec(1, [process.execPath, WEFT, 'stats', '--json'])) as Stats;

/** The counters a UDP flood's hops are told by, now. */
function hopCounters(): { tapDropped: number; forwarded: number; rcvbufErrors: number } {
  return {
    tapDropped: parseLinkCounters(rig.exec(1, ['ip', '-s', '-j', 'link', 'show', 'weft0'])).txDropped,
    forwarded: weftStats().counters.tx_datagrams,
    rcvbufErrors: parseSnmp(rig.exec(2, ['cat', '/proc/net/snmp'])).Udp.RcvbufErrors,
  };
}

/** Each worker's share of the datagrams it moved (rx + tx), from `weft stats --json`. */
function shares(): string {
  const s = weftStats();
  if (!s.workers) return '100 %';
  const each = s.workers.map((w) => (w.counters.rx_datagrams ?? 0) + (w.counters.tx_datagrams ?? 0));
  const all = each.reduce((a, b) => a + b, 0) || 1;
  return each.map((n) => `${Math.round((100 * n) / all)}`).join('/') + ' %';
}

async function once(c: (typeof CASES)[number], n: number): Promise<Row> {
  const weft = await startWeft(n);
  try {
    rig.exec(2, ['iperf3', '-s', '-1', '-D', '-B', '10.244.0.2']);
    await sleep(300);
    const h0 = c.udp ? hopCounters() : null;
    const cpu0 = cpuSeconds(weft.pid), t0 = performance.now();
    const r = await rig.run(1, ['iperf3', '-c', '10.244.0.2', '-t', String(seconds), '-J', ...c.args], (seconds + 30) * 1000);
    const cpuS = cpuSeconds(weft.pid) - cpu0;
    const cpu = cpuS / ((performance.now() - t0) / 1000);
    const sample = parseReport(r.out, c);
    let hops: Hops | null = null;
    if (h0) {
      const h1 = hopCounters();
      // iperf3's loss is counted by its receiver: sent = delivered + lost.
      const sent = Math.round(sample.packets / (1 - (sample.lossPct ?? 0) / 100));
      hops = { sent, tapDropped: h1.tapDropped - h0.tapDropped, forwarded: h1.forwarded - h0.forwarded, rcvbufErrors: h1.rcvbufErrors - h0.rcvbufErrors, delivered: sample.packets, cpuS };
    }
    return { workers: n, gbps: sample.gbps, cpu, share: shares(), hops };
  } finally {
    kill(weft.pid, 'SIGTERM');
    await Promise.race([weft.exited, sleep(5000)]);
  }
}

try {
  rig.up();
  rig.exec(2, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', '198.18.0.2', 'remote', '198.18.0.1', 'dev', 'eth0']);
  rig.exec(2, ['ip', 'link', 'set', 'vx0', 'up']);
  rig.exec(2, ['ip', 'addr', 'add', '10.244.0.2/24', 'dev', 'vx0']);
  const results = new Map<string, Row[]>();
  for (let r = 0; r < reps; r++) {
    for (const c of RUN_CASES) {
      const these = variants.filter((n) => n !== BASE || AB_CASES.has(c.id));
      const order = r % 2 === 0 ? these : [...these].reverse();
      for (const n of order) {
        const row = await once(c, n);
        const h = row.hops;
        const hopText = h ? `; sent ${h.sent}, TAP dropped ${h.tapDropped}, weft forwarded ${h.forwarded}, receiver's socket dropped ${h.rcvbufErrors}, delivered ${h.delivered}` : '';
        process.stderr.write(`  ${c.id} workers ${label(n)}: ${row.gbps.toFixed(3)} Gbit/s, ${row.cpu.toFixed(2)} cores, split ${row.share}${hopText}\n`);
        results.set(`${c.id}/${n}`, [...(results.get(`${c.id}/${n}`) ?? []), row]);
      }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const lines = ['| case | workers | Gbit/s | weft cores busy | Gbit/s per busy core | weft CPU s per GB | datagrams per worker |', '| --- | --- | --- | --- | --- | --- | --- |'];
  const udp = ['| case | workers | k datagrams/s delivered | sent | dropped at the TAP (weft0 TX dropped) | forwarded by weft | dropped at the receiving socket (UdpRcvbufErrors) | delivered | weft CPU µs per datagram forwarded |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  const pct = (x: number, of: number) => `${x} (${of ? ((100 * x) / of).toFixed(0) : 0} %)`;
  for (const c of RUN_CASES) {
    for (const n of variants) {
      const rows = results.get(`${c.id}/${n}`);
      if (!rows) continue;
      const g = med(rows.map((x) => x.gbps)), cpu = med(rows.map((x) => x.cpu));
      lines.push(`| ${c.id} | ${label(n)} | ${g.toFixed(c.udp ? 3 : 2)} | ${cpu.toFixed(2)} | ${(g / cpu).toFixed(2)} | ${(cpu / (g / 8)).toFixed(2)} | ${rows[rows.length - 1].share} |`);
      // The hops of the median run by datagrams delivered, so its counts add up.
      const h = [...rows].filter((x) => x.hops).sort((a, b) => a.hops!.delivered - b.hops!.delivered)[Math.floor(rows.length / 2)]?.hops;
      if (h) {
        udp.push(`| ${c.id} | ${label(n)} | ${(h.delivered / seconds / 1000).toFixed(1)} | ${h.sent} | ${pct(h.tapDropped, h.sent)} | ${h.forwarded} | ${pct(h.rcvbufErrors, h.sent)} | ${h.delivered} | ` +
          `${h.forwarded ? ((1e6 * h.cpuS) / h.forwarded).toFixed(1) : '-'} |`);
      }
    }
  }
  const where = udp.length > 2 ? `\nWhere the UDP flood's datagrams went (the median run):\n\n${udp.join('\n')}\n` : '';
  process.stdout.write(`\nweft (one host, --workers ${variants.map(label).join(' vs ')}) opposite the kernel's vxlan device; median of ${reps} × ${seconds} s\n\n${lines.join('\n')}\n${where}`);
} finally {
  rig.down();
}
