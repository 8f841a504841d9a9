// kill -9 of one weft in the middle of a TCP transfer, then a restart: the
// connection survives (the data arrives whole, checked end to end), traffic
// resumes within 2 s of the restart, and the other weft is never touched.
//
//   h1: tcp-stream send, udp-stream send ── weft ══ switch ══ weft (killed, restarted) ── tcp-stream serve, udp-stream recv :h2
//
// Why it works: the restarted weft gets the same TAP MAC (derived from
// host, --local, --tap and VNI), so h1's ARP cache and h1 weft's learned
// entry stay right; the TCP socket on h2 outlives its address while the TAP
// is gone, and TCP retransmits what was lost.
//
// Two clocks are measured from the moment the new weft says it listens:
// when the numbered UDP probe (50 a second) gets through again — weft's own
// recovery — and when TCP data flows again, which also waits for the
// sender's retransmission timer (backed off while the TAP was gone).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, weftStatus } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';

const TCP = join(ROOT, 'dist/test/helpers/tcp-stream.js');
const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');
const RATE = 4 << 20;     // TCP bytes a second
const SECONDS = 12;
const RECOVER_MS = 2000;

test('kill -9 during a TCP transfer, restart: the stream survives intact, traffic resumes within 2 s, the peer untouched', async () => {
  const rig = Rig.up(2);
  try {
    const args2 = ['--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24'];
    const w1 = await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
    const w2 = await rig.weft(2, args2);
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);

    const srv = rig.spawn(2, [process.execPath, TCP, 'serve', '10.244.0.2', '5201', String(SECONDS + 60)]);
    const probeRx = rig.spawn(2, [process.execPath, UDP, 'recv', '10.244.0.2', '5202', String(SECONDS + 5), '5']);
    await waitFor(() => /listening/.test(srv.stderr()) && /listening/.test(probeRx.stderr()), 5000, 'the receivers');
    const cli = rig.spawn(1, [process.execPath, TCP, 'send', '10.244.0.2', '5201', String(RATE), String(SECONDS)]);
    const probe = rig.spawn(1, [process.execPath, UDP, 'send', '10.244.0.2', '5202', '50', String(SECONDS)]);

    // Let the transfer get going, then kill h2's weft and start it again at once.
    await new Promise((r) => setTimeout(r, 3000));
    const killedMs = Date.now();
    process.kill(w2.pid, 'SIGKILL');
    await w2.exited;
    const w2b = await rig.weft(2, args2);
    const upMs = Date.now();

    const [cliCode, srvCode] = await Promise.all([cli.exited, srv.exited]);
    await Promise.all([probe.exited, probeRx.exited]);
    assert.is(cliCode, 0, cli.stderr());
    assert.is(srvCode, 0, srv.stderr());
    const sent = JSON.parse(cli.stdout()) as { bytes: number; sha256: string };
    const got = JSON.parse(srv.stdout()) as { bytes: number; sha256: string; gaps: { fromMs: number; toMs: number }[] };
    assert.is(got.bytes, sent.bytes, 'every byte arrived');
    assert.is(got.sha256, sent.sha256, 'and in order');
    assert.ok(sent.bytes >= RATE * SECONDS, `the whole transfer was sent (${sent.bytes} bytes)`);

    // When did each resume? The first arrival after the restart ends the stall.
    // (The log line that says weft listens reaches the test a little after
    // weft does, so "after the restart" can come out as 0.)
    const tcpGap = got.gaps.find((g) => g.toMs > killedMs);
    const tcpResumeMs = tcpGap ? Math.max(0, tcpGap.toMs - upMs) : 0;
    const udp = JSON.parse(probeRx.stdout()) as { unique: number; gaps: { afterSeq: number; fromMs: number; toMs: number }[] };
    const udpGap = udp.gaps.find((g) => g.toMs > killedMs);
    const udpResumeMs = udpGap ? Math.max(0, udpGap.toMs - upMs) : 0;
    process.stdout.write(
      `\n  kill -9 → listening again: ${upMs - killedMs} ms; from then, the UDP probe got through after ${udpResumeMs} ms ` +
      `(stall ${udpGap ? udpGap.toMs - udpGap.fromMs : 0} ms), TCP data flowed after ${tcpResumeMs} ms ` +
      `(stall ${tcpGap ? tcpGap.toMs - tcpGap.fromMs : 0} ms); ${got.bytes} bytes intact\n`,
    );
    assert.ok(udpResumeMs <= RECOVER_MS, `forwarding resumed ${udpResumeMs} ms after the restart`);
    assert.ok(tcpResumeMs <= RECOVER_MS, `TCP resumed ${tcpResumeMs} ms after the restart`);

    // The peer was never restarted and still knows h2 by the same MAC.
    assert.ok(w1.child.exitCode === null, 'h1 weft still runs');
    assert.match(w1.stderr(), /listening on/);
    assert.is((w1.stderr().match(/listening on/g) ?? []).length, 1, 'h1 weft started once');
    const s1 = await weftStatus(w1);
    assert.is(s1.counters.fdb_moved, 0, 'h2 came back with the same MAC');
    assert.is(ping(rig, 2, '10.244.0.1', 3).received, 3);
    assert.ok(w2b.child.exitCode === null);
  } finally {
    rig.down();
  }
});

test.run();
