// `weft capture`: a running weft copies the frames it handles into a pcap.

import { parseArgs } from 'node:util';
import { openSync, writeSync, closeSync } from 'node:fs';
import { UsageError, RuntimeError } from '../config/errors.js';
import { parseIntIn } from '../config/values.js';
import { AdminClient, resolveTarget, TARGET_HELP, TARGET_OPTIONS } from '../admin/client.js';
import type { CaptureEnd } from '../admin/protocol.js';

export const CAPTURE_HELP = `Usage: weft capture -w FILE.pcap [--side overlay|underlay] [--count N] [--duration S]

Asks a running weft to copy the frames it handles, in both directions, into
FILE.pcap (classic pcap, Ethernet, or raw IP for the udp backend's TUN:
tcpdump, tshark and Wireshark read it; -w - writes it to stdout, e.g.
| tshark -r -).

  --side overlay     (default) the inner Ethernet frames: as weft reads them
                     from the TAP (TCP super-frames already cut into the
                     segments weft sends) and as it writes them to the TAP
  --side underlay    the VXLAN datagrams weft sends and receives, as whole
                     Ethernet/IP/UDP frames. The kernel adds and strips the
                     real outer headers, so weft writes its own: addresses,
                     ports and payload are real; the outer MACs
                     (02:00:00:00:00:01 this host, 02:00:00:00:00:02 the
                     remote), IPv4 ID and TTL are made up, and with weft
                     bound to any address the local one shows as 0.0.0.0
                     (or ::). Received datagrams are captured before decap,
                     so ones it drops show too. For the wire itself, run
                     tcpdump on the underlay interface.
  --count N          stop after N frames (default 1000)
  --duration S       stop after S seconds (default 60), whichever is first;
                     Ctrl-C stops earlier (the file is complete either way)
  -w FILE            where to write (required); overwritten
${TARGET_HELP}
  -h, --help         this text

With the udp backend (Backend.Type "udp"; --tap flannel0, its TUN), the
overlay side is the bare IPv4 packets read from and written to the TUN, as
raw IP (link type 101, as tcpdump writes for a TUN), and the underlay side
the datagrams, IPv4 in UDP 8285, as above (tshark -d udp.port==8285,ip).
What reaches weft is captured before it takes one off the TTL: packets from
the TUN, and datagrams, with the TTL they came with.

weft copies frames only while a capture runs (one at a time); if the file
cannot be written as fast as frames come, whole batches are left out and
counted as dropped in the summary line (stderr).

Exit status: 0 done, 1 no weft running there (or it stopped, or another
capture runs), 2 bad usage.`;

export async function captureCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      ...TARGET_OPTIONS, write: { type: 'string', short: 'w' }, side: { type: 'string' },
      count: { type: 'string' }, duration: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(CAPTURE_HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`capture: unexpected argument '${positionals[0]}' (the file goes after -w)`);
  if (!values.write) throw new UsageError('capture: say where to write: -w FILE.pcap (or -w - for stdout)');
  const side = values.side ?? 'overlay';
  if (side !== 'overlay' && side !== 'underlay') throw new UsageError(`--side: '${side}' is not overlay or underlay`);
  const count = values.count !== undefined ? parseIntIn('--count', values.count, 1, 10_000_000) : 1000;
  const durationS = values.duration !== undefined ? parseIntIn('--duration', values.duration, 1, 86_400) : 60;
  const target = resolveTarget(values);

  const client = await AdminClient.connect(target);
  const toStdout = values.write === '-';
  let fd: number;
  try {
    fd = toStdout ? 1 : openSync(values.write, 'w');
  } catch (e) {
    client.close();
    throw new RuntimeError(`capture: cannot write ${values.write}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let bytes = 0;
  let end: CaptureEnd | null = null;
  const t0 = performance.now();
  const finished = new Promise<void>((resolve) => client.onClose(resolve));
  const stop = () => client.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // weft ends the capture by itself; this only guards against a weft that never does.
  const guard = setTimeout(stop, (durationS + 10) * 1000);
  try {
    await client.stream({ cmd: 'capture', side, count, durationS }, (chunk) => {
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
      bytes += chunk.length;
    }, (line) => {
      if (line.end && typeof line.end === 'object') end = line.end as CaptureEnd;
    });
    await finished;
  } finally {
    clearTimeout(guard);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (!toStdout) closeSync(fd);
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const e = end as CaptureEnd | null;
  if (e === null) {
    if (bytes === 0) throw new RuntimeError(`capture: the weft ${target.what} closed the connection before sending anything`);
    process.stderr.write(`weft capture: stopped after ${secs} s; ${toStdout ? 'stdout' : values.write} holds the frames received until then\n`);
    return 0;
  }
  const why = e.reason === 'count' ? `${count} frames` : e.reason === 'duration' ? `${durationS} s` : 'stopped';
  process.stderr.write(`weft capture: ${e.frames} ${side} frame${e.frames === 1 ? '' : 's'} to ${toStdout ? 'stdout' : values.write} in ${secs} s (${why})` +
    `${e.dropped ? `; ${e.dropped} dropped: the file was not written fast enough` : ''}\n`);
  return 0;
}
