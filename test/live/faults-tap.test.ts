// The TAP under a running weft, while traffic flows both ways.
//
//   h1: weft0 10.244.0.1/24 ── weft ══ switch ══ weft ── weft0 10.244.0.2/24 :h2
//       (deleted / set down)            udp-stream h2 → h1 at 500/s, ping h1 → h2
//
// Deleted (`ip link del weft0`): weft cannot get its device back without
// redoing everything it configured on it (address, routes, neighbours of
// the leases), so it stops: one line saying what happened, exit 1, well
// within a second and without spinning meanwhile (its CPU time is sampled
// every 10 ms until it is gone). Started again, it carries traffic at once.
//
// Set down and up again: nothing to recreate; weft keeps running, counts
// what the TAP refused while down, and traffic resumes when it is up.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, weftStatus, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';
import { counterImbalances, cpuMs } from '../helpers/proc-stats.js';

const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');
const args = (i: number) => ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`];

/** Traffic both ways for `seconds`: a numbered UDP stream h2 → h1 and a ping h1 → h2. */
async function traffic(rig: Rig, seconds: number): Promise<{ rx: Proc; tx: Proc; ping: Proc }> {
  // Ends 2 s after the sender, or 4 s after the last arrival (longer than the TAP is down).
  const rx = rig.spawn(1, [process.execPath, UDP, 'recv', '10.244.0.1', '5300', String(seconds + 2), '4']);
  await waitFor(() => /listening/.test(rx.stderr()), 5000, 'the UDP receiver');
  const tx = rig.spawn(2, [process.execPath, UDP, 'send', '10.244.0.1', '5300', '500', String(seconds)]);
  const p = rig.spawn(1, ['ping', '-c', String(seconds * 10), '-i', '0.1', '-W', '1', '10.244.0.2']);
  return { rx, tx, ping: p };
}

test('the TAP deleted under traffic: weft says so and exits 1 within a second, without spinning; restarted, it forwards', async () => {
  const rig = Rig.up(2);
  try {
    const w1 = await rig.weft(1, args(1));
    await rig.weft(2, args(2));
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    const t = await traffic(rig, 4);
    await new Promise((r) => setTimeout(r, 1000));

    const cpu0 = cpuMs(w1.pid);
    const t0 = Date.now();
    rig.exec(1, ['ip', 'link', 'del', 'weft0']);
    let cpu = cpu0;
    while (w1.child.exitCode === null && Date.now() - t0 < 5000) {
      const c = cpuMs(w1.pid);
      if (!Number.isNaN(c)) cpu = c;
      await new Promise((r) => setTimeout(r, 10));
    }
    const code = await Promise.race([w1.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 100))]);
    const exitMs = Date.now() - t0;
    process.stdout.write(`\n  TAP deleted under traffic: weft exited ${code} after ${exitMs} ms, ${cpu - cpu0} ms of CPU meanwhile\n`);
    assert.is(code, 1, w1.stderr());
    assert.ok(exitMs < 1000, `exited only after ${exitMs} ms`);
    assert.ok(cpu - cpu0 <= 200, `used ${cpu - cpu0} ms of CPU between the deletion and its exit`);
    const errors = w1.stderr().split('\n').filter((l) => /"level":"(error|fatal)"/.test(l));
    assert.is(errors.length, 1, w1.stderr());
    assert.match(errors[0], /the TAP weft0 failed \(deleted\?\).*stopping/);
    assert.is(rig.try(1, ['ip', 'link', 'show', 'weft0']).status, 1, 'weft did not make a new TAP');

    // Started again, it forwards at once; h2's weft was never touched.
    await Promise.all([t.tx.exited, t.rx.exited, t.ping.exited]);
    await rig.weft(1, args(1));
    assert.is(ping(rig, 1, '10.244.0.2', 3, ['-W', '2']).received, 3);
  } finally {
    rig.down();
  }
});

test('the TAP set down for 2 s under traffic: weft keeps running, counts what the TAP refused, and forwards again when it is up', async () => {
  const rig = Rig.up(2);
  try {
    const w1 = await rig.weft(1, args(1));
    await rig.weft(2, args(2));
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    const before = (await weftStatus(w1)).counters;
    const t = await traffic(rig, 6);
    await new Promise((r) => setTimeout(r, 1000));

    const cpu0 = cpuMs(w1.pid);
    rig.exec(1, ['ip', 'link', 'set', 'weft0', 'down']);
    await new Promise((r) => setTimeout(r, 2000));
    const cpuDown = cpuMs(w1.pid) - cpu0;
    const upMs = Date.now();
    rig.exec(1, ['ip', 'link', 'set', 'weft0', 'up']);
    await Promise.all([t.tx.exited, t.rx.exited, t.ping.exited]);

    assert.ok(w1.child.exitCode === null, w1.stderr());
    const c = (await weftStatus(w1)).counters;
    const rx = JSON.parse(t.rx.stdout()) as { unique: number; lastMs: number; gaps: { fromMs: number; toMs: number }[] };
    const gap = rx.gaps.find((g) => g.toMs >= upMs - 100);
    const resumeMs = gap ? Math.max(0, gap.toMs - upMs) : 0;
    process.stdout.write(
      `\n  TAP down 2 s: ${c.rx_drop_tap - before.rx_drop_tap} frames refused by the TAP and counted, ` +
      `${cpuDown} ms of CPU while down, UDP stream through again ${resumeMs} ms after up\n`,
    );
    assert.ok(c.rx_drop_tap - before.rx_drop_tap > 0, 'frames for the downed TAP are counted');
    assert.equal(counterImbalances(c), []);
    assert.ok(cpuDown <= 1000, `used ${cpuDown} ms of CPU in 2 s with the TAP down`);
    assert.ok(gap !== undefined && resumeMs <= 2000, `the stream resumed ${resumeMs} ms after the TAP came up: ${JSON.stringify(rx.gaps)}`);
    assert.ok(rx.lastMs > upMs, 'traffic flowed after the TAP came up');
    // The address stayed on the TAP; the route came back with it.
    assert.is(ping(rig, 1, '10.244.0.2', 3).received, 3);
  } finally {
    rig.down();
  }
});

test.run();
