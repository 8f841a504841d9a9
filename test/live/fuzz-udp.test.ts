// Hostile input at the live UDP port: 50,000 random and mutated
// VXLAN datagrams sent to h1's weft from h2 — 60 % from ordinary UDP sockets
// on h2's address, 40 % through a raw socket (the `raw-socket` package,
// IP_HDRINCL) with forged source addresses from 198.18.0.0/15. Afterwards
// weft is alive, its counters account for every datagram (rx_datagrams =
// rx_frames + drops, and rx_datagrams = the datagrams sent less the ones h1's
// kernel dropped before the socket: the deliberately bad checksums), and
// ping still crosses the overlay both ways. h1's weft runs two forwarding
// workers (--workers 2), h2's one: the fuzz lands on shared tables, summed
// counters and both sockets of the group (the raw datagrams' forged
// addresses and the sockets' ports spread it).
//
//   h1: weft0 10.244.0.1/24 ── weft ── 198.18.0.1:8472 ══ switch ══ 198.18.0.2 ── weft ── weft0 10.244.0.2/24 :h2
//                                          ▲                          │
//                                          └── fuzz-sender.js in h2 ──┘ udp from 198.18.0.2:*,
//                                              raw from 198.18.x.y / 198.19.x.y (forged)
//
// Everything stays in the rig: the forged sources are underlay addresses no
// host has; whatever h1 sends back to them goes nowhere (off-link ones have
// no route, on-link ones no neighbour). Before the run, each host's overlay
// neighbour entry for the other is made permanent and IPv6 is off on the
// TAPs: fuzzed ARP cannot poison the kernels' caches (weft's own table is
// what is under test), and no background chatter blurs the count.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, type Proc } from '../helpers/rig.js';
import { ROOT, WEFT } from '../helpers/paths.js';
import { counterImbalances } from '../helpers/proc-stats.js';

const SENDER = join(ROOT, 'dist/test/helpers/fuzz-sender.js');
const COUNT = Number(process.env.FUZZ_LIVE_DATAGRAMS ?? 50_000);
const MAC1 = '02:00:0a:f4:00:01', MAC2 = '02:00:0a:f4:00:02';
let rig: Rig;
let w1: Proc;

const args = (i: number) => ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`, '--mac', i === 1 ? MAC1 : MAC2,
  ...(i === 1 ? ['--workers', '2'] : [])];

/** h1's weft counters, through its control socket. */
function counters(): Record<string, number> {
  const r = rig.try(1, [process.execPath, WEFT, 'stats', '--json']);
  assert.is(r.status, 0, r.err);
  return (JSON.parse(r.out) as { counters: Record<string, number> }).counters;
}

/** h1's kernel counters that drop a datagram before a socket sees it (from its underlay and its TAP alike). */
function kernelDrops(): Record<string, number> {
  const { Ip: ip, Udp: udp } = rig.snmp(1);
  return { InCsumErrors: udp.InCsumErrors, RcvbufErrors: udp.RcvbufErrors, UdpInErrors: udp.InErrors, NoPorts: udp.NoPorts, ReasmFails: ip.ReasmFails, InHdrErrors: ip.InHdrErrors, InAddrErrors: ip.InAddrErrors };
}

test.before(async () => {
  rig = Rig.up(2);
  // Forged sources arrive on eth0 with no route back: reverse-path filtering would drop them.
  rig.exec(1, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
  w1 = await rig.weft(1, args(1));
  await rig.weft(2, args(2));
  for (const [i, other, mac] of [[1, 2, MAC2], [2, 1, MAC1]] as const) {
    rig.exec(i, ['sysctl', '-qw', 'net.ipv6.conf.weft0.disable_ipv6=1']);
    rig.exec(i, ['ip', 'neigh', 'replace', `10.244.0.${other}`, 'lladdr', mac, 'dev', 'weft0', 'nud', 'permanent']);
  }
});
test.after(() => rig.down());

test('before: the overlay works, and nothing else is arriving', async () => {
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  const a = counters().rx_datagrams;
  await new Promise((res) => setTimeout(res, 1000));
  assert.is(counters().rx_datagrams, a, 'background datagrams');
});

test(`${COUNT.toLocaleString('en')} fuzzed datagrams, 40 % with forged sources: weft survives and counts every one`, async () => {
  const c0 = counters(), k0 = kernelDrops();
  const t0 = Date.now();
  const out = rig.exec(2, [process.execPath, SENDER, '198.18.0.1', '8472', String(COUNT), '3', '0.4', MAC1, '198.18'], 120_000);
  const sent = JSON.parse(out.trim().split('\n').pop()!) as { sent: number; udp: number; raw: number; badChecksum: number; failed: number; sources: number; ms: number };
  // Until the socket is drained: the counter stops moving.
  let c1 = counters(), prev = -1;
  for (let i = 0; i < 50 && c1.rx_datagrams !== prev; i++) {
    prev = c1.rx_datagrams;
    await new Promise((res) => setTimeout(res, 200));
    c1 = counters();
  }
  const k1 = kernelDrops();
  const d = (k: string) => (c1[k] ?? 0) - (c0[k] ?? 0);
  const kd = Object.fromEntries(Object.keys(k1).map((k) => [k, k1[k] - k0[k]]));
  const drops = Object.fromEntries(Object.keys(c1).filter((k) => k.startsWith('rx_drop_') && d(k) !== 0).map((k) => [k, d(k)]));
  process.stdout.write(`\n  sent ${sent.sent} (udp ${sent.udp}, raw ${sent.raw} from ${sent.sources} forged sources, ${sent.badChecksum} with a bad checksum, ${sent.failed} refused by h2) in ${sent.ms} ms;` +
    `\n  h1 kernel dropped ${JSON.stringify(kd)}; weft received ${d('rx_datagrams')}, delivered ${d('rx_frames')}, dropped ${JSON.stringify(drops)} (${Date.now() - t0} ms)\n`);

  assert.ok(sent.sent >= COUNT * 0.99 && sent.raw > COUNT * 0.3, JSON.stringify(sent));
  assert.is(w1.child.exitCode, null, `weft exited: ${w1.stderr().slice(-2000)}`);
  assert.not.match(w1.stderr(), /internal error|uncaught|    at /i);
  // Every datagram weft received is counted once.
  assert.equal(counterImbalances(c1), []);
  // Every datagram sent reached weft, but those h1's kernel dropped first:
  // the bad checksums, and any that found weft's socket buffer full. (h1's
  // other kernel counters also count the fuzzed inner packets weft delivered
  // to its TAP, so they are shown, not summed.)
  assert.ok(kd.InCsumErrors >= sent.badChecksum, JSON.stringify(kd));
  assert.is(d('rx_datagrams') + kd.RcvbufErrors, sent.sent - sent.badChecksum, `kernel: ${JSON.stringify(kd)}`);
  assert.ok(d('rx_frames') > 0 && Object.keys(drops).length >= 4, JSON.stringify(drops));
});

test('after: weft still forwards — ping both ways, and the control socket answers', () => {
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  assert.is(ping(rig, 2, '10.244.0.1').received, 3);
  assert.equal(counterImbalances(counters()), []);
});

test.run();
