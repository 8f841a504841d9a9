// A broadcast storm from one host behind a weft, with --bum-rate 50
// --bum-burst 50: a thousand UDP broadcasts, 2 ms apart.
//
//   h1: weft0 10.244.0.1/24 ── weft --bum-rate 50 ══ switch ══ weft ── weft0 10.244.0.2/24 :h2
//       UDP to 10.244.0.255 ×1000
//
// h1's weft floods at most the burst plus the rate for the storm's length,
// counts the rest as tx_drop_bum_rate (and in /metrics' drops family), and
// unicast keeps working meanwhile; h2's own ARP for h1 is unaffected (its
// budget is its own). With the default budget (1000/s), everyday traffic
// (ARP, a broadcast ping a second) loses nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rig, ping } from '../helpers/rig.js';
import { ask } from '../../src/admin/client.js';
import type { StatsResult } from '../../src/admin/commands.js';

const RATE = 50;
/** 1000 UDP broadcasts on the overlay, one every 2 ms (bounded: it stops after the last). */
const STORM = `const s = require('node:dgram').createSocket('udp4');
s.bind(() => { s.setBroadcast(true); let n = 0;
  const t = setInterval(() => { s.send(Buffer.alloc(64), 9, '10.244.0.255'); if (++n === 1000) { clearInterval(t); setTimeout(() => s.close(), 100); } }, 2); });`;

test(`a broadcast storm is cut to --bum-rate ${RATE}/s; unicast and the other host's ARP keep working`, async () => {
  const rig = Rig.up(2);
  try {
    for (const i of [1, 2]) rig.exec(i, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    // Two forwarding workers on h1: the BUM budget is one set of buckets for both.
    await rig.weft(1, ['--workers', '2', '--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--bum-rate', String(RATE), '--bum-burst', String(RATE), '--metrics', '127.0.0.1:9108']);
    await rig.weft(2, ['--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24']);
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    const stats = (i: number) => ask({ path: `/run/weft/netns/${rig.ns(i)}/weft0.sock`, what: `on h${i}` }, { cmd: 'stats' }) as Promise<StatsResult>;
    // Let the bucket fill again after the ARP above.
    await new Promise((r) => setTimeout(r, 1200));
    const a1 = await stats(1), a2 = await stats(2);

    const t0 = Date.now();
    const storm = rig.spawn(1, [process.execPath, '-e', STORM]);
    // Meanwhile: unicast from h1, and h2 resolving h1 afresh (its ARP request is h2's broadcast, not h1's).
    const uni = ping(rig, 1, '10.244.0.2', 5, ['-i', '0.1']);
    rig.exec(2, ['ip', 'neigh', 'flush', 'dev', 'weft0']);
    const arp = ping(rig, 2, '10.244.0.1', 2);
    await storm.exited;
    const b1 = await stats(1), b2 = await stats(2);
    // Up to the answer to `stats`: weft took its last token before that.
    const secs = (Date.now() - t0) / 1000;

    const flooded = b1.counters.tx_flooded - a1.counters.tx_flooded;
    const dropped = b1.counters.tx_drop_bum_rate - a1.counters.tx_drop_bum_rate;
    const arrived = b2.counters.rx_frames - a2.counters.rx_frames;
    process.stdout.write(`\n  storm ${secs.toFixed(1)} s: ${flooded} flooded, ${dropped} dropped (tx_drop_bum_rate); h2 received ${arrived} frames\n`);
    assert.ok(flooded + dropped >= 1000, `${flooded} + ${dropped}`);
    assert.ok(flooded <= RATE + RATE * secs + 5, `${flooded} flooded in ${secs} s`);
    assert.ok(dropped >= 1000 - RATE - RATE * secs - 5);
    assert.is(uni.received, 5, 'unicast during the storm');
    assert.is(arp.received, 2, 'h2 resolved h1 during the storm');

    const js = `fetch('http://127.0.0.1:9108/metrics').then(async (r) => process.stdout.write(await r.text()))`;
    const line = rig.exec(1, [process.execPath, '-e', js]).split('\n').find((l) => l.startsWith('weft_drops_total{direction="tx",reason="bum_rate"} '));
    assert.is(Number(line?.split(' ')[1]), b1.counters.tx_drop_bum_rate);
  } finally {
    rig.down();
  }
});

test('the default budget: a broadcast ping a second and ARP lose nothing', async () => {
  const rig = Rig.up(2);
  try {
    for (const i of [1, 2]) {
      rig.exec(i, ['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0']);
      await rig.weft(i, ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`]);
    }
    const r = rig.try(1, ['ping', '-b', '-c', '5', '-i', '0.5', '-W', '1', '10.244.0.255'], 20_000);
    assert.match(r.out, /5 packets transmitted, 5 received/, r.out + r.err);
    const s = await ask({ path: `/run/weft/netns/${rig.ns(1)}/weft0.sock`, what: 'on h1' }, { cmd: 'stats' }) as StatsResult;
    assert.is(s.counters.tx_drop_bum_rate, 0);
  } finally {
    rig.down();
  }
});

test.run();
