// Where a namespace's kernel loses packets, as text the kernel prints:
// /proc/net/snmp (per namespace: `UdpRcvbufErrors`, a socket that was full)
// and a link's `ip -s -j link` counters (a TAP whose queue was full counts
// the frames it dropped as TX dropped). Pure parsers: the caller reads the
// text in the namespace it means (bench rigs and test rigs alike).

/** /proc/net/snmp: table (`Ip`, `Tcp`, `Udp`, …) → counter → value. */
export function parseSnmp(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.split('\n').filter(Boolean).map((l) => l.split(/\s+/));
  // Each table is two lines: the counters' names, then their values.
  for (let k = 0; k + 1 < lines.length; k += 2) {
    const [name, ...keys] = lines[k];
    const values = lines[k + 1].slice(1);
    out[name.replace(/:$/, '')] = Object.fromEntries(keys.map((key, j) => [key, Number(values[j])]));
  }
  return out;
}

/** A link's packet counters from `ip -s -j link show DEV`. */
export interface LinkCounters { rxPackets: number; rxDropped: number; txPackets: number; txDropped: number }

export function parseLinkCounters(json: string): LinkCounters {
  const l = (JSON.parse(json) as { stats64?: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } } }[])[0]?.stats64;
  if (!l) throw new Error('ip -s -j link printed no stats64');
  return { rxPackets: l.rx.packets, rxDropped: l.rx.dropped, txPackets: l.tx.packets, txDropped: l.tx.dropped };
}
