// What a running weft hands its successor besides the descriptors
// (`weft run --takeover`, handover.ts): one versioned JSON message holding
// the forwarding table (learned entries with their ages, static entries),
// the flood lists, the counters' totals, the lease, and how many handovers
// and crash-reattaches the TAP has seen.
//
// Versions: HANDOVER_VERSION changes whenever a field changes meaning or a
// field the successor needs appears. The successor asks for a handover
// with its version; a weft of another version refuses before it pauses
// anything (handoverRefusal), so an incompatible pair leaves the running
// one forwarding and the new one exits with one line.
//
// Everything here is pure over a Datapath, so the unit tests run it without
// root: export from one Datapath, import into another, compare.

import type { Datapath } from '../datapath/datapath.js';
import { COUNTER_NAMES } from '../datapath/counters.js';
import { LEARN_NEW } from '../fdb/fdb.js';
import { formatMac, parseMac, writeMac, MAC_LEN } from '../wire/mac.js';

export const HANDOVER_VERSION = 1;

/** What must be the same in both wefts for the successor to serve the running one's descriptors. */
export interface HandoverShape {
  /** Each VNI, its TAP and the TAP's address ("ip/prefix", or null). */
  overlays: { vni: number; tap: string; address: string | null }[];
  family: 4 | 6;
  port: number;
  local: string | null;
}

/** The successor's request (admin/protocol.ts carries it as {"cmd":"handover", …}). */
export interface HandoverRequest {
  version: number;
  /** The unix socket the successor listens on for the descriptors. */
  path: string;
  pid: number;
  /** The successor's HandoverShape, as it sent it (compared whole). */
  shape: unknown;
}

export interface FdbRecord { vni: number; mac: string; ip: string; port: number; static: boolean; /** Learned entries: ms since the MAC was last seen. */ ageMs?: number }

export interface HandoverState {
  version: number;
  /** The running weft's process id, which exits once the successor has started. */
  pid: number;
  /** The order of the descriptors in the message: the UDP socket, then each overlay's TAP in `shape.overlays` order. */
  fds: ('udp' | `tap:${string}`)[];
  fdb: FdbRecord[];
  flood: { vni: number; peers: { ip: string; port: number }[] }[];
  counters: Record<string, number>;
  /** Our lease, with a lease store. */
  lease: { subnet: string; expiresMs: number } | null;
  /** Handovers and crash-reattaches this TAP has seen, this one not yet counted. */
  handovers: number;
  crashReattaches: number;
}

/** Why a running weft of this version and shape refuses `req`, or null when it can hand over. */
export function handoverRefusal(req: HandoverRequest, mine: HandoverShape): string | null {
  if (req.version !== HANDOVER_VERSION) {
    return `handover: the running weft speaks handover version ${HANDOVER_VERSION}, this one ${req.version}: ` +
      'stop the running weft and start this one instead';
  }
  const a = JSON.stringify(req.shape), b = JSON.stringify(mine);
  if (a !== b) return `handover: the new weft's TAPs, VNIs, port or address differ from the running one's (${describe(req.shape)} vs ${describe(mine)}): use the same arguments`;
  return null;
}

function describe(shape: unknown): string {
  const s = shape as HandoverShape;
  if (!Array.isArray(s?.overlays)) return JSON.stringify(shape).slice(0, 200);
  return `${s.overlays.map((o) => `vni ${o.vni} tap ${o.tap}${o.address ? ` ${o.address}` : ''}`).join(', ')}, udp ${s.local ?? 'any'}:${s.port} IPv${s.family}`;
}

/** The state of `dp` at `nowMs` (the forwarding loop's clock). */
export function exportState(dp: Datapath, nowMs: number, o: Pick<HandoverState, 'pid' | 'fds' | 'lease' | 'handovers' | 'crashReattaches'>): HandoverState {
  const fdb: FdbRecord[] = [];
  dp.fdb.forEach((vni, mac, peer, isStatic, seen) => {
    const r: FdbRecord = { vni, mac: formatMac(mac), ip: dp.peers.ipString(peer), port: dp.peers.port(peer), static: isStatic };
    if (!isStatic) r.ageMs = Math.max(0, Math.round(nowMs - seen));
    fdb.push(r);
  });
  const flood = [...dp.vnis.values()].map((v) => ({
    vni: v.vni,
    peers: Array.from(v.flood.ids.subarray(0, v.flood.count), (id) => ({ ip: dp.peers.ipString(id), port: dp.peers.port(id) })),
  }));
  const c = dp.counters.v;
  const counters: Record<string, number> = {};
  COUNTER_NAMES.forEach((n, i) => { if (c[i] !== 0) counters[n] = c[i]; });
  return { version: HANDOVER_VERSION, ...o, fdb, flood, counters };
}

/** What importState took and left. */
export interface Imported { learned: number; statics: number; flood: number; refused: string[] }

/**
 * Which part of a state to take. A snapshot taken while both wefts forward
 * (the overlap, hand-over.ts) leaves the counters to the final state, which
 * counts every frame the running weft forwarded; the final state then
 * leaves the learned entries this loop holds already, which it saw itself
 * during the overlap and so knows fresher.
 */
export interface ImportParts { counters: boolean; keepOwn: boolean }

/**
 * Puts `s` into `dp` (built from the same arguments): flood peers and
 * static entries it lacks, learned entries with their ages kept (they age
 * out when they would have in the old process), counters added to its own.
 * Entries that do not fit are listed, not thrown.
 */
export function importState(dp: Datapath, s: HandoverState, nowMs: number, parts: ImportParts = { counters: true, keepOwn: false }): Imported {
  const out: Imported = { learned: 0, statics: 0, flood: 0, refused: [] };
  for (const f of s.flood) {
    const v = dp.vnis.get(f.vni);
    if (!v) continue;
    for (const p of f.peers) {
      const before = v.flood.count;
      try { dp.addFloodPeer(v, p.ip, p.port); } catch (e) { out.refused.push(`flood ${p.ip}: ${(e as Error).message}`); continue; }
      out.flood += v.flood.count - before;
    }
  }
  const mac = Buffer.alloc(MAC_LEN);
  for (const r of s.fdb) {
    const v = dp.vnis.get(r.vni);
    if (!v) continue;
    const m = parseMac(r.mac);
    if (r.static) {
      if (dp.fdb.lookupMac(r.vni, m) >= 0) continue;
      const why = dp.tryAddStatic(v, m, r.ip, r.port);
      if (why === null) out.statics++;
      else out.refused.push(`${r.mac}: ${dp.refusalText(why)}`);
      continue;
    }
    if (parts.keepOwn && dp.fdb.lookupMac(r.vni, m) >= 0) continue;
    const peer = dp.peers.tryInternIp(r.ip, r.port);
    if (peer < 0) { out.refused.push(`${r.mac}: ${dp.refusalText('peer_table_full')}`); continue; }
    writeMac(mac, 0, m);
    const got = dp.fdb.learn(r.vni, mac, 0, peer, nowMs - (r.ageMs ?? 0));
    if (got === LEARN_NEW) out.learned++;
    else dp.peers.releaseIfUnused(peer);
  }
  if (!parts.counters) return out;
  const c = dp.counters.v;
  COUNTER_NAMES.forEach((n, i) => { c[i] += s.counters[n] ?? 0; });
  return out;
}

/** Checks the shape of a state message from another process; returns it typed, or throws with what is wrong. */
export function parseState(o: unknown): HandoverState {
  const s = o as Partial<HandoverState> | null;
  if (typeof s !== 'object' || s === null) throw new Error('handover: the state is not an object');
  if (s.version !== HANDOVER_VERSION) throw new Error(`handover: state version ${String(s.version)}, this weft reads ${HANDOVER_VERSION}`);
  if (!Number.isInteger(s.pid) || !Array.isArray(s.fds) || !Array.isArray(s.fdb) || !Array.isArray(s.flood) ||
      typeof s.counters !== 'object' || !Number.isInteger(s.handovers) || !Number.isInteger(s.crashReattaches)) {
    throw new Error('handover: the state message lacks a field this version needs');
  }
  return s as HandoverState;
}
