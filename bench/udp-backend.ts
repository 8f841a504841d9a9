// The udp backend beside the VXLAN mode: iperf3 through weft carrying
// flannel's udp backend (bare IPv4 in UDP 8285 between TUNs, leases in a
// lease file) and through weft's VXLAN mode, on the same two-host netns rig
// in the same run, and beside flannel's published figure for its udp
// backend (28.7 MB/s, 75.8 Mbit/s: flanneld's one read + one sendto per
// packet).
//
// Design notes
// - Both wefts run side by side the whole time (VXLAN: 10.244.0.0/24 on
//   weft0, port 8472; udp backend: network 10.244.128.0/17 on flannel0,
//   port 8285) and take turns, the order alternating each repetition, so
//   that drift lands on both.
// - One iperf3 server per run (`-s -1`) in h2, the client in h1; every step
//   has a time limit; a failure, Ctrl-C or SIGTERM ends in Rig.down().
//
// Usage: unshare --net node dist/bench/udp-backend.js [--reps N] [--seconds S] [--cases tcp-1,udp-64]

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CASES, parseReport, type Sample } from './live/iperf.js';
import { WEFT, Rig, waitFor, type Proc } from './live/rig.js';

/** flannel's published udp-backend throughput (its docs' backend comparison), in MB/s. */
const FLANNEL_UDP_MBPS = 28.7;
const underlay = (i: number) => `198.18.0.${i}`;

const { values: v } = parseArgs({ options: { reps: { type: 'string' }, seconds: { type: 'string' }, cases: { type: 'string' } } });
const reps = Number(v.reps ?? 3), seconds = Number(v.seconds ?? 5);
const cases = CASES.filter((c) => (v.cases ?? 'tcp-1').split(',').includes(c.id));
if (process.getuid?.() !== 0 || !Number.isInteger(reps) || reps < 1 || !(seconds > 0) || cases.length === 0) {
  process.stderr.write('usage (as root): unshare --net node dist/bench/udp-backend.js [--reps N] [--seconds S] [--cases tcp-1,udp-64]\n');
  process.exit(2);
}

const rig = new Rig(2);
const stop = () => { rig.down(); process.exit(1); };
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

async function started(p: Proc, what: string): Promise<Proc> {
  await waitFor(() => /listening on/.test(p.stderr()) || !p.running(), 20_000, what);
  if (!p.running()) throw new Error(`${what} exited: ${p.stderr().slice(-400)}`);
  return p;
}

async function main(): Promise<void> {
  rig.up();
  const dir = rig.tmpdir('udpbe');
  const netConf = join(dir, 'net-conf.json');
  writeFileSync(netConf, '{"Network": "10.244.128.0/17", "Backend": {"Type": "udp"}}');
  const target: Record<string, string> = { vxlan: '10.244.0.2', udp: '' };
  for (const [i, j] of [[1, 2], [2, 1]]) {
    await started(rig.spawn(i, [process.execPath, WEFT, 'run', '--local', underlay(i), '--peer', underlay(j), '--address', `10.244.0.${i}/24`]), `weft (vxlan) in h${i}`);
    // Its own control socket: the check for a running weft looks for --tap's (weft0), the VXLAN weft's.
    const u = await started(rig.spawn(i, [process.execPath, WEFT, 'run', '--lease-file', join(dir, 'leases.json'), '--net-config-path', netConf,
      '--local', underlay(i), '--subnet-file', join(dir, `h${i}.env`), '--control-socket', join(dir, `udp-h${i}.sock`)]), `weft (udp) in h${i}`);
    if (i === 2) target.udp = /"msg":"lease (\d+\.\d+\.\d+\.\d+)\//.exec(u.stderr())![1];
  }
  await waitFor(() => { try { rig.exec(1, ['ping', '-c', '1', '-W', '1', target.udp]); return true; } catch { return false; } }, 10_000, 'the udp backend to route');
  const got: Record<string, Sample[]> = {};
  for (let rep = 0; rep < reps; rep++) {
    for (const c of cases) {
      for (const mode of rep % 2 === 0 ? ['udp', 'vxlan'] : ['vxlan', 'udp']) {
        const srv = rig.spawn(2, ['iperf3', '-s', '-1', '-p', '5201', '--forceflush']);
        await waitFor(() => /listening/i.test(srv.stdout()), 10_000, 'iperf3 server');
        const r = await rig.run(1, ['iperf3', '-c', target[mode], '-p', '5201', '-t', String(seconds), '-J', ...c.args], (seconds + 30) * 1000);
        await srv.exited;
        const s = parseReport(r.out, c);
        (got[`${c.id} ${mode}`] ??= []).push(s);
        process.stderr.write(`  ${c.id} ${mode} rep ${rep + 1}: ${(s.bytes / s.seconds / 1e6).toFixed(1)} MB/s, ${Math.round(s.pps)} packets/s\n`);
      }
    }
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  process.stdout.write(`\n| case | weft udp backend | weft VXLAN | flannel udp (published) |\n| --- | --- | --- | --- |\n`);
  for (const c of cases) {
    const mbps = (m: string) => median(got[`${c.id} ${m}`].map((s) => s.bytes / s.seconds / 1e6));
    const u = mbps('udp'), x = mbps('vxlan');
    // flannel's figure is a bulk TCP transfer: set beside the TCP cases only.
    const flannel = c.udp ? '—' : `${FLANNEL_UDP_MBPS} MB/s (weft ${(u / FLANNEL_UDP_MBPS).toFixed(1)}×)`;
    process.stdout.write(`| ${c.title} | ${u.toFixed(1)} MB/s (${(u * 8).toFixed(0)} Mbit/s) | ${x.toFixed(1)} MB/s | ${flannel} |\n`);
  }
}

main().then(() => rig.down(), (e: unknown) => { process.stderr.write(`udp-backend bench: ${(e as Error).message}\n`); rig.down(); process.exitCode = 1; });
