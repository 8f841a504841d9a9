// Three weft hosts: broadcast (ARP) reaches both peers; once MACs are
// learned, unicast goes only to the right VTEP.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rig, ping, weftStatus, type Proc } from '../helpers/rig.js';

let rig: Rig;
const w: Proc[] = [];

test.before(async () => {
  rig = Rig.up(3);
  // No IPv6 on the TAPs: router solicitations and MLD reports are multicast,
  // rightly flooded to every peer, and would blur the unicast count below.
  for (const i of [1, 2, 3]) rig.exec(i, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
  for (const i of [1, 2, 3]) {
    const peers = [1, 2, 3].filter((j) => j !== i).flatMap((j) => ['--peer', `198.18.0.${j}`]);
    w[i] = await rig.weft(i, ['--local', `198.18.0.${i}`, ...peers, '--address', `10.244.0.${i}/24`, '--mac', `02:00:0a:f4:00:0${i}`]);
  }
});
test.after(() => rig.down());

test('an ARP broadcast from h1 reaches h2 and h3', async () => {
  // arping sends one broadcast request; both peers' weft decap it.
  const b2 = (await weftStatus(w[2])).counters.rx_frames;
  const b3 = (await weftStatus(w[3])).counters.rx_frames;
  assert.is(ping(rig, 1, '10.244.0.2', 1).received, 1);
  const s1 = await weftStatus(w[1]);
  assert.ok(s1.counters.tx_flood_copies >= 2, JSON.stringify(s1.counters));
  assert.ok((await weftStatus(w[2])).counters.rx_frames > b2);
  assert.ok((await weftStatus(w[3])).counters.rx_frames > b3, 'h3 got the broadcast');
});

test('after learning, unicast between h1 and h2 never reaches h3', async () => {
  ping(rig, 1, '10.244.0.2', 2);
  const before = (await weftStatus(w[3])).counters.rx_datagrams;
  const r = ping(rig, 1, '10.244.0.2', 20, ['-i', '0.05']);
  assert.is(r.received, 20);
  const after = (await weftStatus(w[3])).counters.rx_datagrams;
  assert.is(after, before, `h3 received ${after - before} datagrams during h1↔h2 unicast`);
  const s1 = await weftStatus(w[1]);
  assert.ok(s1.counters.tx_unicast >= 20);
});

test.run();
