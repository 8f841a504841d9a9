// A MAC flood at a running weft: 1,000,000 VXLAN datagrams, each from a new
// inner source MAC, sent from a third host straight at h1's UDP port, while
// h1 and h2 ping each other over the overlay.
//
//   h3: mac-flood.js ──────────────┐  1 M datagrams, 1 M source MACs
//                                  ▼
//   h1: weft0 10.244.0.1/24 ── weft :8472 (--fdb-max 50000) ══ switch ══ weft ── weft0 10.244.0.2/24 :h2
//
// h3 is one of h1's peers: the source allow-list drops datagrams from any
// other address before they reach the table, so the flood that matters is
// one from a known VTEP (a compromised peer, or a big segment behind one).
//
// What must hold: the forwarding table fills to its cap and stays there
// (every further new MAC dropped and counted as rx_drop_fdb_full), RSS stops
// growing once the table is full, and the MAC learned before the flood
// (h2's) keeps forwarding: the ping during the flood and after it loses
// nothing. The figures are printed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';
import { memory, counterImbalances } from '../helpers/proc-stats.js';
import { ask } from '../../src/admin/client.js';
import type { StatsResult } from '../../src/admin/commands.js';

const FLOOD = join(ROOT, 'dist/test/helpers/mac-flood.js');
const MACS = 1_000_000;
/** Datagrams a second: the rig takes 1 M in about 12 s; at most 90 s in all. */
const PPS = 100_000;
const FLOOD_MAX_S = 90;
const FDB_MAX = 50_000;
const MiB = 1024;

let rig: Rig;
let w1: Proc;
const stats = () => ask({ path: `/run/weft/netns/${rig.ns(1)}/weft0.sock`, what: 'on h1' }, { cmd: 'stats' }) as Promise<StatsResult>;

test.before(async () => {
  rig = Rig.up(3);
  w1 = await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--peer', '198.18.0.3', '--address', '10.244.0.1/24', '--fdb-max', String(FDB_MAX)]);
  await rig.weft(2, ['--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24']);
});
test.after(() => rig.down());

test('1 M new source MACs: the table stays at --fdb-max, RSS stops growing, known MACs keep forwarding', async () => {
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  const before = memory(w1.pid);
  const s0 = await stats();
  assert.is(s0.fdb.entries, 1, 'only h2 is known before the flood');

  const flood = rig.spawn(3, [process.execPath, FLOOD, '198.18.0.1', '8472', '1', String(MACS), String(PPS), String(FLOOD_MAX_S)]);
  // One ping every 100 ms for the length of the flood and a little after.
  const pinger = rig.spawn(1, ['ping', '-c', '150', '-i', '0.1', '-W', '2', '10.244.0.2']);
  let atFull: { rssKiB: number; hwmKiB: number } | null = null;
  let peakKiB = before.rssKiB;
  while (flood.child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 250));
    if (w1.child.exitCode !== null) break;
    const m = memory(w1.pid);
    peakKiB = Math.max(peakKiB, m.rssKiB);
    if (!atFull && (await stats()).fdb.entries >= FDB_MAX) atFull = memory(w1.pid);
  }
  await flood.exited;
  const sent = JSON.parse(flood.stdout()) as { sent: number; errors: number; seconds: number };
  assert.is(sent.sent, MACS, `the flood sent everything: ${flood.stdout()}`);
  assert.ok(w1.child.exitCode === null, `weft still runs: ${w1.stderr().slice(-1000)}`);

  // Everything sent was received and accounted for.
  let s = await stats();
  const flooded = () => s.counters.rx_datagrams - s0.counters.rx_datagrams;
  for (let i = 0; i < 20 && flooded() < MACS; i++) { await new Promise((r) => setTimeout(r, 100)); s = await stats(); }
  const kernel = rig.exec(1, ['nstat', '-az', 'UdpRcvbufErrors']);
  const rcvbufErrors = Number(/UdpRcvbufErrors\s+(\d+)/.exec(kernel)?.[1] ?? NaN);
  assert.ok(flooded() >= MACS, `weft received ${flooded()} of ${MACS} (the kernel dropped ${rcvbufErrors} at a full socket)`);

  // The table is at its cap, exactly, and every MAC beyond it was counted.
  assert.is(s.fdb.entries, FDB_MAX);
  assert.is(s.counters.fdb_learned, FDB_MAX);
  assert.is(s.counters.rx_drop_fdb_full, MACS - (FDB_MAX - 1));
  assert.equal(counterImbalances(s.counters), []);

  // The known host still forwards: nothing lost during the flood, nor after.
  await pinger.exited;
  const pm = /(\d+) packets transmitted, (\d+) received/.exec(pinger.stdout());
  assert.ok(pm, pinger.stdout());
  assert.is(Number(pm![2]), Number(pm![1]), `pings lost during the flood: ${pm![0]}`);
  assert.is(ping(rig, 1, '10.244.0.2', 5).received, 5);
  assert.is(ping(rig, 2, '10.244.0.1', 5).received, 5);

  // RSS: bounded by the table, and flat once the table is full.
  const after = memory(w1.pid);
  assert.ok(atFull, 'the table reached its cap while the flood ran');
  process.stdout.write(
    `\n  MAC flood: ${MACS} datagrams in ${sent.seconds.toFixed(1)} s, table ${s.fdb.entries}/${s.fdb.max}, ` +
    `rx_drop_fdb_full ${s.counters.rx_drop_fdb_full}, kernel rcvbuf drops ${rcvbufErrors}\n` +
    `  weft h1 VmRSS before ${(before.rssKiB / MiB).toFixed(1)} MiB, at full table ${(atFull!.rssKiB / MiB).toFixed(1)} MiB, ` +
    `after ${(after.rssKiB / MiB).toFixed(1)} MiB, VmHWM ${(after.hwmKiB / MiB).toFixed(1)} MiB (peak sampled ${(peakKiB / MiB).toFixed(1)} MiB)\n` +
    `  pings during the flood: ${pm![0]}\n`,
  );
  assert.ok(after.hwmKiB - before.rssKiB < 48 * MiB, `RSS grew by ${((after.hwmKiB - before.rssKiB) / MiB).toFixed(1)} MiB`);
  assert.ok(after.rssKiB - atFull!.rssKiB < 12 * MiB, `RSS kept growing after the table was full: ${atFull!.rssKiB} → ${after.rssKiB} KiB`);
});

test.run();
