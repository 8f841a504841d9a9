// The running daemon's state as plain objects: the one builder of the
// pieces that both the control socket's replies (commands.ts: `weft stats`,
// `weft fdb show`) and the status log record (SIGUSR1 and exit, cli/run.ts)
// show, so the two never drift apart.

import { VNI_RX_BYTES, VNI_RX_FRAMES, VNI_TX_BYTES, VNI_TX_FRAMES } from '../datapath/vni.js';
import { formatMac } from '../wire/mac.js';
import type { DaemonState } from '../daemon/state.js';
import type { FdbEntry, StatsResult } from './commands.js';

/** The TAP's and the socket's offload state and counters; null without real I/O (a test). */
export function offloadStats(io: DaemonState['io']): StatsResult['offload'] {
  return io ? {
    tso: io.tap.offload, uso: io.tap.uso ?? false, gso: io.udp.gso, gro: io.udp.gro, ...io.tap.stats,
    gsoMessages: io.udp.gsoMessages, gsoDatagrams: io.udp.gsoDatagrams, groMessages: io.udp.groMessages, groDatagrams: io.udp.groDatagrams,
    srcPortSockets: io.udp.srcPorts?.opened ?? 0, srcPortFallbacks: io.udp.srcPorts?.fallbacks ?? 0,
  } : null;
}

/** Each VNI served, its TAP and its traffic. */
export function vniTraffic(st: DaemonState): NonNullable<StatsResult['vnis']> {
  return (st.overlays ?? [{ vni: st.v.vni, tap: st.tap }]).map(({ vni, tap }) => {
    const c = st.dp.vnis.get(vni)?.counters;
    return { vni, tap, txFrames: c?.[VNI_TX_FRAMES] ?? 0, txBytes: c?.[VNI_TX_BYTES] ?? 0, rxFrames: c?.[VNI_RX_FRAMES] ?? 0, rxBytes: c?.[VNI_RX_BYTES] ?? 0 };
  });
}

/** Every forwarding entry, by VNI then MAC; each names its TAP when weft serves several VNIs. */
export function fdbEntries(st: DaemonState): FdbEntry[] {
  const now = performance.now();
  const rows: { vni: number; mac: number; e: FdbEntry }[] = [];
  st.dp.fdb.forEach((vni, mac, peer, isStatic, seen) => rows.push({ vni, mac, e: row(st, now, vni, mac, peer, isStatic, seen) }));
  rows.sort((a, b) => a.vni - b.vni || a.mac - b.mac);
  const ov = st.overlays;
  if (ov && ov.length > 1) for (const r of rows) r.e.tap = ov.find((o) => o.vni === r.vni)?.tap;
  return rows.map((r) => r.e);
}

/** The entry for `mac` in `vni`, or null. */
export function fdbEntry(st: DaemonState, vni: number, mac: number): FdbEntry | null {
  const now = performance.now();
  let found: FdbEntry | null = null;
  st.dp.fdb.forEach((v, m, peer, isStatic, seen) => {
    if (v === vni && m === mac) found = row(st, now, v, m, peer, isStatic, seen);
  });
  return found;
}

/** The record `weft run` logs on SIGUSR1 and when it stops ("event":"status"). */
export function statusRecord(st: DaemonState): object {
  st.refresh?.();
  return {
    event: 'status', tap: st.tap, vni: st.v.vni, vnis: vniTraffic(st), counters: st.dp.counters.snapshot(),
    ...(st.control ? { control: st.control.status() } : {}), offload: offloadStats(st.io) ?? undefined, fdb: fdbEntries(st),
  };
}

function row(st: DaemonState, now: number, vni: number, mac: number, peer: number, isStatic: boolean, seen: number): FdbEntry {
  const e: FdbEntry = { mac: formatMac(mac), dst: st.dp.peers.ipString(peer), port: st.dp.peers.port(peer), vni, state: isStatic ? 'static' : 'learned' };
  if (!isStatic) e.ageS = Math.max(0, Math.round((now - seen) / 1000));
  return e;
}
