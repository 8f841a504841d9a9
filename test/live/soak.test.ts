// A soak: a steady numbered UDP stream each way through two weft hosts for
// WEFT_SOAK_S seconds (60 in CI; 600 with `npm run soak`), at WEFT_SOAK_PPS
// datagrams a second each way (default 1000 of 1000 bytes: 8 Mbit/s, a
// rate this two-core rig sustains while other work runs on it).
//
//   h1: udp-stream ⇄ weft0 10.244.0.1 ── weft ══ switch ══ weft ── weft0 10.244.0.2 ⇄ udp-stream :h2
//
// What must hold at the end:
// - nothing lost, duplicated or reordered, each way;
// - each weft's RSS grew less than 5 % after the warm-up (the first
//   WARMUP_S seconds of load, which touch every slab and let V8 size its
//   heap). RSS is sampled from /proc every 2 s (5 s in a long soak), nothing
//   else being asked of weft meanwhile; single samples ride V8's garbage
//   collection up and down by a few MiB, so growth is the median of the last
//   third of the samples over the median of the first third;
// - the counters (from the control socket) add up in each weft: frames in =
//   frames out + drops (test/helpers/proc-stats.ts), and across the wire:
//   datagrams one weft sent = datagrams the other received.
// The figures are printed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';
import { counterImbalances, memory } from '../helpers/proc-stats.js';
import { ask } from '../../src/admin/client.js';
import type { StatsResult } from '../../src/admin/commands.js';

const SOAK_S = Number(process.env.WEFT_SOAK_S ?? 60);
const PPS = Number(process.env.WEFT_SOAK_PPS ?? 1000);
const SIZE = 1000;
const WARMUP_S = SOAK_S >= 300 ? 30 : 10;
const SAMPLE_MS = SOAK_S >= 300 ? 5000 : 2000;
const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');

let rig: Rig;
const w: Proc[] = [];
const stats = (i: number) => ask({ path: `/run/weft/netns/${rig.ns(i)}/weft0.sock`, what: `on h${i}` }, { cmd: 'stats' }) as Promise<StatsResult>;

test.before(async () => {
  rig = Rig.up(2);
  for (const i of [1, 2]) w[i] = await rig.weft(i, ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`]);
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
});
test.after(() => rig.down());

test(`soak: ${SOAK_S} s at ${PPS} datagrams/s each way${SOAK_S < 600 ? ' (10 min shortened for CI; npm run soak runs 600 s)' : ''}: nothing lost, RSS growth < 5 %, counters add up`, async () => {
  // Counters before the load: the wire check compares what moved since (the
  // first weft's early frames reached no socket while the second started).
  const st0 = await Promise.all([stats(1), stats(2)]);
  const streams: { tx: Proc; rx: Proc }[] = [];
  for (const [from, to] of [[1, 2], [2, 1]]) {
    const rx = rig.spawn(to, [process.execPath, UDP, 'recv', `10.244.0.${to}`, '5600', String(SOAK_S + 15), '3']);
    await waitFor(() => /listening/.test(rx.stderr()), 5000, 'the UDP receiver');
    streams.push({ rx, tx: rig.spawn(from, [process.execPath, UDP, 'send', `10.244.0.${to}`, '5600', String(PPS), String(SOAK_S), String(SIZE)]) });
  }
  const t0 = Date.now();

  // RSS of both wefts every SAMPLE_MS.
  const samples: { s: number; kib: number[] }[] = [];
  while (streams.some((s) => s.tx.child.exitCode === null) && Date.now() - t0 < (SOAK_S + 30) * 1000) {
    await new Promise((r) => setTimeout(r, Math.min(SAMPLE_MS, 250)));
    const at = (Date.now() - t0) / 1000;
    if (samples.length && at - samples[samples.length - 1].s < SAMPLE_MS / 1000) continue;
    for (const i of [1, 2]) assert.ok(w[i].child.exitCode === null, `weft h${i} stopped: ${w[i].stderr().slice(-1000)}`);
    const kib = [1, 2].map((i) => memory(w[i].pid).rssKiB);
    samples.push({ s: at, kib });
  }
  const end = [1, 2].map((i) => memory(w[i].pid));
  const res = await Promise.all(streams.map(async (s) => {
    await Promise.all([s.tx.exited, s.rx.exited]);
    const sent = JSON.parse(s.tx.stdout()) as { sent: number; errors: number };
    return { ...sent, ...(JSON.parse(s.rx.stdout()) as { unique: number; dup: number; reordered: number; gaps: unknown[] }) };
  }));
  await new Promise((r) => setTimeout(r, 500));
  const st = await Promise.all([stats(1), stats(2)]);

  const soaked = samples.filter((x) => x.s >= WARMUP_S);
  assert.ok(soaked.length >= 6, `too few RSS samples after the warm-up: ${soaked.length}`);
  const third = Math.floor(soaked.length / 3);
  const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
  const first = [0, 1].map((k) => median(soaked.slice(0, third).map((x) => x.kib[k])));
  const last = [0, 1].map((k) => median(soaked.slice(-third).map((x) => x.kib[k])));
  const growth = [0, 1].map((k) => (last[k] - first[k]) / first[k]);
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const range = (k: number) => `${mib(Math.min(...soaked.map((x) => x.kib[k])))}–${mib(Math.max(...soaked.map((x) => x.kib[k])))}`;
  process.stdout.write(
    `\n  soak ${SOAK_S} s at ${PPS}/s × ${SIZE} B each way: h1→h2 ${res[0].unique}/${res[0].sent}, h2→h1 ${res[1].unique}/${res[1].sent} ` +
    `(lost ${res[0].sent - res[0].unique} and ${res[1].sent - res[1].unique}, dup ${res[0].dup + res[1].dup}, reordered ${res[0].reordered + res[1].reordered})\n` +
    [0, 1].map((k) => `  weft h${k + 1}: VmRSS median ${mib(first[k])} MiB (first third after ${WARMUP_S} s warm-up) → ${mib(last[k])} MiB (last third): ` +
      `${(growth[k] * 100).toFixed(2)} %; ${soaked.length} samples ${range(k)} MiB, end ${mib(end[k].rssKiB)} MiB, VmHWM ${mib(end[k].hwmKiB)} MiB; ` +
      `rx_datagrams ${st[k].counters.rx_datagrams}, tx_datagrams ${st[k].counters.tx_datagrams}, drops ${dropTotal(st[k].counters)}\n`).join(''),
  );

  for (const r of res) {
    assert.is(r.errors, 0, 'the sender had no send errors');
    assert.ok(r.sent >= PPS * SOAK_S * 0.99, `the sender kept the rate (${r.sent} of ${PPS * SOAK_S})`);
    assert.is(r.unique, r.sent, `lost ${r.sent - r.unique}`);
    assert.is(r.dup, 0);
    assert.is(r.reordered, 0);
  }
  for (const k of [0, 1]) {
    assert.ok(growth[k] < 0.05, `weft h${k + 1} RSS grew ${(growth[k] * 100).toFixed(2)} %`);
    assert.equal(counterImbalances(st[k].counters), [], `weft h${k + 1}`);
    const c = st[k].counters, peer = st[1 - k].counters, c0 = st0[k].counters, peer0 = st0[1 - k].counters;
    assert.is(dropTotal(c), 0, `weft h${k + 1} dropped: ${JSON.stringify(c)}`);
    // Everything one weft put on the wire, the other received (nothing else talks to them).
    assert.is(peer.rx_datagrams - peer0.rx_datagrams, (c.tx_datagrams - c.tx_drop_socket) - (c0.tx_datagrams - c0.tx_drop_socket), `h${k + 1} → h${2 - k} on the wire`);
    assert.ok(c.tx_frames >= res[k].sent && c.rx_frames >= res[1 - k].sent, 'weft carried every datagram of the streams');
  }
});

function dropTotal(c: Record<string, number>): number {
  return Object.entries(c).filter(([n]) => n.includes('_drop_')).reduce((a, [, v]) => a + v, 0);
}

test.run();
