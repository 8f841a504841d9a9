// What the client commands print: fixed replies in, exact text out.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatFdb, formatPeers, formatStats } from '../../src/admin/format.js';
import { COUNTER_NAMES, type CounterName } from '../../src/datapath/counters.js';
import type { StatsResult } from '../../src/admin/commands.js';

test('fdb show: bridge fdb show lines; age only for learned entries', () => {
  assert.is(formatFdb({
    tap: 'weft0', entries: [
      { mac: '02:00:0a:f4:00:02', dst: '198.18.0.2', port: 8472, vni: 1, state: 'learned', ageS: 3 },
      { mac: '02:00:0a:f4:00:09', dst: 'fd00::9', port: 8472, vni: 1, state: 'static' },
    ],
  }), '02:00:0a:f4:00:02 dev weft0 dst 198.18.0.2 vni 1 learned age 3\n02:00:0a:f4:00:09 dev weft0 dst fd00::9 vni 1 static');
  assert.is(formatFdb({ tap: 'weft0', entries: [] }), '');
});

test('peers: flood list, VTEPs, and leases when there is a store', () => {
  const vnis = [{ vni: 1, port: 8472, flood: ['198.18.0.2:8472'] }, { vni: 2, port: 4789, flood: [] }];
  const vteps = [{ ip: '198.18.0.2', port: 8472, flood: true, macs: 1, static: 0 }, { ip: '198.18.0.3', port: 8472, flood: false, macs: 2, static: 1 }];
  assert.is(formatPeers({ tap: 'weft0', vnis, vteps, control: null }), [
    'vni 1 port 8472 flood 198.18.0.2:8472',
    'vni 2 port 4789 flood (empty: unknown destinations are dropped)',
    'vtep 198.18.0.2 port 8472 flood macs 1',
    'vtep 198.18.0.3 port 8472 macs 2 static 1',
  ].join('\n'));
  const control = {
    subnet: '10.244.5.0/24', publicIp: '198.18.0.1', vtepMac: '02:00:00:00:00:01', store: 'etcd http://198.18.0.254:2379', storeReachable: false,
    // An older weft's lease has no path; a newer one's says it, a udp lease has no MAC.
    leases: [{ subnet: '10.244.7.0/24', publicIp: '198.18.0.2', vtepMac: '02:00:00:00:00:02' },
      { subnet: '10.244.8.0/24', publicIp: '198.18.0.3', vtepMac: '02:00:00:00:00:03', path: 'direct' },
      { subnet: '10.244.9.0/24', publicIp: '198.18.0.4', vtepMac: null, path: 'udp' },
      // A dual-stack host-gw lease (no MACs), and a DirectRouting one whose IPv6 host is behind a router.
      { subnet: '10.244.10.0/24 + fd00:244:0:a::/64', publicIp: '198.18.0.5', vtepMac: null, publicIpv6: '2001:2::5', vtepMac6: null, path: 'direct', path6: 'direct' },
      { subnet: '10.244.11.0/24 + fd00:244:0:b::/64', publicIp: '198.18.0.6', vtepMac: '02:00:00:00:00:06', publicIpv6: '2001:2:9::6', vtepMac6: '02:00:00:00:00:06', path: 'direct', path6: 'vxlan' }],
  };
  assert.is(formatPeers({ tap: 'weft0', vnis: [], vteps: [], control }), [
    'lease 10.244.5.0/24 public-ip 198.18.0.1 vtep-mac 02:00:00:00:00:01 ours store etcd http://198.18.0.254:2379 UNREACHABLE',
    'lease 10.244.7.0/24 public-ip 198.18.0.2 vtep-mac 02:00:00:00:00:02',
    'lease 10.244.8.0/24 public-ip 198.18.0.3 vtep-mac 02:00:00:00:00:03 path direct',
    'lease 10.244.9.0/24 public-ip 198.18.0.4 vtep-mac - path udp',
    'lease 10.244.10.0/24 + fd00:244:0:a::/64 public-ip 198.18.0.5 vtep-mac - public-ipv6 2001:2::5 vtep-mac6 - path direct path6 direct',
    'lease 10.244.11.0/24 + fd00:244:0:b::/64 public-ip 198.18.0.6 vtep-mac 02:00:00:00:00:06 public-ipv6 2001:2:9::6 vtep-mac6 02:00:00:00:00:06 path direct path6 vxlan',
  ].join('\n'));
});

function stats(set: Partial<Record<CounterName, number>>, uptimeS = 75.2): StatsResult {
  const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, set[n] ?? 0])) as Record<CounterName, number>;
  return {
    tap: 'weft0', vni: 1, port: 8472, local: '198.18.0.1', uptimeS, counters,
    fdb: { entries: 1, max: 65536, learned: 1, moved: 0, aged: 0, removed: 0, full: 0, staticConflicts: 0 },
    peers: 1,
    batches: { tap_to_wire: { reads: 4, packets: 6 }, wire_to_tap: { reads: 0, packets: 0 } },
    offload: null,
    capture: null,
  };
}

test('stats: ip -s link tables, drops by name, fdb and batches', () => {
  const r = stats({ rx_datagrams: 12, rx_frames: 10, rx_bytes: 1176, rx_drop_unknown_vni: 2, tx_frames: 6, tx_bytes: 588, tx_datagrams: 7, tx_unicast: 5, tx_flooded: 1, tx_flood_copies: 2 });
  assert.is(formatStats(r), [
    'weft0: vni 1 port 8472 local 198.18.0.1 up 1m15s vteps 1 offload n/a',
    '    RX: datagrams  frames  bytes  dropped',
    '        12         10      1176   2',
    '    TX: frames  bytes  datagrams  dropped  unicast  flooded  flood-copies',
    '        6       588    7          0        5        1        2',
    '    drops: rx_drop_unknown_vni 2',
    '    fdb: entries 1 of 65536 learned 1 moved 0 aged 0 removed 0',
    '    batches: tap-to-wire 4 reads 1.5/read, wire-to-tap 0 reads 0/read',
  ].join('\n'));
});

test('stats: the lease line, and the route check\'s line in a network with direct paths', () => {
  const r = { ...stats({}), leases: { programmed: 3, refused: { off_segment: 1 }, refusedTotal: { off_segment: 2 }, routes: { checks: 12, restored: 2 } } };
  const lines = formatStats(r).split('\n');
  assert.ok(lines.includes('    leases: programmed 3 refused 1 (now: off_segment 1; since start: off_segment 2)'), lines.join('\n'));
  assert.ok(lines.includes('    direct routes: checks 12 put back 2'), lines.join('\n'));
  const { routes: _, ...noRoutes } = r.leases;
  assert.not.ok(formatStats({ ...r, leases: noRoutes }).includes('direct routes'));
});

test('stats --watch: a rate row under each table', () => {
  const a = stats({ rx_datagrams: 100, rx_frames: 100, rx_bytes: 150_000 });
  const b = stats({ rx_datagrams: 300, rx_frames: 300, rx_bytes: 450_000 }, 77.2);
  const text = formatStats(b, a, 2).split('\n');
  assert.is(text[1], '    RX: datagrams  frames  bytes     dropped');
  assert.is(text[2], '        300        300     450000    0');
  assert.is(text[3], '        100/s      100/s   150.0k/s  0/s');
});

test.run();
