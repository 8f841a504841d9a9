// Ten handovers in a row under load: `weft run --takeover` on host 2 while
// numbered UDP streams run both ways at 2,000 datagrams a second and a TCP
// transfer runs from host 1 to host 2. Every datagram arrives (counted at the
// receivers), the TCP stream arrives whole, forwarding pauses for less
// than TCP's least retransmission timeout (200 ms) at each handover (as the
// two wefts log it), each replaced weft exits 0, and a learned entry that no
// traffic refreshes is still there after the last handover, with its age.
//
//   h1: udp send/recv, tcp send ── weft ══ switch ══ weft (handed over ×10) ── udp send/recv, tcp serve :h2
//
// Reported: datagrams lost, the longest pause between two arrivals at each
// receiver, how long each handover took and paused forwarding, and TCP
// retransmission timeouts (all, and those within 1 s of a handover; on a
// busy machine its own stalls fire some, handovers or not).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT, WEFT } from '../helpers/paths.js';

const TCP = join(ROOT, 'dist/test/helpers/tcp-stream.js');
const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');
const TCPRUN = join(ROOT, 'dist/test/helpers/tcp-run.js');
const PPS = 2000;
/** The streams' longest run; they are stopped (SIGTERM) 2 s after the last handover. */
const SECONDS = 240;
const HANDOVERS = 10;
const RATE = 1 << 20; // TCP bytes a second
const MAC1 = '02:00:0a:f4:00:01', MAC2 = '02:00:0a:f4:00:02';
/** A MAC host 2 learns from one burst and never hears from again. */
const QUIET = '02:00:00:00:aa:01';
const args = (i: number) => ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`, '--mac', i === 1 ? MAC1 : MAC2];

/** TcpExt's TCPTimeouts in host i (/proc/net/netstat is per namespace). */
function tcpTimeouts(rig: Rig, i: number): number {
  const lines = rig.exec(i, ['cat', '/proc/net/netstat']).split('\n').filter((l) => l.startsWith('TcpExt:')).map((l) => l.split(/\s+/));
  return Number(lines[1][lines[0].indexOf('TCPTimeouts')]);
}

interface FdbRow { mac: string; dst: string; state: string; ageS?: number }
const fdb = (rig: Rig, i: number) => JSON.parse(rig.exec(i, [process.execPath, WEFT, 'fdb', 'show', '--json'])) as FdbRow[];

test(`${HANDOVERS} handovers under 2,000 datagrams/s each way and a TCP transfer: nothing lost, pauses under TCP's least RTO, old wefts exit 0, learned entries kept`, async () => {
  const rig = Rig.up(2, 'ph');
  try {
    await rig.weft(1, args(1));
    let w2: Proc = await rig.weft(2, args(2));
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    // One burst from a MAC nobody hears again: learned by h2, refreshed by nothing.
    rig.exec(1, [process.execPath, TCPRUN, '198.18.0.2', '8472', '1', MAC2, QUIET, '10.244.0.99', '10.244.0.2', '1', '-']);
    await waitFor(() => fdb(rig, 2).some((e) => e.mac === QUIET), 5000, 'h2 to learn the quiet MAC');
    const learnedAt = Date.now();

    const rx2 = rig.spawn(2, [process.execPath, UDP, 'recv', '10.244.0.2', '5202', String(SECONDS + 20), '5']);
    const rx1 = rig.spawn(1, [process.execPath, UDP, 'recv', '10.244.0.1', '5203', String(SECONDS + 20), '5']);
    const srv = rig.spawn(2, [process.execPath, TCP, 'serve', '10.244.0.2', '5201', String(SECONDS + 60)]);
    await waitFor(() => [rx1, rx2, srv].every((p) => /listening/.test(p.stderr())), 5000, 'the receivers');
    const rto0 = tcpTimeouts(rig, 1);
    const cli = rig.spawn(1, [process.execPath, TCP, 'send', '10.244.0.2', '5201', String(RATE), String(SECONDS)]);
    const tx1 = rig.spawn(1, [process.execPath, UDP, 'send', '10.244.0.2', '5202', String(PPS), String(SECONDS)]);
    const tx2 = rig.spawn(2, [process.execPath, UDP, 'send', '10.244.0.1', '5203', String(PPS), String(SECONDS)]);
    await new Promise((r) => setTimeout(r, 2000));

    const took: number[] = [];
    /** Each handover's pause as the wefts logged it: the old one paused, then the new one forwarding. */
    const paused: number[] = [];
    const windows: [number, number][] = [];
    const logTime = (p: Proc, re: RegExp) => Date.parse(/"time":"([^"]+)"/.exec(p.stderr().split('\n').find((l) => re.test(l)) ?? '')?.[1] ?? '');
    /** TCP retransmission timeouts from each pause to 1 s after the successor forwarded: what a handover could have caused. */
    let rtoNear = 0;
    for (let k = 0; k < HANDOVERS; k++) {
      const old = w2;
      const start = Date.now();
      const next = rig.spawn(2, [process.execPath, WEFT, 'run', ...args(2), '--takeover']);
      const gone = () => next.child.exitCode !== null;
      await waitFor(() => /handover: paused for pid/.test(old.stderr()) || gone(), 30_000, `handover ${k + 1} to pause`);
      const r0 = tcpTimeouts(rig, 1);
      await waitFor(() => /handover: forwarding;/.test(next.stderr()) || gone(), 30_000, `handover ${k + 1} to forward`);
      await new Promise((r) => setTimeout(r, 1000));
      rtoNear += tcpTimeouts(rig, 1) - r0;
      await waitFor(() => /listening on/.test(next.stderr()) || gone(), 30_000, `handover ${k + 1}: the successor to listen`);
      assert.not.ok(gone(), `handover ${k + 1}: the successor exited: ${next.stderr().slice(-400)}`);
      w2 = next;
      const code = await Promise.race([old.exited, new Promise((r) => setTimeout(() => r('running'), 10_000))]);
      took.push(Date.now() - start);
      assert.is(code, 0, `handover ${k + 1}: the old weft exited ${String(code)}: ${old.stderr().slice(-400)}`);
      assert.match(old.stderr(), /handed over to pid \d+; exiting/);
      assert.match(w2.stderr(), /handover: pid \d+ confirmed; this weft forwards/);
      const [from, to] = [logTime(old, /handover: paused for pid/), logTime(w2, /handover: forwarding;/)];
      paused.push(to - from);
      windows.push([from, to]);
    }
    await new Promise((r) => setTimeout(r, 2000));
    for (const p of [cli, tx1, tx2]) p.child.kill('SIGTERM');

    const [cliCode, srvCode] = await Promise.all([cli.exited, srv.exited]);
    await Promise.all([tx1.exited, tx2.exited, rx1.exited, rx2.exited]);
    assert.is(cliCode, 0, cli.stderr());
    assert.is(srvCode, 0, srv.stderr());
    const sent = JSON.parse(cli.stdout()) as { bytes: number; sha256: string };
    const got = JSON.parse(srv.stdout()) as { bytes: number; sha256: string; gaps: { fromMs: number; toMs: number }[] };
    const rto = tcpTimeouts(rig, 1) - rto0;
    type Rx = { unique: number; dup: number; maxGapMs: number; gaps: { fromMs: number; toMs: number }[] };
    const [s12, s21] = [tx1, tx2].map((p) => JSON.parse(p.stdout()) as { sent: number; errors: number });
    const [r12, r21] = [rx2, rx1].map((p) => JSON.parse(p.stdout()) as Rx);
    // Receivers' pauses over 200 ms that began within 1 s of a handover's pause: what handovers may have caused.
    const near = (gaps: { fromMs: number; toMs: number }[]) => gaps.filter((g) => windows.some(([a, b]) => g.fromMs >= a - 1000 && g.fromMs <= b + 1000))
      .map((g) => g.toMs - g.fromMs).join(', ') || 'none';
    process.stdout.write(
      `\n  ${HANDOVERS} handovers (${took.join(', ')} ms each, start to listening; forwarding paused ${paused.join(', ')} ms): ` +
      `h1→h2 ${s12.sent - r12.unique} of ${s12.sent} datagrams lost, longest pause ${r12.maxGapMs} ms; ` +
      `h2→h1 ${s21.sent - r21.unique} of ${s21.sent} lost, longest pause ${r21.maxGapMs} ms; ` +
      `pauses over 200 ms near a handover: h1→h2 ${near(r12.gaps)}, h2→h1 ${near(r21.gaps)}, TCP ${near(got.gaps.filter((g) => g.toMs - g.fromMs > 200))}; ` +
      `TCP ${got.bytes} bytes intact, ${rto} retransmission timeouts (${rtoNear} within 1 s of a handover), pauses over 150 ms: ${got.gaps.map((g) => g.toMs - g.fromMs).join(', ') || 'none'}\n`,
    );
    assert.is(s12.errors + s21.errors, 0, 'no send failed');
    assert.is(r12.unique, s12.sent, 'h1 → h2: every datagram arrived');
    assert.is(r21.unique, s21.sent, 'h2 → h1: every datagram arrived');
    assert.is(r12.dup + r21.dup, 0, 'none twice');
    assert.is(got.bytes, sent.bytes, 'every TCP byte arrived');
    assert.is(got.sha256, sent.sha256, 'in order');
    // What a handover costs TCP: a pause shorter than its least retransmission
    // timeout (200 ms) fires none. The machine's own stalls may (the pauses
    // listed above come with or without handovers), so the count is reported.
    for (const [k, ms] of paused.entries()) assert.ok(ms < 200, `handover ${k + 1} paused forwarding ${ms} ms`);

    // The quiet MAC's entry came through every handover, still learned, its age counting on.
    const quiet = fdb(rig, 2).find((e) => e.mac === QUIET);
    assert.ok(quiet, 'the quiet MAC is still in the table');
    assert.is(quiet.state, 'learned');
    assert.is(quiet.dst, '198.18.0.1');
    assert.ok((quiet.ageS ?? 0) >= (Date.now() - learnedAt) / 1000 - 2, `its age (${quiet.ageS} s) was kept`);
    const stats = JSON.parse(rig.exec(2, [process.execPath, WEFT, 'stats', '--json'])) as { handovers: number; crashReattaches: number; counters: Record<string, number> };
    assert.is(stats.handovers, HANDOVERS);
    assert.is(stats.crashReattaches, 0);
    assert.ok(stats.counters.rx_frames >= s12.sent, 'counters carried across: the last weft counts every frame since the first started');
  } finally {
    // The TAPs are persistent: delete them, then the namespaces.
    for (const i of [1, 2]) rig.try(i, ['ip', 'link', 'del', 'weft0']);
    rig.down();
  }
});

test.run();
