// weft run --workers 2 opposite the Linux kernel's vxlan device, which picks
// a UDP source port per inner flow: flows spread over both workers in both
// directions and every byte arrives; what one worker learns the other uses;
// and what weft offers around the loop works with two workers: a second
// VNI, capture, the source allow-list, ICMP too-big answers, the counters
// summed and split, the TAP gone at exit. Per-flow source ports and ECN
// work in every worker: each worker's socket sends each flow from a port of
// its own pool (no two sockets share a port), and an outer CE on a Not-ECT
// packet is dropped and counted whichever worker reads it.
//
//   h1: weft --workers 2 (weft0 10.244.0.1, VNI 1; weft2 10.245.0.1, VNI 2)
//       ══ 198.18.0.0/24 ══ h2: kernel vx0 (VNI 1, 10.244.0.2), vx2 (VNI 2, 10.245.0.2)
//   h3: a stranger that sends VXLAN to h1

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Rig, ping, waitFor, stopWeft, type Proc } from '../helpers/rig.js';
import { ROOT, WEFT } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';
import { ask } from '../../src/admin/client.js';
import type { StatsResult } from '../../src/admin/commands.js';
import { readPcapFrames } from '../../src/io/pcap-read.js';
import { sniff, sniffed, sourcePorts } from '../helpers/sniff.js';

const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
let rig: Rig;
let w: Proc;
const tmp = mkdtempSync(join(tmpdir(), 'weft-workers-'));
const ARGS = ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--vni', '1', '--vni', '2:weft2:10.245.0.1/24', '--mtu', '1400'];
const stats = () => ask({ path: `/run/weft/netns/${rig.ns(1)}/weft0.sock`, what: 'on h1' }, { cmd: 'stats' }) as Promise<StatsResult>;

test.before(async () => {
  requireTool('iperf3', 'iperf3');
  requireTool('tcpdump', 'tcpdump');
  requireTool('iptables', 'iptables');
  rig = Rig.up(3, 'mw');
  for (const [dev, vni, net] of [['vx0', 1, '10.244.0'], ['vx2', 2, '10.245.0']] as const) {
    rig.exec(2, ['ip', 'link', 'add', dev, 'type', 'vxlan', 'id', String(vni), 'dstport', '8472', 'local', '198.18.0.2', 'remote', '198.18.0.1', 'dev', 'eth0']);
    rig.exec(2, ['ip', 'link', 'set', dev, 'up']);
    rig.exec(2, ['ip', 'addr', 'add', `${net}.2/24`, 'dev', dev]);
  }
  w = await rig.weft(1, ['--workers', '2', ...ARGS]);
});
test.after(() => {
  rig.down();
  rmSync(tmp, { recursive: true, force: true });
});

test('the TAPs have a queue per worker; ping both ways on both VNIs', () => {
  for (const tap of ['weft0', 'weft2']) {
    const queues = rig.exec(1, ['ls', `/sys/class/net/${tap}/queues`]).split(/\s+/).filter(Boolean).sort();
    assert.equal(queues, ['rx-0', 'rx-1', 'tx-0', 'tx-1'], tap);
  }
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  assert.is(ping(rig, 2, '10.244.0.1').received, 3);
  assert.is(ping(rig, 1, '10.245.0.2').received, 3);
  assert.is(ping(rig, 2, '10.245.0.1').received, 3);
});

/** iperf3 with 16 parallel flows from host `from` to `to` for 2 s; returns the bytes received. */
function flows(from: number, to: number, port: number): number {
  rig.exec(to, ['iperf3', '-s', '-1', '-D', '-B', `10.244.0.${to}`, '-p', String(port)]);
  let out = '';
  for (let k = 0; k < 20 && !out; k++) {
    const r = rig.try(from, ['iperf3', '-c', `10.244.0.${to}`, '-p', String(port), '-P', '16', '-t', '2', '-J'], 30_000);
    if (r.status === 0) out = r.out;
    else rig.exec(from, ['sleep', '0.1']);
  }
  return (JSON.parse(out) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes;
}

test('16 TCP flows each way spread over both workers, in both directions; the kernel\'s MAC is learned once, for both', async () => {
  const before = await stats();
  assert.ok(flows(1, 2, 5201) > 1e6);
  assert.ok(flows(2, 1, 5202) > 1e6);
  const s = await stats();
  assert.ok(s.workers && s.workers.length === 2, JSON.stringify(s.workers));
  for (const k of ['rx_datagrams', 'tx_datagrams'] as const) {
    const each = s.workers!.map((x) => x.counters[k] ?? 0);
    process.stdout.write(`\n  ${k} per worker: ${each.join(' / ')}`);
    assert.ok(each.every((n) => n > 1000), `${k}: ${each.join(' / ')}`);
    // The counters are the workers' sums.
    assert.is(s.counters[k], each[0] + each[1]);
  }
  // Learned by whichever worker saw it first, used by both: frames towards h2 went unicast.
  assert.is(s.fdb.learned, before.fdb.learned);
  assert.ok(s.counters.tx_unicast - before.counters.tx_unicast > 10_000, JSON.stringify(s.counters));
  assert.is(s.counters.tx_flooded - before.counters.tx_flooded < 10, true);
  assert.is(s.counters.rx_drop_tap, 0);
});

test('each worker sends each flow from a port of its own pool: flows leave from many ports of the local range, no two sockets on one port', async () => {
  const cap = await sniff(rig, 1, ['-i', 'eth0', 'udp and src host 198.18.0.1 and dst port 8472']);
  const before = await stats();
  assert.ok(flows(1, 2, 5203) > 1e6);
  const ports = sourcePorts(await sniffed(cap), '198.18.0.1', '198.18.0.2');
  const s = await stats();
  const [lo, hi] = rig.exec(1, ['cat', '/proc/sys/net/ipv4/ip_local_port_range']).trim().split(/\s+/).map(Number);
  // tcpdump misses much of a 16-flow run (its buffer overflows): count the ports it saw, not how often.
  const busy = [...ports.keys()];
  process.stdout.write(`\n  source ports seen ${busy.length}, pool sockets ${s.offload?.srcPortSockets}`);
  assert.ok(busy.length >= 3, JSON.stringify([...ports]));
  for (const p of ports.keys()) assert.ok(p >= lo && p <= hi, `port ${p} inside ${lo}-${hi}`);
  assert.ok((s.offload?.srcPortSockets as number) >= busy.length && s.offload?.srcPortFallbacks === 0, JSON.stringify(s.offload));
  // Both workers sent, each from its own sockets: weft's sockets bound in the range are as many as their ports.
  s.workers!.forEach((x, k) => assert.ok((x.counters.tx_datagrams ?? 0) > (before.workers![k].counters.tx_datagrams ?? 0), `worker ${k} sent`));
  // The workers' socket counts reach `weft stats` every 250 ms (their counters are live): read both until they agree.
  let bound: number[] = [], pool = -1;
  for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    bound = [...rig.exec(1, ['ss', '-Huan', 'src', '198.18.0.1']).matchAll(/198\.18\.0\.1:(\d+)\s/g)].map((m) => Number(m[1])).filter((p) => p >= lo && p <= hi);
    pool = (await stats()).offload?.srcPortSockets as number;
    if (bound.length === pool) break;
  }
  assert.is(bound.length, pool, bound.join(' '));
  assert.is(new Set(bound).size, bound.length, `a port bound twice: ${bound.join(' ')}`);
});

test('ECN in every worker: an outer CE on a Not-ECT inner packet (ping) is dropped and counted', async () => {
  // ping -s 1050: an outer datagram of 1128 bytes, inside the rule's range; nothing else is that size.
  const rule = ['POSTROUTING', '-p', 'udp', '--dport', '8472', '-m', 'length', '--length', '1100:1199', '-j', 'TOS', '--set-tos', '0x03/0x03'];
  rig.exec(2, ['iptables', '-t', 'mangle', '-A', ...rule]);
  try {
    const before = (await stats()).counters.rx_drop_ecn_not_ect;
    // Four pings (four ICMP ids, so four flows the kernel may send from four ports) of two each.
    for (let k = 0; k < 4; k++) assert.is(ping(rig, 2, '10.244.0.1', 2, ['-s', '1050']).received, 0);
    const after = (await stats()).counters.rx_drop_ecn_not_ect;
    assert.ok(after - before >= 8, `rx_drop_ecn_not_ect rose by ${after - before}`);
  } finally {
    rig.exec(2, ['iptables', '-t', 'mangle', '-D', ...rule]);
  }
  assert.is(ping(rig, 2, '10.244.0.1', 2, ['-s', '1050']).received, 2, 'without the mark the same pings pass');
});

test('a 20 MB transfer each way arrives intact through two workers', async () => {
  for (const [from, to, port] of [[1, 2, 5301], [2, 1, 5302]] as const) {
    const srv = rig.spawn(to, [process.execPath, XFER, 'serve', `10.244.0.${to}`, String(port)]);
    await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
    const sent = rig.exec(from, [process.execPath, XFER, 'send', `10.244.0.${to}`, String(port), String(20 << 20)], 70_000).trim();
    await srv.exited;
    assert.is(srv.stdout().trim(), sent, `${from}→${to}`);
  }
});

test('weft capture: one pcap from both workers, with the frames asked for', async () => {
  const file = join(tmp, 'overlay.pcap');
  const cap = rig.spawn(1, [process.execPath, WEFT, 'capture', '-w', file, '--side', 'overlay', '--count', '6', '--duration', '5']);
  await waitFor(() => /capture started/.test(w.stderr()), 5000, 'the capture to start');
  ping(rig, 1, '10.244.0.2', 5);
  assert.is(await cap.exited, 0, cap.stderr());
  const frames = await readPcapFrames(file);
  assert.is(frames.length, 6);
  // ICMP echo (IPv4 protocol 1) between the two overlay addresses.
  assert.ok(frames.some((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 1), 'pings in the capture');
});

test('the source allow-list holds in every worker: datagrams from a stranger are dropped and counted', async () => {
  const before = (await stats()).counters.rx_drop_unknown_source;
  // 64 datagrams from 64 source ports, so the kernel hands them to both sockets.
  const js = 'const d=require("dgram");let n=0;for(let i=0;i<64;i++){const s=d.createSocket("udp4");' +
    's.bind(41000+i,()=>s.send(Buffer.alloc(50,8),8472,"198.18.0.1",()=>{s.close();if(++n===64)process.exit(0)}))}';
  rig.exec(3, [process.execPath, '-e', js]);
  let got = 0;
  for (let k = 0; k < 50 && got < 64; k++) {
    await new Promise((r) => setTimeout(r, 100));
    got = (await stats()).counters.rx_drop_unknown_source - before;
  }
  assert.is(got, 64);
});

test('ICMP too-big from a worker: a frame over --mtu 1400 is dropped and its sender told', async () => {
  rig.exec(1, ['ip', 'link', 'set', 'weft0', 'mtu', '9000']);
  const before = (await stats()).counters.icmp_too_big_sent;
  const r = rig.try(1, ['ping', '-c', '2', '-i', '0.2', '-W', '1', '-s', '2000', '-M', 'do', '10.244.0.2'], 20_000);
  assert.match(r.out + r.err, /Frag needed and DF set \(mtu = 1400\)|message too long, mtu=1400/, r.out + r.err);
  let sent = 0;
  for (let k = 0; k < 20 && sent === 0; k++) {
    await new Promise((res) => setTimeout(res, 100));
    sent = (await stats()).counters.icmp_too_big_sent - before;
  }
  assert.ok(sent >= 1, `${sent} answers`);
});

test('a successor with --takeover cannot take over from two workers: it exits 1 with one line, and the workers forward on', async () => {
  const next = rig.spawn(1, [process.execPath, WEFT, 'run', ...ARGS, '--takeover']);
  const code = await Promise.race([next.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
  assert.is(code, 1, next.stderr());
  assert.match(next.stderr(), /cannot hand over/);
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  assert.is(w.child.exitCode, null, 'the workers\' weft runs on');
});

test('SIGTERM: both workers stop, the TAPs are gone, weft exits 0', async () => {
  assert.is(await stopWeft(w, 5000), 0, w.stderr());
  assert.match(w.stderr(), /stopped by SIGTERM; taps weft0, weft2 removed/);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft0']).status !== 0, true);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft2']).status !== 0, true);
});

test('a TAP already there (as a crashed single-queue weft leaves it): --workers 2 exits 2 with one line, and leaves it be', async () => {
  rig.exec(1, ['ip', 'tuntap', 'add', 'weft0', 'mode', 'tap']);
  try {
    const p = rig.spawn(1, [process.execPath, WEFT, 'run', '--workers', '2', ...ARGS]);
    assert.is(await p.exited, 2, p.stderr());
    assert.match(p.stderr(), /--workers 2: TAP weft0 exists already .*run with --workers 1 to reattach/);
    assert.is(rig.try(1, ['ip', 'link', 'show', 'weft0']).status, 0);
  } finally {
    rig.try(1, ['ip', 'link', 'del', 'weft0']);
  }
});

test.run();
