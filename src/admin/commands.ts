// What the control socket's commands do inside a running weft: read the
// tables and counters into plain objects (the replies), change the
// forwarding table, and run captures. Each result type here is what the CLI
// formats (format.ts) and what `--json` prints.

import { isIP, type Socket } from 'node:net';
import type { VniState } from '../datapath/vni.js';
import { RAISE_FOR, TableFullError } from '../datapath/datapath.js';
import { BATCH_DIRECTIONS } from '../datapath/batch-sizes.js';
import type { CounterName } from '../datapath/counters.js';
import { formatMac, isMulticastMac, parseMac } from '../wire/mac.js';
import { anyAddress } from '../wire/ipv6.js';
import { CaptureSession } from '../capture/capture.js';
import type { DaemonState } from '../daemon/state.js';
import { fdbEntries, fdbEntry, offloadStats, vniTraffic } from './status.js';
import { encodeData, encodeLine, type CaptureEnd, type Request } from './protocol.js';
import { STREAMING } from './server.js';

export interface FdbEntry { mac: string; dst: string; port: number; vni: number; state: 'static' | 'learned'; ageS?: number; /** The VNI's TAP, with several VNIs. */ tap?: string }
export interface FdbShowResult { tap: string; entries: FdbEntry[] }

export interface StatsResult {
  tap: string; vni: number; port: number; local: string | null; uptimeS: number;
  counters: Record<CounterName, number>;
  fdb: { entries: number; max: number; learned: number; moved: number; aged: number; removed: number; full: number; staticConflicts: number;
    /** `weft fdb add` (and flags) refused by a full table, by reason (optional: older wefts leave it out). */
    addRefused?: Record<string, number> };
  peers: number;
  /** The peer table's size (optional: a weft from before it was shown leaves it out). */
  peerCapacity?: number;
  /**
   * With a lease store: remote leases programmed, refused now and since start by reason; with direct paths, route
   * checks and direct routes put back (optional: older wefts leave it out).
   */
  leases?: { programmed: number; refused: Record<string, number>; refusedTotal: Record<string, number>; routes?: { checks: number; restored: number } };
  batches: Record<string, { reads: number; packets: number }>;
  offload: Record<string, number | boolean> | null;
  capture: { side: string; frames: number } | null;
  /** When this process started (ms since the epoch), and the handovers and crash-reattaches its TAP has seen (optional: older wefts leave them out). */
  startedMs?: number;
  handovers?: number;
  crashReattaches?: number;
  /** Each VNI's traffic: frames read from its TAP and delivered to it, and their bytes (optional: a weft from before per-VNI counters leaves it out). */
  vnis?: { vni: number; tap: string; txFrames: number; txBytes: number; rxFrames: number; rxBytes: number }[];
  /** With several workers (weft run --workers): each one's non-zero counters; `counters` are their sums. */
  workers?: { worker: number; counters: Record<string, number> }[];
}

/** A remote lease: its IPv4 side (null in an IPv6-only network), and its IPv6 side's fields when it has one. */
export interface LeaseView {
  subnet: string; publicIp: string | null; vtepMac: string | null; subnet6?: string; publicIpv6?: string; vtepMac6?: string | null;
  /**
   * How its traffic leaves: vxlan (weft's tunnel), udp (the udp backend), direct (a kernel route via its host); the
   * IPv4 side's, or the IPv6 side's in an IPv6-only network. Optional: older wefts leave it out.
   */
  path?: string;
  /** The IPv6 side's path, when the lease has both sides (optional: older wefts leave it out). */
  path6?: string;
}

export interface PeersResult {
  tap: string;
  vnis: { vni: number; port: number; flood: string[] }[];
  vteps: { ip: string; port: number; flood: boolean; macs: number; static: number }[];
  control: {
    subnet: string; publicIp: string | null; publicIpv6?: string; vtepMac: string; store: string; storeReachable: boolean;
    leases: LeaseView[];
    /** Leases a full table left out, checkLease refused (reason "invalid", with `why`), or with no path here (reason "off_segment", with `why`) (optional: older wefts leave it out). */
    refused?: (LeaseView & { reason: string; why?: string })[];
  } | null;
}

/** A capture's reader may fall this far behind before batches are dropped. */
const CAPTURE_MAX_BACKLOG = 4 << 20;

export class Commands {
  /** Ends the running capture, if any (at shutdown). */
  private endCapture: ((reason: CaptureEnd['reason']) => void) | null = null;

  constructor(private readonly st: DaemonState) {}

  handle(req: Request, socket: Socket): unknown {
    this.st.refresh?.();
    switch (req.cmd) {
      case 'stats': return this.stats();
      case 'fdb-show': return this.fdbShow();
      case 'fdb-add': return this.fdbAdd(req.mac, req.dst, req.vni);
      case 'fdb-del': return this.fdbDel(req.mac, req.dst, req.vni);
      case 'peers': return this.peers();
      case 'capture': return this.capture(req.side, req.count, req.durationS, socket);
      case 'handover':
        if (!this.st.handover) throw new Error('handover: this weft cannot hand over');
        return this.st.handover(req, socket);
      case 'handover-state': case 'handover-switch': case 'handover-done': throw new Error(`${req.cmd}: no handover is under way on this connection`);
    }
  }

  /** Stops a running capture (weft is stopping). */
  stopCapture(): void {
    this.endCapture?.('stopped');
  }

  get capturing(): boolean { return this.endCapture !== null; }

  stats(): StatsResult {
    const { dp, fwd, io } = this.st;
    const f = dp.fdb.stats;
    const batches: StatsResult['batches'] = {};
    BATCH_DIRECTIONS.forEach((d, i) => { batches[d] = { reads: fwd.batchSizes.count[i], packets: fwd.batchSizes.sum[i] }; });
    const cap = fwd.capture as CaptureSession | null;
    return {
      tap: this.st.tap, vni: this.st.v.vni, port: this.st.port, local: this.st.local,
      uptimeS: Math.round((Date.now() - this.st.startedMs) / 100) / 10,
      counters: dp.counters.snapshot(),
      fdb: { entries: f.entries, max: dp.fdb.maxEntries, learned: f.learned, moved: f.moved, aged: f.aged, removed: f.removed, full: f.full, staticConflicts: f.staticConflicts, addRefused: { ...dp.staticRefused } },
      peers: dp.peers.count,
      peerCapacity: dp.peers.capacity,
      ...(this.st.control ? { leases: this.st.control.leaseCounts() } : {}),
      batches,
      offload: offloadStats(io),
      capture: cap ? { side: cap.side, frames: cap.frames } : null,
      vnis: vniTraffic(this.st),
      startedMs: this.st.startedMs,
      handovers: this.st.persist?.handovers ?? 0,
      crashReattaches: this.st.persist?.crashReattaches ?? 0,
      ...(this.st.workers ? { workers: this.st.workers() } : {}),
    };
  }

  fdbShow(): FdbShowResult {
    return { tap: this.st.tap, entries: fdbEntries(this.st) };
  }

  fdbAdd(macText: string, dst: string, vni?: number): { added: FdbEntry; replaced: FdbEntry | null } {
    const mac = unicastMac(macText, 'fdb add');
    const v = this.vniState(vni, 'fdb add');
    const fam = isIP(dst);
    if (fam === 0) throw new Error(`fdb add: '${dst}' is not an IPv4 or IPv6 address`);
    if (fam !== this.st.family) throw new Error(`fdb add: ${dst} is IPv${fam}, but the underlay is IPv${this.st.family}`);
    const replaced = this.entry(v, mac);
    try {
      this.st.dp.addStatic(v, mac, dst);
    } catch (e) {
      if (!(e instanceof TableFullError)) throw e;
      // Counted by addStatic (weft_fdb_add_refused_total); the asker hears why and what to raise, the log keeps a record.
      this.st.log.warn({ mac: formatMac(mac), dst, vni: v.vni, reason: e.reason }, 'fdb: static entry refused: a table is full');
      throw new Error(`fdb add: ${e.message}; nothing changed: remove an entry (weft fdb del) or raise ${RAISE_FOR[e.reason]}`);
    }
    const added = this.entry(v, mac)!;
    this.st.log.info({ mac: added.mac, dst, vni: v.vni, replaced: replaced ? `${replaced.state} ${replaced.dst}` : undefined }, 'fdb: static entry added');
    return { added, replaced };
  }

  fdbDel(macText: string, dst?: string, vni?: number): { removed: FdbEntry } {
    const mac = unicastMac(macText, 'fdb del');
    const v = this.vniState(vni, 'fdb del');
    const e = this.entry(v, mac);
    if (!e) throw new Error(`fdb del: no entry for ${formatMac(mac)} in vni ${v.vni}`);
    if (dst !== undefined && dst !== e.dst) throw new Error(`fdb del: ${e.mac} is at ${e.dst}, not ${dst}; nothing removed`);
    this.st.dp.removeStatic(v, mac);
    this.st.log.info({ mac: e.mac, dst: e.dst, vni: v.vni, was: e.state }, 'fdb: entry removed');
    return { removed: e };
  }

  peers(): PeersResult {
    const { dp, control } = this.st;
    const vnis = [...dp.vnis.values()].map((v) => ({
      vni: v.vni, port: v.port,
      flood: Array.from(v.flood.ids.subarray(0, v.flood.count), (id) => dp.peers.toString(id)),
    }));
    const byId = new Map<number, PeersResult['vteps'][number]>();
    const vtep = (id: number) => {
      let e = byId.get(id);
      if (!e) byId.set(id, e = { ip: dp.peers.ipString(id), port: dp.peers.port(id), flood: false, macs: 0, static: 0 });
      return e;
    };
    for (const v of dp.vnis.values()) for (let k = 0; k < v.flood.count; k++) vtep(v.flood.ids[k]).flood = true;
    dp.fdb.forEach((_vni, _mac, peer, isStatic) => {
      const e = vtep(peer);
      e.macs++;
      if (isStatic) e.static++;
    });
    const vteps = [...byId.values()].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }) || a.port - b.port);
    return { tap: this.st.tap, vnis, vteps, control: control ? control.status() as PeersResult['control'] : null };
  }

  /** Starts a capture that streams over `socket` (protocol.ts); one at a time. */
  capture(side: 'overlay' | 'underlay', count: number, durationS: number, socket: Socket): typeof STREAMING {
    const { fwd, log } = this.st;
    if (this.endCapture !== null || fwd.capture !== null) throw new Error('capture: another capture is running; one at a time');
    if (!fwd.running) throw new Error('capture: the forwarding loop has stopped');
    let done = false;
    const session = new CaptureSession({
      side, count, overlay: fwd.overlay,
      sink: (chunk) => { socket.write(encodeData(chunk)); },
      backedUp: () => socket.writableLength > CAPTURE_MAX_BACKLOG,
      // Called from inside the loop's batch: end after it returns.
      onFull: () => setImmediate(() => end('count')),
      peers: this.st.dp.peers,
      local: this.st.local ?? anyAddress(this.st.family),
      port: this.st.port,
    });
    const timer = setTimeout(() => end('duration'), durationS * 1000);
    const end = (reason: CaptureEnd['reason']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (fwd.capture === session) fwd.capture = null;
      this.endCapture = null;
      session.finish();
      const summary: CaptureEnd = { frames: session.frames, dropped: session.dropped, reason };
      if (!socket.destroyed) socket.end(encodeLine({ end: summary }));
      log.info({ side, ...summary }, 'capture ended');
    };
    socket.write(encodeLine({ ok: true, result: { side, count, durationS } }));
    socket.once('close', () => end('stopped'));
    this.endCapture = end;
    fwd.capture = session;
    log.info({ side, count, durationS }, 'capture started');
    return STREAMING;
  }

  private vniState(vni: number | undefined, what: string): VniState {
    const v = vni === undefined ? this.st.v : this.st.dp.vnis.get(vni);
    if (!v) throw new Error(`${what}: vni ${vni} is not configured here (${[...this.st.dp.vnis.keys()].map((n) => `vni ${n}`).join(', ')})`);
    return v;
  }

  private entry(v: VniState, mac: number): FdbEntry | null {
    return this.st.dp.fdb.lookupMac(v.vni, mac) < 0 ? null : fdbEntry(this.st, v.vni, mac);
  }
}

function unicastMac(s: string, what: string): number {
  let mac: number;
  try {
    mac = parseMac(s);
  } catch {
    throw new Error(`${what}: '${s}' is not a MAC address (like 02:00:0a:f4:00:02)`);
  }
  if (isMulticastMac(mac)) throw new Error(`${what}: ${s} is a multicast MAC; forwarding entries are for unicast MACs`);
  if (mac === 0) throw new Error(`${what}: the all-zero MAC is the flood list; see weft peers`);
  return mac;
}
