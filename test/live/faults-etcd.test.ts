// etcd under a running network, with a real etcd in the switch namespace:
// two hosts racing for the last free subnet, and etcd stopped for a while
// under load, across the moment both hosts' lease renewals fall due.
//
//   h1 h2: weft (leases 2 of 3)      h3 h4: weft, started together for the last one
//     └──────── 198.18.0.0/24 ── br0 198.18.0.254 ── etcd   [switch namespace; stopped, then started on the same data]
//
// The network has room for exactly three subnets (SubnetMin 10.244.1.0 …
// SubnetMax 10.244.3.0). The race runs three rounds: each time exactly one
// of h3 and h4 gets the last subnet and the other exits 1 saying there is
// none left; then the winner is killed and its lease deleted for the next
// round.
//
// The outage: every weft runs with --subnet-lease-renew-margin 1439, so its
// 24 h lease falls due for renewal 60 s after it was taken; etcd is stopped
// so that both renewals fall inside the outage. Meanwhile numbered UDP
// streams cross the overlay both ways between h1 and h2 (500 datagrams a
// second each) and must lose nothing; when etcd is back, both hosts resync
// and renew at once (not a minute later), and no two hosts ever hold the
// same subnet.
//
// The outage lasts WEFT_ETCD_OUTAGE_S seconds: 20 by default, so CI stays
// short; 60, the figure the issue asks for, with `npm run faults:full`.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { ROOT, WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const NETCONF = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "SubnetMin": "10.244.1.0", "SubnetMax": "10.244.3.0", "Backend": {"Type": "vxlan"}}';
const OUTAGE_S = Number(process.env.WEFT_ETCD_OUTAGE_S ?? 20);
const RENEW_AFTER_MS = 60_000;     // 24 h TTL less a 1439 min margin
const RENEW_DEADLINE_MS = 5_000;   // an etcd call's deadline (etcd-store.ts)
const UDP = join(ROOT, 'dist/test/helpers/udp-stream.js');
const ROUNDS = 3;

let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];
/** When the first weft was started and the last said it listens: its renewal falls due 60 s after its lease, in between. */
let firstSpawnMs = 0, lastUpMs = 0;

const args = (i: number) => ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`), '--subnet-lease-renew-margin', '1439'];
const leaseOf = (p: Proc) => /"msg":"lease (\S+) in /.exec(p.stderr())?.[1] ?? '';
const gw = (sn: string) => sn.split('/')[0];
const stored = () => etcd.list(`${PREFIX}/subnets/`).map((kv) => ({ subnet: kv.key.slice(`${PREFIX}/subnets/`.length), publicIp: (JSON.parse(kv.value) as { PublicIP: string }).PublicIP, rev: kv.modRevision }));

test.before(async () => {
  rig = Rig.up(4);
  tmp = tempDir('faults-etcd');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, NETCONF);
  firstSpawnMs = Date.now();
  [w[1], w[2]] = await Promise.all([rig.weft(1, args(1), 20_000), rig.weft(2, args(2), 20_000)]);
  lastUpMs = Date.now();
  subnet[1] = leaseOf(w[1]);
  subnet[2] = leaseOf(w[2]);
  await routesConverged(rig, [1, 2], subnet);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

async function race(): Promise<void> {
  const lines: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const p = [3, 4].map((i) => rig.spawn(i, [process.execPath, WEFT, 'run', ...args(i)]));
    await waitFor(() => p.every((x) => x.child.exitCode !== null || /listening on/.test(x.stderr())), 20_000, `round ${round}: both to start or give up`);
    const won = p.filter((x) => x.child.exitCode === null);
    const lost = p.filter((x) => x.child.exitCode !== null);
    assert.is(won.length, 1, `round ${round}: exactly one winner\n${p.map((x) => x.stderr()).join('\n')}`);
    assert.is(lost[0].child.exitCode, 1, lost[0].stderr());
    const why = lost[0].stderr().trim().split('\n').pop()!;
    assert.match(why, /^weft: no free subnet left in 10\.244\.0\.0\/16 \(SubnetLen \/24, 3 leases\); widen the network or delete stale leases$/);
    const winner = p.indexOf(won[0]) + 3;
    const s = stored();
    assert.is(s.length, 3, JSON.stringify(s));
    assert.is(new Set(s.map((l) => l.subnet)).size, 3);
    assert.equal(s.find((l) => l.publicIp === rig.underlay(winner))?.subnet, leaseOf(won[0]).replace('/', '-'));
    const collided = /taken by another host at the same moment/.test(lost[0].stderr()) || /taken by another host at the same moment/.test(won[0].stderr());
    lines.push(`round ${round}: h${winner} got ${leaseOf(won[0])}, h${7 - winner} exited 1${collided ? ' after losing the create race' : ' (saw none free)'}`);
    // h1 and h2 hear of the winner and route to it.
    for (const i of [1, 2]) await waitFor(() => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(leaseOf(won[0])), 10_000, `h${i} to route to h${winner}`);
    assert.is(ping(rig, 1, gw(leaseOf(won[0])), 2, ['-W', '2']).received, 2);
    if (round < ROUNDS) {
      // Free the subnet again for the next round.
      process.kill(won[0].pid, 'SIGKILL');
      await won[0].exited;
      etcd.ctl(['del', `${PREFIX}/subnets/${leaseOf(won[0]).replace('/', '-')}`]);
      for (const i of [1, 2]) await waitFor(() => !rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']).includes(leaseOf(won[0])), 10_000, `h${i} to drop h${winner}'s route`);
    } else {
      w[winner] = won[0];
      subnet[winner] = leaseOf(won[0]);
    }
  }
  process.stdout.write(`\n  race for the last subnet: ${lines.join('; ')}\n`);
}

async function outage(): Promise<void> {
  // Stop etcd so that it is down from before the earliest renewal until
  // after the latest one has failed.
  const renewEarliest = firstSpawnMs + RENEW_AFTER_MS, renewLatest = lastUpMs + RENEW_AFTER_MS;
  const stopAt = Math.max(Date.now(), renewLatest + RENEW_DEADLINE_MS + 2000 - OUTAGE_S * 1000);
  assert.ok(stopAt <= renewEarliest - 2000, `an outage of ${OUTAGE_S} s cannot cover both renewals (${renewEarliest - firstSpawnMs}…${renewLatest - firstSpawnMs} ms after start, now at ${Date.now() - firstSpawnMs} ms); make WEFT_ETCD_OUTAGE_S larger`);
  const revs = new Map(stored().map((l) => [l.publicIp, l.rev]));

  // Load both ways from a little before the outage to a little after it.
  const lead = Math.max(0, stopAt - Date.now() - 3000);
  await new Promise((r) => setTimeout(r, lead));
  const seconds = Math.ceil((stopAt - Date.now()) / 1000) + OUTAGE_S + 10;
  const streams: { tx: Proc; rx: Proc }[] = [];
  for (const [from, to] of [[1, 2], [2, 1]]) {
    const rx = rig.spawn(to, [process.execPath, UDP, 'recv', gw(subnet[to]), '5500', String(seconds + 5), '3']);
    await waitFor(() => /listening/.test(rx.stderr()), 5000, 'the UDP receiver');
    streams.push({ rx, tx: rig.spawn(from, [process.execPath, UDP, 'send', gw(subnet[to]), '5500', '500', String(seconds)]) });
  }
  await new Promise((r) => setTimeout(r, Math.max(0, stopAt - Date.now())));
  await etcd.stop();
  const downMs = Date.now();
  await waitFor(() => [1, 2].every((i) => /lease store unreachable/.test(w[i].stderr())), 15_000, 'both wefts to notice the outage');
  await waitFor(() => [1, 2].every((i) => /could not renew our lease/.test(w[i].stderr())), (OUTAGE_S + 5) * 1000, 'both renewals to fall due and fail');
  assert.ok(Date.now() - downMs < OUTAGE_S * 1000, 'the renewals failed while etcd was down');
  await new Promise((r) => setTimeout(r, Math.max(0, downMs + OUTAGE_S * 1000 - Date.now())));
  await etcd.start();
  const backMs = Date.now();
  process.stdout.write(`\n  etcd stopped ${((downMs - firstSpawnMs) / 1000).toFixed(1)} s after the wefts started, for ${((backMs - downMs) / 1000).toFixed(1)} s\n`);

  // Back: both resync and renew at once.
  const renewedMs: number[] = [];
  for (const i of [1, 2]) {
    await waitFor(() => /lease store reachable again; resynced/.test(w[i].stderr()), 20_000, `h${i} to resync`);
    await waitFor(() => /renewed lease \S+ until/.test(w[i].stderr()), 20_000, `h${i} to renew its lease`);
    renewedMs.push(Date.now() - backMs);
  }
  const after = stored();
  for (const i of [1, 2]) {
    const l = after.find((x) => x.publicIp === rig.underlay(i))!;
    assert.is(l.subnet, subnet[i].replace('/', '-'), `h${i} kept its subnet`);
    assert.ok(l.rev > revs.get(rig.underlay(i))!, `h${i}'s lease was rewritten`);
  }

  // Forwarding never noticed.
  const res = await Promise.all(streams.map(async (s) => {
    await Promise.all([s.tx.exited, s.rx.exited]);
    const sent = (JSON.parse(s.tx.stdout()) as { sent: number }).sent;
    const got = JSON.parse(s.rx.stdout()) as { unique: number; gaps: { fromMs: number; toMs: number }[] };
    return { sent, ...got, maxPauseMs: Math.max(0, ...got.gaps.map((g) => g.toMs - g.fromMs)) };
  }));
  process.stdout.write(
    `  under load: h1→h2 ${res[0].unique}/${res[0].sent}, h2→h1 ${res[1].unique}/${res[1].sent} datagrams, ` +
    `${res[0].gaps.length + res[1].gaps.length} pauses over 200 ms (longest ${Math.max(res[0].maxPauseMs, res[1].maxPauseMs)} ms); ` +
    `both renewed within ${Math.max(...renewedMs)} ms of etcd's return\n`,
  );
  for (const r of res) {
    assert.ok(r.sent > 500 * OUTAGE_S, `the load ran through the outage (${r.sent} sent)`);
    assert.is(r.unique, r.sent, `datagrams lost while etcd was down: ${r.sent - r.unique}`);
    // A pause is the shared machine's scheduling, not etcd's absence; a stall would be longer.
    assert.ok(r.maxPauseMs < 1000, `the stream stalled for ${r.maxPauseMs} ms`);
  }
  assert.ok(w.every((p) => !p || p.child.exitCode === null), 'every weft still runs');
}

function noDuplicates(): void {
  const s = stored();
  assert.is(s.length, 3);
  assert.is(new Set(s.map((l) => l.subnet)).size, s.length, 'one lease per subnet');
  assert.is(new Set(s.map((l) => l.publicIp)).size, s.length, 'one lease per host');
  const held = w.map((p, i) => (p && p.child.exitCode === null ? subnet[i] : '')).filter(Boolean);
  assert.is(new Set(held).size, held.length, `running wefts hold distinct subnets: ${held.join(' ')}`);
}

// The race runs while the hosts wait for their renewals to fall due; a long
// outage has to start sooner than the race would end, so it goes first.
const raceTest = () => test('two hosts race for the last free subnet, three times: exactly one gets it, the other exits 1 saying none is left', race);
const outageTest = () => test(`etcd stopped for ${OUTAGE_S} s${OUTAGE_S < 60 ? ' (60 s shortened for CI; npm run faults:full runs 60)' : ''} under load, across both renewals: no datagram lost, both resync and renew at once when it is back`, outage);
if (OUTAGE_S >= 40) { outageTest(); raceTest(); } else { raceTest(); outageTest(); }
test('no subnet is ever held twice', noDuplicates);

test.run();
