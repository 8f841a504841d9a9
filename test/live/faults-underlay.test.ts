// The underlay under a running weft: h1's address removed and put back, and
// h1's eth0 set down and up, each for 3 s while numbered UDP streams cross
// the overlay both ways. weft is never restarted.
//
//   h1: udp-stream ⇄ weft0 10.244.0.1 ── weft ── eth0 198.18.0.1 ══ switch ══ 198.18.0.2 ── weft ── weft0 10.244.0.2 ⇄ udp-stream :h2
//                                                 (removed / down for 3 s)
//
// What Linux does, and so what weft has to do (nothing): a UDP socket bound
// to an address stays bound when the address goes; while it is gone, sends
// from it fail (EINVAL: no route from a source that is not local; ENETUNREACH
// with the link down) and nothing arrives for it. When the address is back
// the same socket sends and receives again; the neighbour entries are
// relearned on the first datagram. weft counts every refused send
// (tx_drop_socket), never stops for them, and must not spin meanwhile. Run
// once with weft bound to 198.18.0.1 (--local) and once bound to any address.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, weftStatus, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';
import { counterImbalances, cpuMs } from '../helpers/proc-stats.js';

const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');
const OUT_MS = 3000;
/** Generous: the neighbour entries are relearned first, and an ARP request lost as the link comes up is retried after 1 s. */
const RESUME_MS = 3000;
const PPS = 200;
/** Each stream: 1 s before the fault, the fault, 2 s after. */
const SECONDS = 1 + OUT_MS / 1000 + 2;

interface StreamResult { unique: number; lastMs: number; gaps: { afterSeq: number; fromMs: number; toMs: number }[] }

const faults: { name: string; take: string[]; restore: string[] }[] = [
  { name: 'address removed', take: ['ip', 'addr', 'del', '198.18.0.1/24', 'dev', 'eth0'], restore: ['ip', 'addr', 'add', '198.18.0.1/24', 'dev', 'eth0'] },
  { name: 'eth0 down', take: ['ip', 'link', 'set', 'eth0', 'down'], restore: ['ip', 'link', 'set', 'eth0', 'up'] },
];

for (const bound of [true, false]) {
  test(`underlay faults for 3 s each, weft bound to ${bound ? '198.18.0.1' : 'any address'}: no restart, no spin, refused sends counted, traffic back within 3 s`, async () => {
    const rig = Rig.up(2);
    try {
      // Unbound, the derived MAC would be the same on both hosts (same hostname,
      // no --local to tell them apart): name the MACs.
      const local = (i: number) => (bound ? ['--local', `198.18.0.${i}`] : ['--mac', `02:00:0a:f4:00:0${i}`]);
      const w1 = await rig.weft(1, [...local(1), '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
      await rig.weft(2, [...local(2), '--peer', '198.18.0.1', '--address', '10.244.0.2/24']);
      assert.is(ping(rig, 1, '10.244.0.2').received, 3);

      for (const f of faults) {
        const before = (await weftStatus(w1)).counters;
        const streams = await bothWays(rig);
        await new Promise((r) => setTimeout(r, 1000));
        const cpu0 = cpuMs(w1.pid);
        rig.exec(1, f.take);
        await new Promise((r) => setTimeout(r, OUT_MS));
        const cpuOut = cpuMs(w1.pid) - cpu0;
        const backMs = Date.now();
        rig.exec(1, f.restore);
        const [out, back] = await Promise.all(streams.map(async (s) => {
          await Promise.all([s.tx.exited, s.rx.exited]);
          return { ...JSON.parse(s.rx.stdout()) as StreamResult, sent: (JSON.parse(s.tx.stdout()) as { sent: number }).sent };
        }));

        assert.ok(w1.child.exitCode === null, `weft stopped: ${w1.stderr().slice(-1000)}`);
        assert.is((w1.stderr().match(/listening on/g) ?? []).length, 1, 'weft never restarted');
        const c = (await weftStatus(w1)).counters;
        const refused = c.tx_drop_socket - before.tx_drop_socket;
        const resume = (r: StreamResult) => {
          const g = r.gaps.find((x) => x.toMs >= backMs - 100);
          return g ? Math.max(0, g.toMs - backMs) : NaN;
        };
        process.stdout.write(
          `\n  ${bound ? 'bound' : 'any'}, ${f.name} for ${OUT_MS} ms: h1→h2 back ${resume(out)} ms after the restore, h2→h1 back ${resume(back)} ms; ` +
          `h1 → h2 lost ${out.sent - out.unique} of ${out.sent}, ${refused} sends refused and counted (tx_drop_socket); weft CPU while out ${cpuOut} ms\n`,
        );
        for (const [dir, r] of [['h1 → h2', out], ['h2 → h1', back]] as const) {
          assert.ok(r.lastMs > backMs, `${dir}: nothing arrived after the restore (${JSON.stringify(r.gaps)})`);
          assert.ok(resume(r) <= RESUME_MS, `${dir}: traffic resumed ${resume(r)} ms after the restore`);
        }
        // Every datagram h1 → h2 lost was refused by h1's socket, and counted
        // (give or take the few on the wire at the moment of the fault).
        assert.ok(Math.abs(out.sent - out.unique - refused) <= 10, `h1 → h2 lost ${out.sent - out.unique}, weft counted ${refused} refused`);
        assert.ok(cpuOut <= OUT_MS / 3, `weft used ${cpuOut} ms of CPU in ${OUT_MS} ms with the underlay out`);
        assert.equal(counterImbalances(c), []);
      }
      assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    } finally {
      rig.down();
    }
  });
}

/** A numbered UDP stream each way across the overlay (h1 → h2 and h2 → h1), SECONDS long. */
async function bothWays(rig: Rig): Promise<{ tx: Proc; rx: Proc }[]> {
  const out: { tx: Proc; rx: Proc }[] = [];
  for (const [from, to] of [[1, 2], [2, 1]]) {
    // Ends 2 s after the sender; its idle limit outlasts the fault.
    const rx = rig.spawn(to, [process.execPath, UDP, 'recv', `10.244.0.${to}`, '5400', String(SECONDS + 2), String(OUT_MS / 1000 + 2)]);
    await waitFor(() => /listening/.test(rx.stderr()), 5000, 'the UDP receiver');
    const tx = rig.spawn(from, [process.execPath, UDP, 'send', `10.244.0.${to}`, '5400', String(PPS), String(SECONDS)]);
    out.push({ tx, rx });
  }
  return out;
}

test.run();
