// The four loads, as iperf3 arguments, and what one iperf3 -J run measured.
//
// Every figure is taken at the receiver (what came out of the tunnel), so a
// tunnel that drops is not credited with what the sender pushed into it.
//   bytes    payload bytes received (both directions summed for --bidir)
//   packets  UDP: datagrams received (sent − lost, as the server counts them);
//            TCP: bytes ÷ MSS, i.e. MTU-sized segments, because neither end
//            counts TCP packets and GSO/GRO make device counters count
//            super-frames instead
//   gbps     bits per second ÷ 1e9 over the receiver's interval
//   lossPct  UDP only: lost ÷ sent

export interface LoadCase {
  id: string;
  title: string;
  /** iperf3 client arguments after `-c ADDR -t S -J`. */
  args: string[];
  udp: boolean;
}

export const CASES: readonly LoadCase[] = [
  { id: 'tcp-1', title: 'TCP, 1 stream', args: [], udp: false },
  { id: 'tcp-bidir', title: 'TCP, both directions', args: ['--bidir'], udp: false },
  { id: 'tcp-4', title: 'TCP, 4 streams', args: ['-P', '4'], udp: false },
  // -b 0: as fast as the sender can go; the receiver's count says what got through.
  { id: 'udp-64', title: 'UDP, 64-byte payloads', args: ['-u', '-l', '64', '-b', '0'], udp: true },
];

export interface Sample {
  bytes: number;
  seconds: number;
  gbps: number;
  packets: number;
  pps: number;
  lossPct: number | null;
}

interface Sum { seconds: number; bytes: number; bits_per_second: number; packets?: number; lost_packets?: number }
interface Report {
  error?: string;
  start?: { tcp_mss_default?: number; test_start?: { blksize?: number } };
  end?: { sum_received?: Sum; sum_received_bidir_reverse?: Sum };
}

/** Reads one `iperf3 -c … -J` report; throws with iperf3's own error text if the run failed. */
export function parseReport(json: string, c: LoadCase): Sample {
  let r: Report;
  try {
    r = JSON.parse(json) as Report;
  } catch {
    throw new Error(`iperf3 printed no JSON report: ${json.slice(0, 200).trim() || '(nothing)'}`);
  }
  if (r.error) throw new Error(`iperf3: ${r.error}`);
  const sums = [r.end?.sum_received, r.end?.sum_received_bidir_reverse].filter((s): s is Sum => s !== undefined);
  if (sums.length === 0) throw new Error('iperf3 report has no end.sum_received');
  const seconds = Math.max(...sums.map((s) => s.seconds));
  const bytes = sums.reduce((a, s) => a + s.bytes, 0);
  const gbps = sums.reduce((a, s) => a + s.bits_per_second, 0) / 1e9;
  let packets: number, lossPct: number | null = null;
  if (c.udp) {
    const sent = sums.reduce((a, s) => a + (s.packets ?? 0), 0);
    const lost = sums.reduce((a, s) => a + (s.lost_packets ?? 0), 0);
    packets = sent - lost;
    lossPct = sent > 0 ? (100 * lost) / sent : 0;
  } else {
    const mss = r.start?.tcp_mss_default;
    if (!mss) throw new Error('iperf3 report has no start.tcp_mss_default');
    packets = bytes / mss;
  }
  return { bytes, seconds, gbps, packets, pps: seconds > 0 ? packets / seconds : 0, lossPct };
}
