// VNI isolation: one weft per host carries two VNIs, each on its own TAP,
// over one UDP socket; both TAPs of a host have the same MAC.
//
//   h1: weft0  10.244.10.1/24 (VNI 10) ─┐                      ┌─ weft0  10.244.10.2/24 (VNI 10) :h2
//       weft20 10.244.20.1/24 (VNI 20) ─┴ weft ══ switch ══ weft ┴─ weft20 10.244.20.2/24 (VNI 20)
//       MAC 02:00:0a:f4:00:01 on both                              MAC 02:00:0a:f4:00:02 on both
//
// Each pair pings within its VNI; broadcasts (ARP for an absent address,
// a broadcast ping) and unicast on one VNI never reach the other VNI's TAP
// (tcpdump on it, and the per-VNI counters); the same MAC is learned in
// both VNIs as two entries.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rig, ping, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { WEFT } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';
import { ask } from '../../src/admin/client.js';
import type { FdbShowResult, StatsResult } from '../../src/admin/commands.js';

const MAC = (i: number) => `02:00:0a:f4:00:0${i}`;
const TAP = { 10: 'weft0', 20: 'weft20' } as const;
let rig: Rig;
const w: Proc[] = [];
const sock = (i: number) => `/run/weft/netns/${rig.ns(i)}/weft0.sock`;
const stats = (i: number) => ask({ path: sock(i), what: `on h${i}` }, { cmd: 'stats' }) as Promise<StatsResult>;
const vniRx = async (i: number, vni: number) => (await stats(i)).vnis!.find((v) => v.vni === vni)!.rxFrames;

test.before(async () => {
  requireTool('tcpdump', 'tcpdump');
  rig = Rig.up(2);
  for (const i of [1, 2]) {
    // No IPv6 on the TAPs: router solicitations and MLD reports would be traffic of their own.
    rig.exec(i, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    w[i] = await rig.weft(i, ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--mac', MAC(i),
      '--vni', '10', '--address', `10.244.10.${i}/24`, '--vni', `20:weft20:10.244.20.${i}/24`]);
  }
  // The peers' neighbour entries fixed: the kernel's reachability probes (a unicast ARP seconds after a ping)
  // would otherwise land on a VNI while the other VNI's test counts.
  for (const i of [1, 2]) {
    for (const [vni, tap] of Object.entries(TAP)) {
      // One ARP request for an absent address, not three a second apart that outlive the test sending them.
      rig.exec(i, ['sysctl', '-qw', `net.ipv4.neigh.${tap}.mcast_solicit=1`]);
      rig.exec(i, ['ip', 'neigh', 'replace', `10.244.${vni}.${3 - i}`, 'lladdr', MAC(3 - i), 'nud', 'permanent', 'dev', tap]);
    }
  }
});
test.after(() => rig.down());

test('one socket, two TAPs with the same MAC; the start line names both', () => {
  assert.match(w[1].stderr(), /listening on udp 198\.18\.0\.1:8472, tap weft0 mac 02:00:0a:f4:00:01 mtu 1450 address 10\.244\.10\.1\/24, vni 10; tap weft20 mac 02:00:0a:f4:00:01 mtu 1450 address 10\.244\.20\.1\/24, vni 20, peers 198\.18\.0\.2:8472/);
  for (const tap of Object.values(TAP)) {
    const j = JSON.parse(rig.exec(1, ['ip', '-j', 'addr', 'show', 'dev', tap]))[0];
    assert.is(j.address, MAC(1), tap);
  }
  assert.is(rig.exec(1, ['ss', '-Hunl', 'sport', '= :8472']).trim().split('\n').length, 1, 'one UDP socket');
});

/** Frames the kernel received on each of host i's `taps` (written there by weft) while `fn` runs, one line each. */
async function seenOn(i: number, taps: string[], fn: () => Promise<void> | void): Promise<string[][]> {
  const dumps = taps.map((tap) => rig.spawn(i, ['timeout', '-s', 'INT', '15', 'tcpdump', '-i', tap, '-Q', 'in', '-n', '-l', '-e']));
  for (const [k, d] of dumps.entries()) await waitFor(() => /listening on/.test(d.stderr()), 5000, `tcpdump on ${taps[k]}`);
  await fn();
  await new Promise((r) => setTimeout(r, 300));
  for (const d of dumps) process.kill(d.pid, 'SIGINT');
  for (const d of dumps) await d.exited;
  return dumps.map((d) => d.stdout().trim().split('\n').filter(Boolean));
}

for (const [vni, other] of [[10, 20], [20, 10]] as const) {
  test(`traffic on VNI ${vni} (ARP broadcasts, a broadcast ping, 20 pings) never reaches VNI ${other}'s TAP`, async () => {
    const otherBefore = await vniRx(2, other);
    const ownBefore = await vniRx(2, vni);
    const [own, lines] = await seenOn(2, [TAP[vni], TAP[other]], async () => {
      // An absent address: the ARP requests are broadcast on VNI `vni`.
      rig.try(1, ['ping', '-c', '1', '-W', '1', `10.244.${vni}.99`]);
      rig.try(1, ['ping', '-b', '-c', '2', '-i', '0.2', '-W', '1', `10.244.${vni}.255`]);
      assert.is(ping(rig, 1, `10.244.${vni}.2`, 20, ['-i', '0.05']).received, 20);
      // The absent address's resolution over (FAILED, or gone), so no request of it is left to come.
      await waitFor(() => !/INCOMPLETE|PROBE|DELAY/.test(rig.exec(1, ['ip', 'neigh', 'show', `10.244.${vni}.99`])), 5000, 'ARP for the absent address over');
    });
    assert.equal(lines, [], `seen on h2 ${TAP[other]}`);
    // The same capture on the VNI's own TAP sees it all: the ARP broadcasts, the broadcast ping, the pings.
    assert.ok(own.filter((l) => new RegExp(`ff:ff:ff:ff:ff:ff, ethertype ARP .*Request who-has 10\\.244\\.${vni}\\.99`).test(l)).length >= 1, own.join('\n'));
    assert.ok(own.some((l) => new RegExp(`> 10\\.244\\.${vni}\\.255: ICMP echo request`).test(l)), own.join('\n'));
    assert.ok(own.filter((l) => new RegExp(`> 10\\.244\\.${vni}\\.2: ICMP echo request`).test(l)).length >= 20);
    assert.is(await vniRx(2, other), otherBefore, `VNI ${other}'s counter moved`);
    assert.ok((await vniRx(2, vni)) >= ownBefore + 20 + 3, 'VNI\'s own traffic counted');
  });
}

test('the same MAC on both VNIs: two forwarding entries, no clash; both pairs ping both ways', async () => {
  for (const vni of [10, 20]) {
    assert.is(ping(rig, 1, `10.244.${vni}.2`).received, 3);
    assert.is(ping(rig, 2, `10.244.${vni}.1`).received, 3);
  }
  const fdb = await ask({ path: sock(1), what: 'on h1' }, { cmd: 'fdb-show' }) as FdbShowResult;
  const mine = fdb.entries.filter((e) => e.mac === MAC(2));
  assert.equal(mine.map((e) => [e.vni, e.dst, e.state]).sort(), [[10, '198.18.0.2', 'learned'], [20, '198.18.0.2', 'learned']]);
  // `weft fdb show` names each entry's own TAP.
  const show = rig.exec(1, [process.execPath, WEFT, 'fdb', 'show']);
  assert.match(show, new RegExp(`${MAC(2)} dev weft0 dst 198\\.18\\.0\\.2 vni 10 learned`));
  assert.match(show, new RegExp(`${MAC(2)} dev weft20 dst 198\\.18\\.0\\.2 vni 20 learned`));
  const text = rig.exec(1, [process.execPath, WEFT, 'stats']);
  assert.match(text, /vni 10 weft0: rx frames \d+/);
  assert.match(text, /vni 20 weft20: rx frames \d+/);
});

test('SIGTERM removes both TAPs', async () => {
  assert.is(await stopWeft(w[1], 2000), 0);
  assert.match(w[1].stderr(), /stopped by SIGTERM; taps weft0, weft20 removed/);
  for (const tap of Object.values(TAP)) assert.is.not(rig.try(1, ['ip', 'link', 'show', tap]).status, 0, tap);
});

test.run();
