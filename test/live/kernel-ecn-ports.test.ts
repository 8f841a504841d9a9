// Per-flow source ports and ECN against the Linux kernel's own vxlan device,
// as RFC 7348 §5 and RFC 6040 have the two ends behave:
//
//   h1: weft (TAP weft0, 10.244.0.1/24)  ══ 198.18.0.0/24 ══  h2: kernel vx0 (10.244.0.2/24)
//
// - Four TCP flows from weft leave from several UDP source ports (seen on
//   h1's underlay link with tcpdump) and all arrive whole at the kernel.
// - A CE mark set on the underlay (iptables' TOS target on h2's way out:
//   the ECN bits of the outer header set to 11, as a congested router
//   would) reaches the inner ECT packets weft writes into its TAP, and the
//   marked transfer still arrives whole.
// - An outer CE on a Not-ECT inner packet (ping) is dropped and counted
//   (rx_drop_ecn_not_ect).
// Needs root, tcpdump and iptables; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, weftStatus, waitFor, type Proc } from '../helpers/rig.js';
import { sniff as sniffIn, sniffed as stop, sourcePorts } from '../helpers/sniff.js';
import { ROOT } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';

const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
let rig: Rig;
let w: Proc;
const sniff = (h: number, args: string[]) => sniffIn(rig, h, args);

test.before(async () => {
  requireTool('tcpdump', 'tcpdump');
  requireTool('iptables', 'iptables');
  rig = Rig.up(2);
  // ECN-capable TCP at both ends (per namespace), so data segments are ECT(0).
  for (const h of [1, 2]) rig.exec(h, ['sysctl', '-q', '-w', 'net.ipv4.tcp_ecn=1']);
  rig.exec(2, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', '198.18.0.2', 'remote', '198.18.0.1', 'dev', 'eth0']);
  rig.exec(2, ['ip', 'link', 'set', 'vx0', 'address', '02:00:0a:f4:00:02', 'up']);
  rig.exec(2, ['ip', 'addr', 'add', '10.244.0.2/24', 'dev', 'vx0']);
  w = await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--mac', '02:00:0a:f4:00:01']);
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
});
test.after(() => rig.down());

/** `n` concurrent transfers of `bytes` from host `from` to host `to`; asserts each arrived whole. */
async function transfers(from: number, to: number, n: number, bytes: number, port0: number): Promise<void> {
  const servers = Array.from({ length: n }, (_, k) => rig.spawn(to, [process.execPath, XFER, 'serve', `10.244.0.${to}`, String(port0 + k)]));
  for (const s of servers) await waitFor(() => /listening/.test(s.stderr()), 5000, 'xfer server');
  const senders = servers.map((_, k) => rig.spawn(from, [process.execPath, XFER, 'send', `10.244.0.${to}`, String(port0 + k), String(bytes)]));
  for (let k = 0; k < n; k++) {
    assert.is(await senders[k].exited, 0, `sender ${k}: ${senders[k].stderr()}`);
    await servers[k].exited;
    assert.is(servers[k].stdout().trim(), senders[k].stdout().trim(), `flow ${k} arrived whole`);
  }
}

test('four TCP flows leave weft from at least three UDP source ports, from the local port range, and all arrive', async () => {
  const cap = await sniff(1, ['-i', 'eth0', 'udp and src host 198.18.0.1 and dst port 8472']);
  await transfers(1, 2, 4, 4 << 20, 5100);
  const out = await stop(cap);
  const ports = sourcePorts(out, '198.18.0.1', '198.18.0.2');
  const [lo, hi] = rig.exec(1, ['cat', '/proc/sys/net/ipv4/ip_local_port_range']).trim().split(/\s+/).map(Number);
  const big = [...ports].filter(([, n]) => n > 10).map(([p]) => p);
  console.log(`  source ports seen (datagrams): ${[...ports].map(([p, n]) => `${p}:${n}`).join(' ')}`);
  // The data of each flow goes from its port (tcpdump sees a GSO message as one); ARP and pings add a few more.
  assert.ok(big.length >= 3, `four flows from ${big.length} busy source ports: ${JSON.stringify([...ports])}`);
  for (const p of ports.keys()) assert.ok(p >= lo && p <= hi, `port ${p} inside ${lo}-${hi}`);
  const o = ((await weftStatus(w)) as unknown as { offload: Record<string, number> }).offload;
  assert.ok(o.srcPortSockets >= big.length && o.srcPortFallbacks === 0, JSON.stringify(o));
});

test('a CE mark on the underlay reaches the inner ECT packets, and the marked transfer arrives whole', async () => {
  // Outer CE on h2's big datagrams only (TCP data: ECT(0) inside); SYNs and pure ACKs are Not-ECT and stay unmarked.
  const rule = ['POSTROUTING', '-p', 'udp', '--dport', '8472', '-m', 'length', '--length', '1200:65535', '-j', 'TOS', '--set-tos', '0x03/0x03'];
  rig.exec(2, ['iptables', '-t', 'mangle', '-A', ...rule]);
  try {
    const before = (await weftStatus(w)).counters;
    // Inner IPv4 packets written into weft0 whose ECN field is CE.
    const cap = await sniff(1, ['-i', 'weft0', 'ip and (ip[1] & 3) = 3']);
    const underlay = await sniff(1, ['-i', 'eth0', 'udp and src host 198.18.0.2 and (ip[1] & 3) = 3']);
    await transfers(2, 1, 1, 4 << 20, 5200);
    const inner = (await stop(cap)).split('\n').filter((l) => /10\.244\.0\.2\.\d+ > 10\.244\.0\.1\.5200/.test(l));
    const outer = (await stop(underlay)).split('\n').filter((l) => /198\.18\.0\.2\.\d+ > 198\.18\.0\.1\.8472/.test(l));
    const after = (await weftStatus(w)).counters;
    console.log(`  outer CE datagrams ${outer.length}, inner CE packets into weft0 ${inner.length}, rx_ecn_ce ${after.rx_ecn_ce - before.rx_ecn_ce}`);
    assert.ok(outer.length > 0, 'the underlay carried CE-marked datagrams');
    assert.ok(inner.length > 0, 'the CE mark reached the inner packets');
    assert.ok(after.rx_ecn_ce - before.rx_ecn_ce > 0, 'counted as rx_ecn_ce');
  } finally {
    rig.exec(2, ['iptables', '-t', 'mangle', '-D', ...rule]);
  }
});

test('an outer CE on a Not-ECT inner packet (ping) is dropped and counted', async () => {
  // ping -s 1050: an outer datagram of 1128 bytes, inside the rule's range; nothing else is that size.
  const rule = ['POSTROUTING', '-p', 'udp', '--dport', '8472', '-m', 'length', '--length', '1100:1199', '-j', 'TOS', '--set-tos', '0x03/0x03'];
  rig.exec(2, ['iptables', '-t', 'mangle', '-A', ...rule]);
  try {
    const before = (await weftStatus(w)).counters.rx_drop_ecn_not_ect;
    assert.is(ping(rig, 2, '10.244.0.1', 3, ['-s', '1050']).received, 0);
    const after = (await weftStatus(w)).counters.rx_drop_ecn_not_ect;
    assert.ok(after - before >= 3, `rx_drop_ecn_not_ect rose by ${after - before}`);
  } finally {
    rig.exec(2, ['iptables', '-t', 'mangle', '-D', ...rule]);
  }
  assert.is(ping(rig, 2, '10.244.0.1', 3, ['-s', '1050']).received, 3, 'without the mark the same pings pass');
});

test.run();
