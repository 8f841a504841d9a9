// flannel's udp backend (Backend.Type "udp") with a real etcd: three wefts
// find each other through their leases, carry bare IPv4 in UDP 8285 between
// their TUNs — TCP with the offloads (TSO on the TUN, UDP GSO/GRO, segments
// merged back on write) while the wire stays flannel's, one packet of at most
// the MTU per datagram — and follow a lease removed and added; `weft capture`
// on one of them records both sides as tshark reads them.
//
//   h1 h2 h3: weft --etcd-endpoints http://198.18.0.254:2379   (TUN flannel0 = <subnet>.0/32, 10.244.0.0/16 dev flannel0)
//        └──────── 198.18.0.0/24 ── br0 198.18.0.254 ── etcd   [switch namespace]

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Rig, ping, weftStatus, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd } from '../helpers/etcd.js';
import { ROOT, WEFT, tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';

const PREFIX = '/coreos.com/network';
const NETCONF = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "udp"}}';
const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const w: Proc[] = [];
const subnet: string[] = [];

function weftArgs(i: number): string[] {
  return ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
}

/** The host's leased subnet, from its log line "lease 10.244.X.0/24 in …". */
function leaseOf(p: Proc): string {
  const m = /"msg":"lease (\S+) in /.exec(p.stderr());
  if (!m) throw new Error(`no lease line in: ${p.stderr()}`);
  return m[1];
}
const gw = (sn: string) => sn.split('/')[0];
const key = (sn: string) => `${PREFIX}/subnets/${sn.replace('/', '-')}`;

/** Waits until host i has taken host j's lease as a route (its log says so after `from` characters). */
async function routed(i: number, j: number, from = 0): Promise<void> {
  await waitFor(() => w[i].stderr().slice(from).includes(`lease ${subnet[j]} → ${rig.underlay(j)}`), 10_000, `h${i} to route ${subnet[j]} to h${j}`);
}

test.before(async () => {
  rig = Rig.up(3);
  tmp = tempDir('udpbe');
  etcd = await Etcd.start(rig);
  etcd.put(`${PREFIX}/config`, NETCONF);
  for (const i of [1, 2, 3]) {
    w[i] = await rig.weft(i, weftArgs(i), 20_000);
    subnet[i] = leaseOf(w[i]);
  }
  for (const i of [1, 2, 3]) for (const j of [1, 2, 3]) if (i !== j) await routed(i, j);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

test('each lease is what flanneld\'s udp backend writes: PublicIP and a null PublicIPv6, nothing else', () => {
  for (const i of [1, 2, 3]) {
    const kv = etcd.list(key(subnet[i]));
    assert.is(kv.length, 1);
    assert.is(kv[0].value, `{"PublicIP":"198.18.0.${i}","PublicIPv6":null}`);
  }
});

test('the TUN is flannel0: L3, the lease\'s address as /32, MTU underlay − 28, one route for the network; subnet.env says so', () => {
  for (const i of [1, 2, 3]) {
    const d = JSON.parse(rig.exec(i, ['ip', '-d', '-j', 'addr', 'show', 'dev', 'flannel0']))[0];
    assert.is(d.linkinfo.info_data.type, 'tun');
    assert.is(d.mtu, 1472);
    // One super-packet from the TUN fits one UDP GSO send: 65507 / 1472 → 44 datagrams.
    assert.is(d.gso_max_segs, 44);
    assert.equal(d.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`), [`${gw(subnet[i])}/32`]);
    assert.is(rig.exec(i, ['ip', 'route', 'show', 'dev', 'flannel0']).trim().split('\n').filter((l) => l.includes('10.244.0.0/16')).length, 1);
    const third = gw(subnet[i]).split('.')[2];
    assert.is(readFileSync(join(tmp.dir, `h${i}.env`), 'utf8'), `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${third}.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n`);
  }
});

test('every host pings every other host\'s TUN address', () => {
  for (const i of [1, 2, 3]) {
    for (const j of [1, 2, 3]) {
      if (i !== j) assert.is(ping(rig, i, gw(subnet[j]), 2).received, 2, `h${i} → h${j} ${gw(subnet[j])}`);
    }
  }
});

test('on the wire: IPv4 in UDP 8285, no header between; tshark finds valid inner checksums and each TTL one less than sent', async () => {
  requireTool('tshark', 'tshark');
  requireTool('tcpdump', 'tcpdump');
  const pcap = join(tmp.dir, 'h2.pcap');
  const dump = rig.spawn(2, ['timeout', '-s', 'INT', '15', 'tcpdump', '-Z', 'root', '-c', '6', '-i', 'eth0', '-U', '-w', pcap, 'udp port 8285']);
  await waitFor(() => /listening on/.test(dump.stderr()), 5000, 'tcpdump');
  assert.is(ping(rig, 1, gw(subnet[2]), 3, ['-t', '20']).received, 3);
  await dump.exited; // after the 6 datagrams (-c), or 15 s
  // The last occurrence of a field is the inner packet's (the first, the outer header's).
  const fields = (name: string) => rig.exec(2, ['tshark', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-d', 'udp.port==8285,ip', '-T', 'fields', '-E', 'occurrence=l', '-e', name]).trim().split('\n');
  assert.equal(fields('icmp.type').sort(), ['0', '0', '0', '8', '8', '8']);
  assert.equal([...new Set(fields('ip.src'))].sort(), [gw(subnet[1]), gw(subnet[2])].sort(), 'the inner packets are the TUN addresses\' ping');
  // Requests were sent with TTL 20 and left h1's weft with 19; replies left h2's kernel with 64 and its weft with 63.
  assert.equal(fields('ip.ttl').sort(), ['19', '19', '19', '63', '63', '63']);
  // Wireshark's checksum status: 0 bad, 1 good, 2 unverified.
  assert.equal([...new Set(fields('ip.checksum.status'))], ['1'], 'every inner IPv4 header checksum good');
  assert.equal([...new Set(fields('icmp.checksum.status'))], ['1'], 'every ICMP checksum good');
  assert.equal([...new Set(fields('udp.length'))].length, 1);
  assert.is(Number(fields('udp.length')[0]), 8 + 84, 'UDP payload = the 84-byte IPv4 echo, nothing else');
});

/** `weft capture --side SIDE` on h2's weft while h1 pings h2's TUN address 3 times with TTL 20; tshark's view of the file, one line per packet. */
async function captureOnH2(side: 'overlay' | 'underlay', fields: string[], tsharkArgs: string[] = []): Promise<{ lines: string[]; file: string; err: string }> {
  const file = join(tmp.dir, `cap-${side}.pcap`);
  const cap = rig.spawn(2, [process.execPath, WEFT, 'capture', '--tap', 'flannel0', '-w', file, '--side', side, '--duration', '3']);
  const stats = () => rig.try(2, [process.execPath, WEFT, 'stats', '--tap', 'flannel0', '--json']).out;
  await waitFor(() => { try { return (JSON.parse(stats()) as { capture: unknown }).capture !== null; } catch { return false; } }, 5000, 'the capture to start');
  assert.is(ping(rig, 1, gw(subnet[2]), 3, ['-t', '20']).received, 3);
  assert.is(await cap.exited, 0, cap.stderr());
  const out = rig.exec(2, ['tshark', '-r', file, ...tsharkArgs, '-T', 'fields', '-E', 'occurrence=l', ...fields.flatMap((f) => ['-e', f])]);
  return { lines: out.trimEnd().split('\n'), file, err: cap.stderr() };
}

test('weft capture --side overlay on a udp-backend weft: raw IPv4 (link type 101) as read from and written to the TUN, TTLs as they were there', async () => {
  requireTool('tshark', 'tshark');
  const { lines, file, err } = await captureOnH2('overlay', ['frame.protocols', 'ip.src', 'ip.ttl', 'icmp.type']);
  assert.is(readFileSync(file).readUInt32LE(20), 101);
  const echo = lines.filter((l) => l.startsWith('raw:ip:icmp'));
  // Written to h2's TUN: h1's requests, sent with TTL 20, one less at each weft; read from it: h2's replies as its kernel made them.
  assert.equal(echo.filter((l) => l.endsWith('\t8')), Array(3).fill(`raw:ip:icmp:data\t${gw(subnet[1])}\t18\t8`), lines.join('\n'));
  assert.equal(echo.filter((l) => l.endsWith('\t0')), Array(3).fill(`raw:ip:icmp:data\t${gw(subnet[2])}\t64\t0`), lines.join('\n'));
  assert.match(err, /^weft capture: \d+ overlay frames to .* in [\d.]+ s \(3 s\)\n$/);
});

test('weft capture --side underlay on a udp-backend weft: IPv4 in UDP 8285 between the hosts, the inner TTLs as on the wire', async () => {
  requireTool('tshark', 'tshark');
  // The first ip.src/ttl is the outer header's, the last the inner packet's.
  const { lines } = await captureOnH2('underlay', ['ip.src', 'udp.srcport', 'udp.dstport', 'icmp.type'], ['-o', 'ip.check_checksum:TRUE', '-d', 'udp.port==8285,ip']);
  const withTtl = rig.exec(2, ['tshark', '-r', join(tmp.dir, 'cap-underlay.pcap'), '-d', 'udp.port==8285,ip', '-T', 'fields', '-E', 'occurrence=a', '-e', 'ip.src', '-e', 'ip.ttl', '-e', 'ip.checksum.status'])
    .trimEnd().split('\n');
  const u1 = rig.underlay(1), u2 = rig.underlay(2);
  // Received: h1's requests as they arrived (TTL 19: h1's weft took one); sent: h2's replies (TTL 63: h2's weft took one).
  assert.equal(lines.filter((l) => l.endsWith('\t8')), Array(3).fill(`${gw(subnet[1])}\t8285\t8285\t8`), lines.join('\n'));
  assert.equal(lines.filter((l) => l.endsWith('\t0')), Array(3).fill(`${gw(subnet[2])}\t8285\t8285\t0`), lines.join('\n'));
  const echo = withTtl.filter((l) => l.startsWith(`${u1},${gw(subnet[1])}`) || l.startsWith(`${u2},${gw(subnet[2])}`));
  assert.equal(echo.sort(), [
    ...Array(3).fill(`${u1},${gw(subnet[1])}\t64,19\t2,2`),
    ...Array(3).fill(`${u2},${gw(subnet[2])}\t64,63\t2,2`),
  ].sort(), withTtl.join('\n'));
});

/** Sends `bytes` over TCP from host `from` to host `to`'s TUN address; asserts they arrived intact. */
async function transfer(from: number, to: number, bytes: number): Promise<void> {
  const srv = rig.spawn(to, [process.execPath, XFER, 'serve', gw(subnet[to]), '5001']);
  await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
  const sent = rig.exec(from, [process.execPath, XFER, 'send', gw(subnet[to]), '5001', String(bytes)], 70_000).trim();
  await srv.exited;
  assert.is(srv.stdout().trim(), sent, `${from}→${to}`);
  assert.match(sent, new RegExp(`^${bytes} [0-9a-f]{64}$`));
}

type Offload = Record<string, number | boolean>;
const offloadOf = async (i: number) => (await weftStatus(w[i]) as unknown as { offload: Offload }).offload;

test('a 20 MB TCP transfer arrives intact, both directions, through the offloads: super-packets read from the TUN and merged ones written to it', async () => {
  const before = [0, await offloadOf(1), await offloadOf(2)];
  for (const [from, to] of [[1, 2], [2, 1]] as const) await transfer(from, to, 20 << 20);
  for (const i of [1, 2]) {
    const o = await offloadOf(i), b = before[i] as Offload;
    const d = (k: string) => (o[k] as number) - (b[k] as number);
    assert.ok(o.tso === true && o.gso === true && o.gro === true, JSON.stringify(o));
    // Each way: the sender's TUN hands over 64 KiB super-packets, cut and sent as UDP GSO runs;
    // the receiver's socket hands over GRO messages, whose segments go into its TUN merged.
    assert.ok(d('superFramesIn') > 100 && d('segmentsOut') > 20 * d('superFramesIn'), `h${i}: ${JSON.stringify(o)}`);
    assert.ok(d('gsoMessages') > 100 && d('groMessages') > 100 && d('coalesced') > 5_000, `h${i}: ${JSON.stringify(o)}`);
    assert.is(o.badIn, 0);
  }
  const c = (await weftStatus(w[1])).counters;
  assert.ok(c.tx_unicast > 10_000 && c.rx_frames > 5_000, JSON.stringify(c));
  // (The kernel's own IPv6 on the TUN — router solicitations — is tx_drop_not_ipv4, as it should be.)
  assert.is(c.rx_drop_not_ipv4 + c.rx_drop_unknown_source + c.rx_drop_ttl_expired + c.tx_drop_ttl_expired + c.tx_drop_too_big, 0, JSON.stringify(c));
});

test('TCP on the wire with the offloads on: each datagram one IPv4 packet of at most the MTU, inner IPv4 and TCP checksums valid', async () => {
  requireTool('tshark', 'tshark');
  requireTool('tcpdump', 'tcpdump');
  requireTool('ethtool', 'ethtool');
  // A veth passes a UDP GSO send on whole (so would a NIC with USO, cutting it in hardware):
  // h1's eth0 without USO makes the kernel cut it before the capture sees it, as on a plain NIC.
  rig.exec(1, ['ethtool', '-K', 'eth0', 'tx-udp-segmentation', 'off']);
  const pcap = join(tmp.dir, 'tcp.pcap');
  const dump = rig.spawn(1, ['timeout', '-s', 'INT', '30', 'tcpdump', '-Z', 'root', '-c', '2000', '-i', 'eth0', '-Q', 'out', '-U', '-w', pcap, 'udp port 8285']);
  try {
    await waitFor(() => /listening on/.test(dump.stderr()), 5000, 'tcpdump');
    const o0 = await offloadOf(1);
    await transfer(1, 2, 4 << 20);
    await dump.exited;
    const o1 = await offloadOf(1);
    assert.ok((o1.superFramesIn as number) > (o0.superFramesIn as number) && (o1.gsoMessages as number) > (o0.gsoMessages as number), 'the capture saw offloaded traffic');
  } finally {
    rig.exec(1, ['ethtool', '-K', 'eth0', 'tx-udp-segmentation', 'on']);
  }
  // -d udp.port==8285,ip: the payload is a bare IPv4 packet. The last occurrence of a field is the inner one.
  const rows = rig.exec(1, ['tshark', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-d', 'udp.port==8285,ip',
    '-T', 'fields', '-E', 'occurrence=l', '-e', 'udp.length', '-e', 'ip.len', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status'], 30_000)
    .trim().split('\n').map((l) => l.split('\t'));
  assert.ok(rows.length >= 1000, `${rows.length} datagrams captured`);
  const full = rows.filter((r) => Number(r[0]) > 1000).length;
  assert.ok(full > rows.length / 3, `${full} of ${rows.length} datagrams carry full-size segments`);
  for (const [udpLen, ipLen, ipOk, tcpOk] of rows) {
    assert.ok(Number(udpLen) <= 8 + 1472, `a datagram of ${udpLen} bytes: larger than the TUN's MTU allows`);
    assert.is(Number(ipLen), Number(udpLen) - 8, 'the datagram is one inner packet, nothing after it');
    assert.is(ipOk, '1', 'inner IPv4 header checksum good');
    assert.is(tcpOk, '1', 'inner TCP checksum good');
  }
});

test('a second weft on a host whose udp-backend weft runs: refused with the TUN\'s control socket named, --takeover refused, the running one untouched', () => {
  const sock = `/run/weft/netns/${rig.ns(3)}/flannel0.sock`;
  const second = rig.try(3, [process.execPath, WEFT, 'run', ...weftArgs(3)], 20_000);
  assert.is(second.status, 1, second.err);
  assert.match(second.err, new RegExp(`another weft is running with control socket ${sock}: stop it first`));
  const takeover = rig.try(3, [process.execPath, WEFT, 'run', ...weftArgs(3), '--takeover'], 20_000);
  assert.is(takeover.status, 2, takeover.err);
  assert.match(takeover.err, /--takeover: the udp backend is not handed over; stop the running weft, then start this one/);
  assert.is(ping(rig, 1, gw(subnet[3])).received, 3, 'h3 still forwards');
});

test('a lease removed: the others drop its route and answer "net unreachable"; added again: routed again', async () => {
  assert.is(await stopWeft(w[3], 3000), 0);
  assert.is(rig.try(3, ['ip', 'link', 'show', 'flannel0']).status, 1, 'the TUN goes with weft');
  etcd.ctl(['del', key(subnet[3])]);
  for (const i of [1, 2]) await waitFor(() => w[i].stderr().includes(`lease ${subnet[3]} removed`), 10_000, `h${i} to drop ${subnet[3]}`);
  const before = (await weftStatus(w[1])).counters;
  const r = rig.try(1, ['ping', '-c', '1', '-W', '1', gw(subnet[3])]);
  assert.match(r.out, /Destination Net Unreachable/, r.out + r.err);
  const after = (await weftStatus(w[1])).counters;
  assert.is(after.tx_drop_no_route - before.tx_drop_no_route, 1);
  assert.is(after.icmp_unreachable_sent - before.icmp_unreachable_sent, 1);

  const mark = [0, w[1].stderr().length, w[2].stderr().length];
  // Back without offloads, for the next test.
  w[3] = await rig.weft(3, [...weftArgs(3), '--no-offload'], 20_000);
  assert.is(leaseOf(w[3]), subnet[3], 'the subnet file gets the same subnet back');
  for (const i of [1, 2]) await routed(i, 3, mark[i]);
  for (const i of [1, 2]) await routed(3, i);
  assert.is(ping(rig, 1, gw(subnet[3]), 2).received, 2);
  assert.is(ping(rig, 3, gw(subnet[2]), 2).received, 2);
});

test('--no-offload: plain packets through the TUN and the socket, and TCP intact both ways with a host that has the offloads', async () => {
  assert.match(w[3].stderr(), /peers from leases, offload off"/);
  for (const [from, to] of [[1, 3], [3, 1]] as const) await transfer(from, to, 4 << 20);
  const o = await offloadOf(3);
  assert.ok(o.tso === false && o.gso === false && o.gro === false, JSON.stringify(o));
  assert.is((o.superFramesIn as number) + (o.coalesced as number) + (o.gsoMessages as number) + (o.groMessages as number), 0, JSON.stringify(o));
  const c = (await weftStatus(w[3])).counters;
  assert.ok(c.tx_unicast > 2_000 && c.rx_frames > 2_000, JSON.stringify(c));
  assert.is(c.tx_drop_too_big + c.rx_drop_not_ipv4 + c.rx_drop_tap, 0, JSON.stringify(c));
});

test('SIGTERM: exit 0, the TUN and its route gone', async () => {
  assert.is(await stopWeft(w[1], 3000), 0);
  assert.is(rig.try(1, ['ip', 'link', 'show', 'flannel0']).status, 1);
  assert.not.match(rig.exec(1, ['ip', 'route']), '10.244.');
});

test.run();
