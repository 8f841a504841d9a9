// Data-path counters: one Float64Array slot per named outcome, so counting is
// an indexed add on the hot path and turning them into an object happens only
// when somebody asks (a summary, a scrape).

/** Every outcome the data path counts. The order is the index into `Counters.v`. */
export const COUNTER_NAMES = [
  // Encap (TAP → wire).
  'tx_frames',            // frames offered to encap
  'tx_bytes',             // their bytes (inner)
  'tx_datagrams',         // VXLAN datagrams produced (after replication)
  'tx_unicast',           // frames sent to one learned/static VTEP
  'tx_flooded',           // frames sent to the flood list (BUM or unknown unicast)
  'tx_flood_copies',      // datagrams made by head-end replication
  'tx_drop_too_short',    // shorter than an Ethernet header
  'tx_drop_too_big',      // larger than the VNI's frame limit
  'tx_drop_no_headroom',  // no room in front for the VXLAN header (caller bug)
  'tx_drop_no_destination', // unknown/BUM destination and an empty flood list
  'tx_drop_bum_rate',     // a flooded frame over its source MAC's budget (--bum-rate)
  'tx_drop_send_full',    // send list full (caller passed a too small list)
  'tx_drop_socket',       // the UDP socket refused a datagram (buffer full, no route)
  // Path MTU discovery: answers to frames dropped as tx_drop_too_big (pmtu.ts).
  'icmp_too_big_sent',    // ICMP fragmentation needed / packet too big written into the TAP
  'icmp_too_big_limited', // not written: over the ICMP rate limit (--icmp-rate)
  // Decap (wire → TAP).
  'rx_datagrams',         // datagrams offered to decap
  'rx_drop_unknown_source', // from an underlay address that is not a known VTEP (sources.ts)
  'rx_frames',            // inner frames delivered
  'rx_bytes',             // their bytes (inner)
  'rx_drop_too_short',    // shorter than VXLAN header + Ethernet header
  'rx_drop_no_i_flag',    // RFC 7348 §5: I flag clear
  'rx_drop_reserved_bits', // RFC 7348 §5 reserved bits set (Linux drops; option)
  'rx_drop_unknown_vni',  // VNI not configured here
  'rx_drop_bad_src_mac',  // inner source MAC multicast or all-zero
  'rx_drop_own_mac',      // inner source MAC is one of ours: a loop
  'rx_drop_static_conflict', // inner source MAC pinned to another VTEP
  'rx_drop_fdb_full',     // new MAC and the table is at its cap
  'rx_drop_peer_table_full', // new underlay source and the peer table is full
  'rx_drop_truncated',    // larger than the receive slot (cut by the socket)
  'rx_drop_ecn_not_ect',  // RFC 6040 §4.2: outer CE on a Not-ECT inner IP packet
  'rx_ecn_ce',            // inner packets marked CE from an outer CE (RFC 6040 §4.2)
  'rx_drop_tap',          // the TAP did not take a frame (queue full, or refused)
  // Forwarding table events seen by decap.
  'fdb_learned',
  'fdb_moved',
  // flannel's udp backend (udp-backend.ts): bare IPv4 packets between the TUN and the wire.
  'tx_drop_not_ipv4',     // from the TUN: not one whole IPv4 packet (IPv6, a bad header or length)
  'tx_drop_no_route',     // no lease's subnet holds the destination (answered: ICMP net unreachable)
  'tx_drop_ttl_expired',  // from the TUN: TTL ran out (answered: ICMP time exceeded)
  'rx_drop_not_ipv4',     // from the wire: not one whole IPv4 packet
  'rx_drop_ttl_expired',  // from the wire: TTL ran out (answered: ICMP time exceeded)
  'icmp_unreachable_sent', // ICMP net unreachable written into the TUN
  'icmp_time_exceeded_sent', // ICMP time exceeded written into the TUN
  'icmp_error_limited',   // either, not written: over the ICMP rate limit (--icmp-rate)
] as const;

export type CounterName = typeof COUNTER_NAMES[number];

export const C: { readonly [K in CounterName]: number } = Object.freeze(
  Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i])) as { [K in CounterName]: number },
);

export class Counters {
  readonly v: Float64Array;

  /** `v`: where to count, e.g. shared memory the main thread sums (weft run --workers); default a new array. */
  constructor(v?: Float64Array) {
    if (v !== undefined && v.length !== COUNTER_NAMES.length) throw new RangeError(`counters: ${v.length} slots given, ${COUNTER_NAMES.length} needed`);
    this.v = v ?? new Float64Array(COUNTER_NAMES.length);
  }

  get(name: CounterName): number { return this.v[C[name]]; }

  /** Plain object of every counter (allocates; not for the hot path). */
  snapshot(): Record<CounterName, number> {
    const o = {} as Record<CounterName, number>;
    for (let i = 0; i < COUNTER_NAMES.length; i++) o[COUNTER_NAMES[i]] = this.v[i];
    return o;
  }

  /** Only the counters that moved, for summaries. */
  nonZero(): Partial<Record<CounterName, number>> {
    const o: Partial<Record<CounterName, number>> = {};
    for (let i = 0; i < COUNTER_NAMES.length; i++) if (this.v[i] !== 0) o[COUNTER_NAMES[i]] = this.v[i];
    return o;
  }

  reset(): void { this.v.fill(0); }
}
