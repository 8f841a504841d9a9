// Prometheus metrics, read from weft's own counters at scrape time.
//
// Design notes. The data path counts in typed arrays (datapath/counters.ts,
// the forwarder's batch sizes) and the I/O layer in plain number fields; a
// prom-client Counter per packet would cost a Map lookup and a call for
// every frame. So nothing here runs on the hot path: every weft_* metric is
// a small object that prom-client's registry asks for its values when
// /metrics is scraped, and that reads the arrays then. prom-client does the
// text format and the default process_* / nodejs_* metrics.
//
// Names follow Prometheus conventions: weft_ prefix, counters end in
// _total, bytes are bytes, times are seconds. Drops are one family,
// weft_drops_total{direction, reason}, with the data path's own reason
// names (docs/hostile-input.md, "What decap drops, and why").

import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { COUNTER_NAMES, C, type CounterName } from '../datapath/counters.js';
import { BATCH_BUCKETS, BATCH_DIRECTIONS } from '../datapath/batch-sizes.js';
import { VNI_RX_BYTES, VNI_RX_FRAMES, VNI_TX_BYTES, VNI_TX_FRAMES } from '../datapath/vni.js';
import type { DaemonState } from '../daemon/state.js';

type Labels = Record<string, string | number>;
interface Value { value: number; labels: Labels; metricName?: string }
type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric family whose values are computed at scrape time. */
class ScrapeMetric {
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string, readonly type: MetricType, private readonly read: () => Value[]) {}
  get(): Promise<{ name: string; help: string; type: MetricType; aggregator: string; values: Value[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() });
  }
  reset(): void {}
}

/** Data-path counters exported one-to-one: [metric, counter, help]. */
const SIMPLE: [string, CounterName, string][] = [
  ['weft_tx_frames_total', 'tx_frames', 'Ethernet frames read from the TAP and offered to encapsulation (after TSO segmentation).'],
  ['weft_tx_bytes_total', 'tx_bytes', 'Bytes of those frames (inner Ethernet frames).'],
  ['weft_tx_datagrams_total', 'tx_datagrams', 'VXLAN datagrams produced for the underlay, flood copies included.'],
  ['weft_tx_unicast_frames_total', 'tx_unicast', 'Frames sent to the one VTEP the forwarding table names.'],
  ['weft_tx_flooded_frames_total', 'tx_flooded', 'Broadcast, multicast and unknown-unicast frames sent to the flood list.'],
  ['weft_flood_replications_total', 'tx_flood_copies', 'Datagrams made by head-end replication of flooded frames.'],
  ['weft_rx_datagrams_total', 'rx_datagrams', 'UDP datagrams received on the VXLAN port and offered to decapsulation.'],
  ['weft_rx_frames_total', 'rx_frames', 'Inner Ethernet frames that passed decapsulation and went to the TAP.'],
  ['weft_rx_bytes_total', 'rx_bytes', 'Bytes of those inner frames.'],
  ['weft_icmp_too_big_sent_total', 'icmp_too_big_sent', 'ICMP fragmentation-needed / packet-too-big answers written into the TAP for frames over the overlay MTU.'],
  ['weft_icmp_too_big_rate_limited_total', 'icmp_too_big_limited', 'Such answers not sent because of the ICMP rate limit (--icmp-rate).'],
];

/** Every tx_drop_* / rx_drop_* counter, as [direction, reason, index]. */
const DROPS: [string, string, number][] = COUNTER_NAMES
  .filter((n) => /^(tx|rx)_drop_/.test(n))
  .map((n) => [n.slice(0, 2), n.slice(8), C[n]]);

export interface MetricsOptions {
  /** /readyz's answer, also exported as weft_ready. */
  ready: () => boolean;
  /** Whether a `weft capture` runs. */
  capturing: () => boolean;
  /** Add prom-client's default process and Node.js metrics (default true). */
  defaults?: boolean;
}

export function createRegistry(st: DaemonState, o: MetricsOptions): Registry {
  const reg = new Registry();
  const add = (name: string, help: string, type: MetricType, read: () => Value[]) =>
    reg.registerMetric(new ScrapeMetric(name, help, type, read) as unknown as Metric);
  const one = (value: number, labels: Labels = {}): Value[] => [{ value, labels }];
  const c = st.dp.counters.v;

  add('weft_info', 'Constant 1, labelled with what this weft serves.', 'gauge',
    () => one(1, { tap: st.tap, vni: st.v.vni, port: st.port, control_plane: st.control ? 'leases' : 'none' }));
  add('weft_ready', '1 when /readyz answers 200 (TAP and socket open; with a lease store, lease held and peers programmed).', 'gauge',
    () => one(o.ready() ? 1 : 0));
  add('weft_start_time_seconds', 'When this weft started, in seconds since the Unix epoch.', 'gauge', () => one(st.startedMs / 1000));
  add('weft_tap_handovers_total', 'Handovers (weft run --takeover) this TAP has seen, across processes.', 'counter',
    () => one(st.persist?.handovers ?? 0));
  add('weft_tap_crash_reattaches_total', 'Times a weft found this TAP left by one that did not stop (killed, crashed) and reattached to it.', 'counter',
    () => one(st.persist?.crashReattaches ?? 0));

  for (const [name, counter, help] of SIMPLE) add(name, help, 'counter', () => one(c[C[counter]]));
  add('weft_drops_total', 'Packets dropped, by direction (tx: TAP to wire, rx: wire to TAP) and reason.', 'counter',
    () => DROPS.map(([direction, reason, i]) => ({ value: c[i], labels: { direction, reason } })));

  const fdb = st.dp.fdb;
  add('weft_fdb_entries', 'Entries in the forwarding table, learned and static.', 'gauge', () => one(fdb.size));
  add('weft_fdb_max_entries', 'Most entries the forwarding table takes (--fdb-max).', 'gauge', () => one(fdb.maxEntries));
  add('weft_fdb_learned_total', 'MACs learned (new entries).', 'counter', () => one(fdb.stats.learned));
  add('weft_fdb_moved_total', 'Learned MACs that moved to another VTEP.', 'counter', () => one(fdb.stats.moved));
  add('weft_fdb_evicted_total', 'Learned entries removed because their MAC was not seen for the ageing time.', 'counter', () => one(fdb.stats.aged));
  add('weft_fdb_add_refused_total', 'Static entries (weft fdb add) refused because a table was full, by reason (peer_table_full, fdb_full, source_set_full).', 'counter',
    () => Object.entries(st.dp.staticRefused).map(([reason, value]) => ({ value, labels: { reason } })));
  add('weft_fdb_removed_total', 'Entries removed by an operator (weft fdb del) or the control plane.', 'counter', () => one(fdb.stats.removed));
  add('weft_peers', 'Remote VTEPs known (in the flood list or named by a forwarding entry).', 'gauge', () => one(st.dp.peers.count));
  add('weft_peer_capacity', 'Most remote VTEPs the peer table holds (--peer-capacity, or sized from the lease store\'s network).', 'gauge', () => one(st.dp.peers.capacity));
  const vniTraffic = (i: number, j: number) => () => [...st.dp.vnis.values()].flatMap((v) => [
    { value: v.counters[i], labels: { vni: v.vni, direction: 'tx' } },
    { value: v.counters[j], labels: { vni: v.vni, direction: 'rx' } },
  ]);
  add('weft_vni_frames_total', 'Frames per VNI: read from its TAP (tx), and delivered to it by decapsulation (rx).', 'counter', vniTraffic(VNI_TX_FRAMES, VNI_RX_FRAMES));
  add('weft_vni_bytes_total', 'Bytes of those frames, per VNI and direction.', 'counter', vniTraffic(VNI_TX_BYTES, VNI_RX_BYTES));
  add('weft_flood_peers', 'VTEPs in the flood list, per VNI.', 'gauge',
    () => [...st.dp.vnis.values()].map((v) => ({ value: v.flood.count, labels: { vni: v.vni } })));

  const bs = st.fwd.batchSizes;
  add('weft_batch_size', 'Packets per read: frames per TAP read (tap_to_wire), datagrams per socket read (wire_to_tap).', 'histogram', () => {
    const out: Value[] = [];
    BATCH_DIRECTIONS.forEach((direction, d) => {
      const cum = bs.cumulative(d);
      cum.forEach((v, b) => out.push({ metricName: 'weft_batch_size_bucket', value: v, labels: { direction, le: b < BATCH_BUCKETS.length ? BATCH_BUCKETS[b] : '+Inf' } }));
      out.push({ metricName: 'weft_batch_size_sum', value: bs.sum[d], labels: { direction } });
      out.push({ metricName: 'weft_batch_size_count', value: bs.count[d], labels: { direction } });
    });
    return out;
  });

  const io = st.io;
  if (io) {
    const t = io.tap.stats, u = io.udp;
    const offload: [string, () => number, string][] = [
      ['weft_tap_tso_superframes_total', () => t.superFramesIn, 'TCP super-frames read from the TAP (TSO) and cut into segments.'],
      ['weft_tap_tso_segments_total', () => t.segmentsOut, 'Segments cut from them.'],
      ['weft_tap_checksums_completed_total', () => t.csumCompletedIn, 'Frames read with a partial checksum that weft completed.'],
      ['weft_tap_read_unusable_total', () => t.badIn, 'Frames read from the TAP that could not be used (unknown GSO type, bad super-frame).'],
      ['weft_tap_coalesced_segments_total', () => t.coalesced, 'TCP segments merged into super-frames on TAP writes.'],
      ['weft_tap_checksum_bad_total', () => t.csumBadOut, 'Frames written to the TAP unmerged, as they came, because a TCP, UDP or IPv4 header checksum did not verify (the host drops them).'],
      ['weft_tap_write_refused_total', () => t.refused, 'Frames the kernel refused on TAP writes.'],
      ['weft_udp_gso_messages_total', () => u.gsoMessages, 'UDP GSO messages sent (several datagrams per system call).'],
      ['weft_udp_gso_datagrams_total', () => u.gsoDatagrams, 'Datagrams carried by them.'],
      ['weft_udp_gro_messages_total', () => u.groMessages, 'Coalesced UDP GRO messages received.'],
      ['weft_udp_gro_datagrams_total', () => u.groDatagrams, 'Datagrams cut from them.'],
    ];
    for (const [name, read, help] of offload) add(name, help, 'counter', () => one(read()));
    add('weft_offload_enabled', '1 for each offload the kernel granted (tso and uso on the TAP, gso and gro on the socket).', 'gauge',
      () => [['tso', io.tap.offload], ['uso', io.tap.uso ?? false], ['gso', u.gso], ['gro', u.gro]].map(([offload, on]) => ({ value: on ? 1 : 0, labels: { offload: String(offload) } })));
  }

  const ctl = st.control;
  if (ctl) {
    const status = () => ctl.status() as { storeReachable: boolean; leases: unknown[] };
    add('weft_lease_held', '1 while this host holds its subnet lease (not yet expired).', 'gauge',
      () => one(ctl.own.expiresMs === 0 || ctl.own.expiresMs > Date.now() ? 1 : 0));
    add('weft_lease_expiry_timestamp_seconds', 'When our lease lapses unless renewed (Unix time; 0: no expiry).', 'gauge', () => one(ctl.own.expiresMs / 1000));
    add('weft_lease_store_reachable', '1 while the lease store (etcd or the lease file) answers.', 'gauge', () => one(status().storeReachable ? 1 : 0));
    add('weft_remote_leases', 'Other hosts\' leases programmed here (forwarding entry, neighbour, route).', 'gauge', () => one(ctl.leaseCounts().programmed));
    add('weft_remote_lease_sides', 'Other hosts\' leases programmed here, by the family of the side programmed (ipv4, ipv6): a dual-stack lease counts in both.', 'gauge',
      () => Object.entries(ctl.leaseCounts().families).map(([family, value]) => ({ value, labels: { family } })));
    add('weft_remote_lease_paths', 'Other hosts\' leases programmed here, by the family of each side and the path its traffic takes (vxlan: weft\'s tunnel; udp: the udp backend; direct: a kernel route via the host, host-gw or DirectRouting): a dual-stack lease counts once per side.', 'gauge',
      () => Object.entries(ctl.leaseCounts().paths).flatMap(([family, byPath]) => Object.entries(byPath).map(([path, value]) => ({ value, labels: { path, family } }))));
    const byReason = (m: Record<string, number>): Value[] => Object.entries(m).map(([reason, value]) => ({ value, labels: { reason } }));
    add('weft_leases_refused', 'Other hosts\' leases left out now, by reason (peer_table_full, fdb_full, source_set_full: a table is full; invalid; off_segment: a host-gw host not on our segment); taken when a removal makes room or a write makes it right.', 'gauge',
      () => byReason(ctl.leaseCounts().refused));
    add('weft_kernel_batches_total', 'ip -batch processes run to program routes and neighbour entries (a burst of lease changes is one, or one per 2,000 commands).', 'counter',
      () => one(ctl.ipWork().processes));
    add('weft_kernel_commands_total', 'Route and neighbour commands fed to them.', 'counter', () => one(ctl.ipWork().commands));
    // Only a network with direct paths checks its routes (leaseCounts says so by having the field).
    if (ctl.leaseCounts().routes) {
      add('weft_route_checks_total', 'Checks that the direct routes weft made are still in the kernel (as flannel\'s routeCheck).', 'counter',
        () => one(ctl.leaseCounts().routes?.checks ?? 0));
      add('weft_direct_routes_restored_total', 'Direct routes found missing from the kernel (removed by someone else) and put back.', 'counter',
        () => one(ctl.leaseCounts().routes?.restored ?? 0));
    }
    add('weft_leases_refused_total', 'Leases refused since start, by reason (each time a new or changed lease did not fit).', 'counter',
      () => byReason(ctl.leaseCounts().refusedTotal));
  }

  add('weft_capture_active', '1 while a weft capture runs.', 'gauge', () => one(o.capturing() ? 1 : 0));
  if (o.defaults !== false) collectDefaultMetrics({ register: reg });
  return reg;
}
