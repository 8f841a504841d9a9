// weft ↔ weft on a two-host rig: ping both ways, a 20 MB TCP transfer whose
// checksum matches on arrival, learning on both sides, clean stop.
//
//   h1: weft0 10.244.0.1/24 ── weft ── 198.18.0.1 ══ switch ══ 198.18.0.2 ── weft ── weft0 10.244.0.2/24 :h2

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, weftStatus, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';

const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
const TCP_RUN = join(ROOT, 'dist/test/helpers/tcp-run.js');
let rig: Rig;
let w1: Proc, w2: Proc;

test.before(async () => {
  rig = Rig.up(2);
  w1 = await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--mac', '02:00:0a:f4:00:01']);
  w2 = await rig.weft(2, ['--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24', '--mac', '02:00:0a:f4:00:02']);
});
test.after(() => rig.down());

test('the TAP exists with the configured MAC, MTU underlay−50 and address', () => {
  const link = rig.exec(1, ['ip', '-j', 'addr', 'show', 'dev', 'weft0']);
  const j = JSON.parse(link)[0];
  assert.is(j.address, '02:00:0a:f4:00:01');
  assert.is(j.mtu, 1450);
  assert.ok(j.addr_info.some((a: { local: string }) => a.local === '10.244.0.1'));
  // Super-frames capped so that one makes one UDP GSO send: 65,487 bytes / (1450 + 14 + 8).
  const d = JSON.parse(rig.exec(1, ['ip', '-d', '-j', 'link', 'show', 'dev', 'weft0']))[0];
  assert.is(d.gso_max_segs, 44);
  // A queue deep enough for the bursts that come while weft waits for a CPU.
  assert.is(d.txqlen, 10000);
});

test('ping both ways', () => {
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  assert.is(ping(rig, 2, '10.244.0.1').received, 3);
});

test('each side learned the other VTEP MAC → underlay address', async () => {
  const s1 = await weftStatus(w1);
  const s2 = await weftStatus(w2);
  assert.ok(s1.fdb.some((e) => e.mac === '02:00:0a:f4:00:02' && e.dst === '198.18.0.2' && e.state === 'learned'), JSON.stringify(s1.fdb));
  assert.ok(s2.fdb.some((e) => e.mac === '02:00:0a:f4:00:01' && e.dst === '198.18.0.1'), JSON.stringify(s2.fdb));
  assert.ok(s1.counters.tx_unicast > 0);
});

test('a 20 MB TCP transfer arrives intact, both directions', async () => {
  for (const [from, to] of [[1, 2], [2, 1]] as const) {
    const srv = rig.spawn(to, [process.execPath, XFER, 'serve', `10.244.0.${to}`, '5001']);
    await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
    const sent = rig.exec(from, [process.execPath, XFER, 'send', `10.244.0.${to}`, '5001', String(20 << 20)], 70_000).trim();
    await srv.exited;
    const got = srv.stdout().trim();
    assert.is(got, sent, `${from}→${to}: ${got} vs ${sent}`);
    assert.match(sent, new RegExp(`^${20 << 20} [0-9a-f]{64}$`));
  }
  // Offloads did the work: TSO cut, UDP GSO out, UDP GRO in, segments merged for the TAP.
  for (const w of [w1, w2]) {
    const o = (await weftStatus(w) as unknown as { offload: Record<string, number> }).offload;
    assert.ok(o.superFramesIn > 0 && o.gsoMessages > 0 && o.groMessages > 0 && o.coalesced > 0, JSON.stringify(o));
    // One super-frame, one send: no super-frame split over two.
    assert.ok(o.gsoMessages <= o.superFramesIn * 1.1 + 20, `${o.gsoMessages} GSO sends for ${o.superFramesIn} super-frames`);
  }
});

/** Host i's kernel count of TCP segments dropped for a bad checksum. */
const tcpCsumErrors = (i: number): number => rig.snmp(i).Tcp.InCsumErrors;

test('TCP segments damaged on the way are not repaired by coalescing: the host drops them (InCsumErrors), weft counts them', async () => {
  const offload = async () => (await weftStatus(w1) as unknown as { offload: Record<string, number> }).offload;
  const k0 = tcpCsumErrors(1), o0 = await offload();
  // 12 segments of one flow from h2's underlay address, the 1st, 6th and 7th damaged.
  const out = rig.exec(2, [process.execPath, TCP_RUN, '198.18.0.1', '8472', '1', '02:00:0a:f4:00:01', '02:00:0a:f4:00:02', '10.244.0.2', '10.244.0.1', '12', '0,5,6']);
  assert.match(out, /"sent":12/);
  await waitFor(() => tcpCsumErrors(1) - k0 >= 3, 3000, 'h1 dropping the damaged segments');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(tcpCsumErrors(1) - k0, 3, 'exactly the damaged ones dropped by h1\'s TCP');
  const o1 = await offload();
  assert.is(o1.csumBadOut - o0.csumBadOut, 3, JSON.stringify(o1));
});

test('SIGTERM stops weft within 1 s, exit 0, TAP removed', async () => {
  const t0 = Date.now();
  const code = await stopWeft(w1, 1000);
  assert.is(code, 0);
  assert.ok(Date.now() - t0 < 1000);
  const r = rig.try(1, ['ip', 'link', 'show', 'weft0']);
  assert.is.not(r.status, 0);
  assert.match(w1.stderr(), /stopped by SIGTERM/);
});

test.run();
