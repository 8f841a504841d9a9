// Oversize frames and path MTU discovery on live wefts. weft enforces its
// --mtu (1400 here); the hosts' TAP MTU is then raised by hand to 9000, so
// their stacks send frames weft cannot carry: it drops them and answers
// with ICMP "fragmentation needed" (IPv4, DF) or "packet too big" (IPv6)
// written into the TAP, and the senders' route caches learn the MTU.
//
//   h1: weft0 (MTU 9000 by hand) 10.244.0.1/24 fd00:244::1/64 ── weft --mtu 1400 ══ weft --mtu 1400 ── weft0 (9000) :h2
//
// Also: a TCP transfer whose segments start too big finishes intact once
// PMTU discovery has settled (to h2's second address, 10.244.0.12, for which
// h1 has learned nothing yet), and a flood of too-big frames gets no more
// answers than --icmp-rate allows (UDP with DF that ignores the learned
// PMTU, IP_PMTUDISC_PROBE, sent by python3).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';
import { ask } from '../../src/admin/client.js';
import type { StatsResult } from '../../src/admin/commands.js';

const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
const ICMP_RATE = 20;
let rig: Rig;
const w: Proc[] = [];
const stats = (i: number) => ask({ path: `/run/weft/netns/${rig.ns(i)}/weft0.sock`, what: `on h${i}` }, { cmd: 'stats' }) as Promise<StatsResult>;

test.before(async () => {
  rig = Rig.up(2);
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`, '--mtu', '1400', '--icmp-rate', String(ICMP_RATE)]);
    rig.exec(i, ['ip', 'link', 'set', 'weft0', 'mtu', '9000']);
    rig.exec(i, ['ip', 'addr', 'add', `fd00:244::${i}/64`, 'dev', 'weft0', 'nodad']);
  }
  rig.exec(2, ['ip', 'addr', 'add', '10.244.0.12/24', 'dev', 'weft0']);
  // Neighbours resolved with small frames first.
  assert.is(ping(rig, 1, '10.244.0.2', 1).received, 1);
  assert.is(ping(rig, 1, 'fd00:244::2', 1).received, 1);
});
test.after(() => rig.down());

test('IPv4: ping -s 2000 -M do gets "Frag needed and DF set (mtu = 1400)"; the route cache learns 1400', async () => {
  const s0 = await stats(1);
  const r = rig.try(1, ['ping', '-c', '3', '-i', '0.2', '-W', '1', '-s', '2000', '-M', 'do', '10.244.0.2'], 20_000);
  const out = r.out + r.err;
  assert.match(out, /Frag needed and DF set \(mtu = 1400\)|message too long, mtu=1400/, out);
  assert.match(rig.exec(1, ['ip', 'route', 'get', '10.244.0.2']), /mtu 1400/);
  const s1 = await stats(1);
  assert.ok(s1.counters.tx_drop_too_big > s0.counters.tx_drop_too_big);
  assert.ok(s1.counters.icmp_too_big_sent > s0.counters.icmp_too_big_sent, JSON.stringify(s1.counters));
  // Within the MTU everything goes through.
  assert.is(ping(rig, 1, '10.244.0.2', 3, ['-s', '1372', '-M', 'do']).received, 3);
});

test('IPv6: ping -s 2000 gets "Packet too big: mtu=1400"; the route cache learns 1400', () => {
  const r = rig.try(1, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '1', '-s', '2000', '-M', 'do', 'fd00:244::2'], 20_000);
  const out = r.out + r.err;
  assert.match(out, /Packet too big: mtu=1400|message too long, mtu=1400/, out);
  assert.match(rig.exec(1, ['ip', '-6', 'route', 'get', 'fd00:244::2']), /mtu 1400/);
  assert.is(ping(rig, 1, 'fd00:244::2', 3, ['-s', '1352', '-M', 'do']).received, 3);
});

test('TCP whose segments start at MSS 8960: PMTU discovery brings them to the MTU and 4 MB arrive intact', async () => {
  assert.not.match(rig.exec(1, ['ip', 'route', 'get', '10.244.0.12']), /mtu/);
  const before = (await stats(1)).counters.icmp_too_big_sent;
  const srv = rig.spawn(2, [process.execPath, XFER, 'serve', '10.244.0.12', '5001']);
  await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
  const sent = rig.exec(1, [process.execPath, XFER, 'send', '10.244.0.12', '5001', String(4 << 20)], 60_000).trim();
  await srv.exited;
  assert.is(srv.stdout().trim(), sent);
  assert.match(sent, new RegExp(`^${4 << 20} `));
  assert.match(rig.exec(1, ['ip', 'route', 'get', '10.244.0.12']), /mtu 1400/);
  assert.ok((await stats(1)).counters.icmp_too_big_sent > before);
});

test(`a flood of too-big frames gets at most --icmp-rate (${ICMP_RATE}/s) answers; the rest are counted`, async () => {
  const s0 = await stats(1);
  const t0 = Date.now();
  requireTool('python3', 'python3');
  // IP_MTU_DISCOVER (10) = IP_PMTUDISC_PROBE (3): DF set, the learned PMTU ignored, so every datagram is 2028 bytes.
  const py = 'import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(socket.IPPROTO_IP, 10, 3)\n' +
    'for i in range(400):\n    s.sendto(b"x" * 2000, ("10.244.0.2", 9))\n    time.sleep(0.005)\n';
  rig.exec(1, ['python3', '-c', py], 30_000);
  const s1 = await stats(1);
  // Up to the answer to `stats`: weft took its last token before that.
  const secs = (Date.now() - t0) / 1000;
  const sent = s1.counters.icmp_too_big_sent - s0.counters.icmp_too_big_sent;
  const limited = s1.counters.icmp_too_big_limited - s0.counters.icmp_too_big_limited;
  const big = s1.counters.tx_drop_too_big - s0.counters.tx_drop_too_big;
  process.stdout.write(`\n  ${big} too-big frames in ${secs.toFixed(1)} s: ${sent} answered, ${limited} over the limit\n`);
  assert.ok(big >= 390, `${big} too-big frames`);
  assert.ok(sent <= ICMP_RATE * secs + 10 + 2, `${sent} answers in ${secs} s`);
  assert.ok(sent >= 10, 'the burst at least');
  assert.is(sent + limited, big);
});

test('--no-offload: an oversize frame is read whole, dropped and answered (not cut to the MTU and sent on)', async () => {
  const r2 = Rig.up(2);
  try {
    for (const i of [1, 2]) {
      await r2.weft(i, ['--no-offload', '--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`, '--mtu', '1400']);
      r2.exec(i, ['ip', 'link', 'set', 'weft0', 'mtu', '9000']);
    }
    assert.is(ping(r2, 1, '10.244.0.2', 1).received, 1);
    const r = r2.try(1, ['ping', '-c', '2', '-i', '0.2', '-W', '1', '-s', '2000', '-M', 'do', '10.244.0.2'], 20_000);
    assert.match(r.out + r.err, /Frag needed and DF set \(mtu = 1400\)|message too long, mtu=1400/, r.out + r.err);
    const s = await ask({ path: `/run/weft/netns/${r2.ns(1)}/weft0.sock`, what: 'on h1' }, { cmd: 'stats' }) as StatsResult;
    assert.ok(s.counters.tx_drop_too_big >= 1 && s.counters.icmp_too_big_sent >= 1, JSON.stringify(s.counters));
  } finally {
    r2.down();
  }
});

test.run();
