// When a namespace's kernel counted a TCP retransmission timeout or a drop,
// to line it up with a fault by time; run inside one of the rig's hosts:
//
//   node netstat-watch.js SECONDS [DEV…]
//       reads the namespace's counters every 10 ms: TcpExt TCPTimeouts,
//       TCPLossProbes, TCPSpuriousRTOs, Tcp RetransSegs, Udp RcvbufErrors
//       and InErrors, and each DEV's tx_dropped and rx_dropped (sysfs, which
//       `ip netns exec` mounts for the namespace). Says "watching" on stderr
//       once it has its first reading; on SIGTERM or after SECONDS prints
//       {"events": [{"ms", "name", "delta"}], "totals": {name: delta}}, each
//       event a change between two readings, at the wall-clock ms it was seen.

import { readFileSync } from 'node:fs';

const TICK_MS = 10;
const WANT: Record<string, string[]> = {
  TcpExt: ['TCPTimeouts', 'TCPLossProbes', 'TCPSpuriousRTOs'],
  Tcp: ['RetransSegs'],
  Udp: ['RcvbufErrors', 'InErrors'],
};
const [secondsS, ...devs] = process.argv.slice(2);

/** Both files hold tables as pairs of lines: the names, then the values. */
function table(path: string, into: Record<string, number>): void {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/\s+/));
  for (let k = 0; k + 1 < lines.length; k += 2) {
    const want = WANT[lines[k][0].replace(/:$/, '')];
    if (!want) continue;
    for (const name of want) {
      const j = lines[k].indexOf(name);
      if (j > 0) into[name] = Number(lines[k + 1][j]);
    }
  }
}

function read(): Record<string, number> {
  const r: Record<string, number> = {};
  table('/proc/net/netstat', r);
  table('/proc/net/snmp', r);
  for (const d of devs) {
    for (const s of ['tx_dropped', 'rx_dropped']) {
      try { r[`${d}:${s}`] = Number(readFileSync(`/sys/class/net/${d}/statistics/${s}`, 'utf8')); } catch { /* not there (yet) */ }
    }
  }
  return r;
}

const first = read();
let last = first;
const events: { ms: number; name: string; delta: number }[] = [];
const tick = setInterval(() => {
  const now = read(), ms = Date.now();
  for (const [name, v] of Object.entries(now)) {
    const was = last[name] ?? v;
    if (v !== was) events.push({ ms, name, delta: v - was });
  }
  last = now;
}, TICK_MS);
const finish = () => {
  clearInterval(tick);
  const totals: Record<string, number> = {};
  for (const [name, v] of Object.entries(last)) totals[name] = v - (first[name] ?? v);
  process.stdout.write(JSON.stringify({ events, totals }) + '\n');
  process.exit(0);
};
process.once('SIGTERM', finish);
setTimeout(finish, Number(secondsS) * 1000).unref();
process.stderr.write('watching\n');
