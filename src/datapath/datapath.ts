// The data path: what happens to a frame between the TAP and the wire.
//
// TAP → wire (one batch per TAP read):
//   1. The I/O layer reads frames into a slab, each with HEADROOM bytes free
//      in front (batch.ts).
//   2. encapBatch (encap.ts) checks each frame (its size against the VNI's
//      MTU; a flooded frame against its source MAC's budget, rate.ts), finds
//      its VTEP(s) in the forwarding table (or the VNI's flood list), and
//      writes the VXLAN header into the headroom: the payload is a view of
//      the same slab.
//   3. The I/O layer sends every send-list entry to its peer's address in one
//      batched call (live: sendmmsg; replay: outer headers + pcap record).
//   4. Frames too big for the MTU are answered: answerTooBig (pmtu.ts)
//      builds ICMP errors, which the live loop writes back into the TAP.
//
// wire → TAP (one batch per socket read):
//   1. The I/O layer receives datagrams into a slab, with each one's source
//      address as numbers (batch.ts).
//   2. decapBatch (decap.ts) drops datagrams from addresses that are not
//      known VTEPs (when the peers are known, sources.ts), validates the
//      VXLAN header, learns the inner source MAC → source VTEP, and emits
//      views of the inner frames, each with its VNI.
//   3. The I/O layer writes those views to their VNI's TAP, one call per TAP
//      (forwarder.ts: several VNIs share one socket).
//
// Ownership: a slab belongs to the I/O layer; the data path only reads and
// writes inside it during a call, and its outputs (send lists, frame views)
// are valid until the I/O layer refills that slab. `nowMs` is an argument so
// that replay, tests and the live loop all drive time explicitly.
//
// This class holds the state both stages share (tables, counters, limits);
// the stages are functions over it. The forwarding loop (forwarder.ts) calls
// them, for the live daemon and for `weft replay` alike: only the ports
// around the loop differ.

import { Fdb } from '../fdb/fdb.js';
import { PeerTable } from '../fdb/peers.js';
import { Counters } from './counters.js';
import { VniState, type VniOptions } from './vni.js';
import { SourceSet } from './sources.js';
import { BumLimiter, TokenBuckets } from './rate.js';
import { localMem, type Mem } from '../fdb/mem.js';

export interface DatapathOptions {
  /** Most forwarding-table entries (default 65536). */
  fdbMax?: number;
  /** Learned entries expire this long after their MAC was last seen (default 300 s). */
  fdbAgeingMs?: number;
  /** Most distinct underlay endpoints (default 4096). */
  peerCapacity?: number;
  /**
   * Drop datagrams with reserved VXLAN bits set. RFC 7348 §5 says receivers
   * MUST ignore them; Linux drops them instead (unless an extension such as
   * GBP is on), and weft follows Linux by default so both agree on what a
   * peer may send. Set false for the RFC's lenient behaviour.
   */
  strictReserved?: boolean;
  /**
   * Take datagrams only from known VTEPs: addresses in a flood list or
   * behind a static entry (sources.ts); the rest are dropped as
   * rx_drop_unknown_source. Default false (learning from anyone, as the
   * Linux vxlan device does); `weft run` turns it on when it knows its peers.
   */
  knownSourcesOnly?: boolean;
  /**
   * Broadcast, multicast and unknown-unicast frames a second that one source
   * MAC may have flooded (per VNI; token bucket, rate.ts); more are dropped
   * as tx_drop_bum_rate. 0 or absent: no limit.
   */
  bumRate?: number;
  /** The bucket's depth, in frames (default: a second's worth, at least 1). */
  bumBurst?: number;
  /**
   * ICMP "fragmentation needed" / "packet too big" messages a second that
   * answerTooBig (pmtu.ts) may write, in all (default 100; 0: none).
   */
  icmpRate?: number;
  /**
   * Where the tables live (fdb/mem.ts): local by default; shared memory, or
   * an attachment to it, for `weft run --workers`, where every worker builds
   * its Datapath with the same options on the main thread's tables.
   */
  mem?: Mem;
  /** Where to count (Counters); default a new array. */
  counters?: Float64Array;
}

/**
 * Why a table refused an entry: the `reason` label of the control plane's
 * refusal counters (weft_leases_refused_total). A full table is a state, not
 * an error: the entry is left out, everything already in keeps working.
 */
export type Refusal = 'peer_table_full' | 'fdb_full' | 'source_set_full';

/** The flag an operator raises to make room, per refusal (the source allow-list is sized with the peer table). */
export const RAISE_FOR: Record<Refusal, string> = { peer_table_full: '--peer-capacity', source_set_full: '--peer-capacity', fdb_full: '--fdb-max' };

/** A refusal where the caller has no way to carry on but to say so (a flag given at start, `weft fdb add`). */
export class TableFullError extends Error {
  constructor(readonly reason: Refusal, message: string) { super(message); }
}

/** Peer-table size when neither the flags nor a lease store's network say otherwise. */
export const DEFAULT_PEER_CAPACITY = 4096;

/** ICMP errors a second by default, and the burst: Linux's icmp_msgs_per_sec is 1000 with a burst of 50; weft writes into one TAP, so less. */
export const DEFAULT_ICMP_RATE = 100;
export const ICMP_BURST = 10;

export class Datapath {
  readonly peers: PeerTable;
  readonly fdb: Fdb;
  readonly counters: Counters;
  readonly vnis = new Map<number, VniState>();
  readonly strictReserved: boolean;
  /** Whether decap drops datagrams from addresses not in `sources`. */
  readonly knownSourcesOnly: boolean;
  /** Underlay addresses of the known VTEPs (flood lists, static entries). */
  readonly sources: SourceSet;
  /** Flooded frames per source MAC, or null for no limit. */
  readonly bum: BumLimiter | null;
  /** ICMP errors written into the TAP (one bucket), or null when none are sent. */
  readonly icmp: TokenBuckets | null;
  /** Static entries asked for by addStatic (`weft fdb add`, flags) that a full table refused, by reason. */
  readonly staticRefused: Record<Refusal, number> = { peer_table_full: 0, fdb_full: 0, source_set_full: 0 };
  /** Static entries' VTEP addresses by `vni/mac`, to give back their `sources` reference when they go. */
  private readonly staticSources = new Map<string, [number, number, number, number]>();

  constructor(opts: DatapathOptions = {}) {
    const peerCapacity = opts.peerCapacity ?? DEFAULT_PEER_CAPACITY;
    const mem = opts.mem ?? localMem();
    this.counters = new Counters(opts.counters);
    this.peers = new PeerTable(peerCapacity, mem);
    this.fdb = new Fdb({ peers: this.peers, maxEntries: opts.fdbMax ?? 65536, ageingMs: opts.fdbAgeingMs ?? 300_000 });
    this.strictReserved = opts.strictReserved ?? true;
    this.knownSourcesOnly = opts.knownSourcesOnly ?? false;
    // Every address in the set is some live peer's, so the peer table's capacity bounds it.
    this.sources = new SourceSet(peerCapacity, mem);
    const rate = opts.bumRate ?? 0;
    this.bum = rate > 0 ? new BumLimiter(rate, opts.bumBurst ?? Math.max(1, rate), undefined, mem) : null;
    const icmp = opts.icmpRate ?? DEFAULT_ICMP_RATE;
    this.icmp = icmp > 0 ? new TokenBuckets(1, icmp, Math.min(ICMP_BURST, icmp), mem) : null;
  }

  addVni(vni: number, opts: VniOptions): VniState {
    if (this.vnis.has(vni)) throw new Error(`VNI ${vni} is configured twice`);
    const v = new VniState(vni, opts);
    this.vnis.set(vni, v);
    return v;
  }

  /** Adds `ip` (with the VNI's port, or `port`) to the VNI's flood list. Config time; throws TableFullError when the peer table is full. */
  addFloodPeer(v: VniState, ip: string, port = v.port): number {
    const id = this.peers.tryInternIp(ip, port);
    if (id < 0) throw new TableFullError('peer_table_full', `${this.refusalText('peer_table_full')}: cannot add ${ip} port ${port}`);
    if (v.flood.add(id)) {
      this.peers.ref(id);
      this.sources.add(this.peers.word(id, 0), this.peers.word(id, 1), this.peers.word(id, 2), this.peers.word(id, 3));
    }
    return id;
  }

  /** As tryAddStatic, counting a refusal (staticRefused) and throwing it as a TableFullError (config and `weft fdb add`, which answer the one who asked). */
  addStatic(v: VniState, mac: number, ip: string, port = v.port): void {
    const r = this.tryAddStatic(v, mac, ip, port);
    if (r === null) return;
    this.staticRefused[r]++;
    throw new TableFullError(r, `${this.refusalText(r)}: cannot add a static entry for ${ip}`);
  }

  /**
   * Pins `mac` on `v` to the VTEP at `ip`: never aged, never overwritten by
   * learning. Replaces an entry the MAC had. The VTEP becomes a known source
   * for as long as the entry stays. Returns null, or why a full table
   * refused it (then nothing changed). Throws only on a malformed address.
   */
  tryAddStatic(v: VniState, mac: number, ip: string, port = v.port): Refusal | null {
    const id = this.peers.tryInternIp(ip, port);
    if (id < 0) return 'peer_table_full';
    const w: [number, number, number, number] = [this.peers.word(id, 0), this.peers.word(id, 1), this.peers.word(id, 2), this.peers.word(id, 3)];
    const key = `${v.vni}/${mac}`;
    const old = this.staticSources.get(key);
    // The new reference before the entry, so an entry moved to the same address never leaves the set.
    if (!this.sources.add(w[0], w[1], w[2], w[3])) {
      this.peers.releaseIfUnused(id);
      return 'source_set_full';
    }
    if (!this.fdb.addStatic(v.vni, mac, id)) {
      this.sources.release(w[0], w[1], w[2], w[3]);
      this.peers.releaseIfUnused(id);
      return 'fdb_full';
    }
    if (old) this.sources.release(old[0], old[1], old[2], old[3]);
    this.staticSources.set(key, w);
    return null;
  }

  /** What a refusal means here, for a log line: which table, and its size. */
  refusalText(r: Refusal): string {
    switch (r) {
      case 'peer_table_full': return `the peer table is full (${this.peers.capacity} peers)`;
      case 'fdb_full': return `the forwarding table is full (${this.fdb.maxEntries} entries)`;
      case 'source_set_full': return `the source allow-list is full (${this.sources.capacity} addresses)`;
    }
  }

  /**
   * Removes `mac` on `v` from the forwarding table (a control-plane lease
   * went away); a learned entry for it goes too. False if there was none.
   */
  removeStatic(v: VniState, mac: number): boolean {
    const key = `${v.vni}/${mac}`;
    const old = this.staticSources.get(key);
    if (old) {
      this.sources.release(old[0], old[1], old[2], old[3]);
      this.staticSources.delete(key);
    }
    return this.fdb.remove(v.vni, mac);
  }
}
