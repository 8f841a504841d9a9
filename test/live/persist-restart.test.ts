// The TAP outlives weft: a kill -9 during traffic leaves the TAP, its
// address and a route added on it; a plain restart reattaches (reported and
// counted) and traffic is back at once. The refusals: a second weft on a
// live TAP, a takeover with other arguments, a successor killed
// mid-handover (the running weft forwards again); --takeover with nothing
// running starts normally. Stopping: SIGTERM removes the TAP, --keep-tap
// leaves it, `weft down` removes what was left. With a lease file: the lease
// is kept, not re-allocated, across a handover and a crash, and the route
// to the other host's lease stays.
//
//   h1: udp send, weft ══ switch ══ weft (killed, restarted, taken over) ── udp recv :h2

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { Rig, ping, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT, WEFT, tempDir } from '../helpers/paths.js';

const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');
const MAC1 = '02:00:0a:f4:00:01', MAC2 = '02:00:0a:f4:00:02';
const args = (i: number) => ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`, '--mac', i === 1 ? MAC1 : MAC2];
const RESTART_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rig: Rig;
const cli = (i: number, a: string[], env: string[] = []) => rig.try(i, ['env', ...env, process.execPath, WEFT, ...a], 60_000);
const stats = (i: number) => JSON.parse(rig.exec(i, [process.execPath, WEFT, 'stats', '--json'])) as { handovers: number; crashReattaches: number };
const hasTap = (i: number) => rig.try(i, ['ip', 'link', 'show', 'weft0']).status === 0;

test.before(() => { rig = Rig.up(2, 'pr'); });
test.after(() => {
  for (const i of [1, 2]) rig.try(i, ['ip', 'link', 'del', 'weft0']);
  rig.down();
});

test('kill -9 during traffic: the TAP, its address and a route stay; a restart reattaches and traffic is back within 200 ms', async () => {
  // Nothing runs on h1 yet: --takeover starts normally, and says so.
  const w1 = await rig.weft(1, [...args(1), '--takeover']);
  assert.match(w1.stderr(), /--takeover: no weft is running on tap weft0; starting normally/);
  let w2 = await rig.weft(2, args(2));
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  rig.exec(2, ['ip', 'route', 'add', '10.244.9.0/24', 'via', '10.244.0.1', 'dev', 'weft0']);

  const rx = rig.spawn(2, [process.execPath, UDP, 'recv', '10.244.0.2', '5202', '120', '4']);
  await waitFor(() => /listening/.test(rx.stderr()), 5000, 'the receiver');
  const tx = rig.spawn(1, [process.execPath, UDP, 'send', '10.244.0.2', '5202', '2000', '120']);
  await sleep(1500);
  const killedMs = Date.now();
  process.kill(w2.pid, 'SIGKILL');
  await w2.exited;
  assert.ok(hasTap(2), 'the TAP is still there');
  assert.match(rig.exec(2, ['ip', '-br', 'addr', 'show', 'weft0']), /10\.244\.0\.2\/24/);
  assert.match(rig.exec(2, ['ip', 'route', 'show', 'dev', 'weft0']), /10\.244\.9\.0\/24 via 10\.244\.0\.1/);

  const spawnMs = Date.now();
  w2 = await rig.weft(2, args(2), 30_000);
  const upMs = Date.now();
  await sleep(1500);
  tx.child.kill('SIGTERM');
  await Promise.all([tx.exited, rx.exited]);
  const got = JSON.parse(rx.stdout()) as { gaps: { fromMs: number; toMs: number }[] };
  const gap = got.gaps.find((g) => g.toMs > killedMs);
  assert.ok(gap, 'the kill showed as a pause at the receiver');
  const backMs = gap.toMs - upMs;
  process.stdout.write(`\n  kill -9 → restarted weft listening: ${upMs - killedMs} ms (${upMs - spawnMs} ms of it its start-up); ` +
    `traffic back ${backMs} ms after it said so (${gap.toMs - spawnMs} ms after it was started)\n`);
  assert.ok(backMs <= RESTART_MS, `traffic back ${backMs} ms after the restart`);

  assert.match(w2.stderr(), /did not stop cleanly \(killed or crashed\): reattached to weft0 \(kept 1 address, 1 route, 0 neighbour entries\)/);
  assert.match(rig.exec(2, ['ip', 'route', 'show', 'dev', 'weft0']), /10\.244\.9\.0\/24 via 10\.244\.0\.1/, 'the route stayed');
  assert.is(stats(2).crashReattaches, 1);
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
});

test('refused: a second weft on the TAP, and a takeover with other arguments; the running one carries on', () => {
  const second = cli(2, ['run', ...args(2)]);
  assert.is(second.status, 1);
  assert.is(second.err.trim().split('\n').length, 1, second.err);
  assert.match(second.err, /^weft: another weft is running with control socket \S+: stop it first, start this one with --takeover to replace it, or give this one another --tap or --control-socket$/m);
  const other = cli(2, ['run', ...args(2), '--port', '4789', '--takeover']);
  assert.is(other.status, 1, other.err);
  assert.match(other.err, /handover: the new weft's TAPs, VNIs, port or address differ from the running one's .*; the running weft carries on/);
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  assert.is(stats(2).handovers, 0);
});

test('a successor killed mid-handover leaves the running weft forwarding', async () => {
  const started = (JSON.parse(rig.exec(2, [process.execPath, WEFT, 'stats', '--json'])) as { startedMs: number }).startedMs;
  // The successor holds still between forwarding and confirming, so it can be killed there.
  const next = rig.spawn(2, ['env', 'WEFT_HANDOVER_STALL_MS=5000', process.execPath, WEFT, 'run', ...args(2), '--takeover']);
  await waitFor(() => /handover: forwarding;/.test(next.stderr()), 30_000, 'the successor to forward');
  process.kill(next.pid, 'SIGKILL');
  await next.exited;
  await sleep(500);
  assert.is(ping(rig, 1, '10.244.0.2', 5).received, 5, 'the running weft forwards again');
  const after = JSON.parse(rig.exec(2, [process.execPath, WEFT, 'stats', '--json'])) as { startedMs: number; handovers: number };
  assert.is(after.startedMs, started, 'the same weft answers');
  assert.is(after.handovers, 0);
  assert.ok(hasTap(2));
});

test('SIGTERM removes the TAP; with --keep-tap it stays for the next weft, and weft down removes it', async () => {
  // h2's weft from the first test still runs: weft down leaves it be.
  const r = cli(2, ['down']);
  assert.is(r.status, 1);
  assert.match(r.err, /a weft is running on tap weft0 .*: stop it/);
  const w = await rig.weft(1, ['--tap', 'weft9', '--local', '198.18.0.1', '--port', '4790', '--keep-tap']);
  // "listening" comes a moment before the signal handlers are in place.
  await sleep(500);
  assert.is(await stopWeft(w), 0);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft9']).status, 0, '--keep-tap left weft9');
  const again = await rig.weft(1, ['--tap', 'weft9', '--local', '198.18.0.1', '--port', '4790']);
  // What a reattached TAP kept is logged once `ip` has said, a moment after "listening".
  await waitFor(() => /reattached to weft9 .*left by the last weft \(--keep-tap\)/.test(again.stderr()), 5000, 'the reattach line');
  await sleep(500);
  assert.is(await stopWeft(again), 0);
  assert.match(again.stderr(), /tap weft9 removed/);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft9']).status, 1, 'SIGTERM removed weft9');
  // A TAP left by kill -9, removed by weft down.
  const k = await rig.weft(1, ['--tap', 'weft9', '--local', '198.18.0.1', '--port', '4790']);
  process.kill(k.pid, 'SIGKILL');
  await k.exited;
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft9']).status, 0);
  const down = cli(1, ['down', '--tap', 'weft9']);
  assert.is(down.status, 0, down.err);
  assert.match(down.out, /tap weft9 removed/);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'weft9']).status, 1);
  assert.match(cli(1, ['down', '--tap', 'weft9']).out, /nothing to remove/);
});

test('with a lease file: a handover and a crash keep the lease and the route to the other host\'s', async () => {
  const tmp = tempDir('persist-lease');
  const lrig = Rig.up(2, 'pl');
  try {
    writeFileSync(join(tmp.dir, 'net-conf.json'), '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}');
    const largs = (i: number) => ['--lease-file', join(tmp.dir, 'leases.json'), '--net-config-path', join(tmp.dir, 'net-conf.json'),
      '--local', lrig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
    const leaseOf = (p: Proc) => /"msg":"lease (\S+) in /.exec(p.stderr())![1];
    const w1 = await lrig.weft(1, largs(1), 30_000);
    let w2 = await lrig.weft(2, largs(2), 30_000);
    const [s1, s2] = [leaseOf(w1), leaseOf(w2)];
    const routeToH1 = () => lrig.exec(2, ['ip', 'route', 'show', 'dev', 'weft0']).includes(s1);
    await waitFor(routeToH1, 15_000, 'h2 to route to h1\'s lease');
    const leases = () => Object.keys((JSON.parse(readFileSync(join(tmp.dir, 'leases.json'), 'utf8')) as { subnets: object }).subnets).sort();
    const before = leases();

    const old = w2;
    w2 = await lrig.weft(2, [...largs(2), '--takeover'], 30_000);
    assert.is(await old.exited, 0);
    assert.is(leaseOf(w2), s2, 'the same lease after the handover');
    assert.ok(routeToH1(), 'the route to h1\'s lease stayed');
    assert.equal(leases(), before, 'no lease released or added');

    process.kill(w2.pid, 'SIGKILL');
    await w2.exited;
    assert.ok(routeToH1(), 'the route outlived the crash');
    w2 = await lrig.weft(2, largs(2), 30_000);
    assert.is(leaseOf(w2), s2, 'the same lease after the crash');
    assert.equal(leases(), before);
    assert.is(ping(lrig, 1, s2.split('/')[0], 3).received, 3);
  } finally {
    for (const i of [1, 2]) lrig.try(i, ['ip', 'link', 'del', 'weft0']);
    lrig.down();
    tmp.done();
  }
});

test.run();
