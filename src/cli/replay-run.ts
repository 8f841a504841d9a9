// The engine of `weft replay`: a capture through the forwarding loop the
// daemon runs (datapath/forwarder.ts), over the pcap twins of the TAP and
// the UDP socket (io/pcap-ports.ts) instead of the live ones.
//
//   --decap: outer frames → the socket twin (OuterParser, as the kernel's
//            UDP receive) → the loop: decap, by VNI to that VNI's TAP → the
//            TAP twin writes the inner frames to OUT
//   --encap: inner frames → the TAP twin → the loop: encap → the socket twin
//            (OuterBuilder, as the kernel's UDP send) writes the outer frames
//            to OUT, one per peer; frames too big for --mtu are answered
//            into the TAP, and the TAP twin writes those answers into OUT
//            too, after the datagrams of their batch
//
// With --udp-backend the loop is the udp backend's (datapath/udp-loop.ts)
// over the TUN's twin, its routes from --route:
//
//   --decap: outer frames → the socket twin (OuterParser, bare IPv4 payload)
//            → the loop: wireToTunBatch → the TUN twin writes the packets
//            (and ICMP answers) to OUT as raw IPv4
//   --encap: raw IPv4 packets → the TUN twin → the loop: tunToWireBatch →
//            the socket twin writes the outer frames to OUT; ICMP answers
//            (no route, TTL) go into OUT after the datagrams of their batch,
//            each behind an Ethernet header (OUT is Ethernet)
//
// Records are staged in the input port until a batch is full; then the
// callback the loop gave that port's onReadable runs, as the poller runs it
// for the daemon, and the batch's results are written before the slab is
// reused. The capture's timestamps are the loop's clock, so rate limits see
// the recorded pacing, and learned entries age in capture time: between
// batches the driver asks the loop to age, as its timer would.

import { PcapWriter, PCAP_SNAPLEN } from '../io/pcap-write.js';
import { OuterParser, OuterBuilder } from '../io/outer.js';
import { readPcap, PcapFormatError, RAW_IP_LINKS, LINKTYPE_RAW } from '../io/pcap-read.js';
import { PcapFramePort, PcapTunPort, PcapDatagramPort, RecordTimes, type PcapPortOptions } from '../io/pcap-ports.js';
import { Datapath, type DatapathOptions } from '../datapath/datapath.js';
import { Forwarder } from '../datapath/forwarder.js';
import { UdpLoop } from '../datapath/udp-loop.js';
import { UdpRoutes } from '../datapath/udp-routes.js';
import type { VniState } from '../datapath/vni.js';

export const REPLAY_BATCH = 256;
const SLAB_BYTES = 4 << 20;

export interface ReplayEndpoints {
  vni: number;
  port: number;
  /** Flood-list peers (encap). */
  peers: string[];
  /** Static entries (encap and decap). */
  statics: { mac: number; ip: string }[];
  /** Underlay source address for encap. */
  local?: string;
  /** The overlay MTU (encap): larger frames are dropped and answered with ICMP. Absent: no limit. */
  mtu?: number;
}

/** What `weft replay --udp-backend` is given: the backend's port, the lease routes, and for encap the underlay address and the TUN's MTU. */
export interface UdpReplayEndpoints {
  port: number;
  /** Lease routes: subnet → the PublicIP of the host that holds it. With none, decap takes datagrams from any host. */
  routes: { net: number; len: number; ip: string }[];
  /** Underlay source address (encap). */
  local?: string;
  /** The TUN's MTU (encap): larger packets are dropped. Absent: no limit. */
  mtu?: number;
}

export interface ReplayProgress { (records: number, bytes: number): void }

export interface ReplayResult {
  recordsIn: number;
  /** Records written to the output, whatever wrote them. */
  recordsOut: number;
  /** Of those, the frames the loop wrote into the TAP: decap's inner frames, or encap's ICMP answers. */
  toTap: number;
  dp: Datapath;
  outer: Record<string, number>;
  /** The udp backend's routes (--udp-backend), as `weft peers` lists them. */
  routes?: { net: number; len: number; to: string }[];
}

/** The data path as `weft replay` configures it: one VNI, its flood list and static entries. */
export function replayDatapath(ep: ReplayEndpoints, dpOpts: DatapathOptions = {}): { dp: Datapath; v: VniState } {
  const dp = new Datapath(dpOpts);
  const v = dp.addVni(ep.vni, { port: ep.port, mtu: ep.mtu });
  for (const p of ep.peers) dp.addFloodPeer(v, p);
  for (const s of ep.statics) dp.addStatic(v, s.mac, s.ip);
  return { dp, v };
}

/** Records are bounded by the largest snap length capture tools use. */
function checkRecord(input: string, data: Buffer, n: number): void {
  if (data.length > PCAP_SNAPLEN) {
    throw new PcapFormatError(`${input}: record ${n} is ${data.length} bytes, more than any capture holds (${PCAP_SNAPLEN}); the file is damaged`);
  }
}

/** A port the capture is staged in gets the slab; one that only writes needs none. */
const portOptions = (times: RecordTimes, input: boolean): PcapPortOptions => ({ slots: REPLAY_BATCH, slabBytes: input ? SLAB_BYTES : 0, times });

/**
 * Streams `input` into `into` and runs the loop over each full batch, the
 * capture's time as its clock. Resolves with the record count; rejects with
 * the input's error, or with the error that stopped the loop.
 */
async function drive(input: string, between: () => void, into: PcapFramePort | PcapDatagramPort,
  clock: { ms: number }, failed: { err: Error | null }, progress?: ReplayProgress, accept?: readonly number[]): Promise<number> {
  let seen = 0, bytes = 0;
  const run = () => {
    into.ready();
    between();
    if (failed.err !== null) throw failed.err;
  };
  const records = await readPcap(input, (data, sec, usec) => {
    checkRecord(input, data, ++seen);
    if (!into.stage(data, sec, usec)) {
      run();
      if (!into.stage(data, sec, usec)) throw new Error(`${input}: record ${seen} does not fit an empty batch`);
    }
    bytes += data.length;
    clock.ms = sec * 1000 + usec / 1000;
    if (progress && (seen & 1023) === 0) progress(seen, bytes);
  }, accept);
  run();
  return records;
}

/**
 * The loop on `dp` over the pcap ports, `v`'s lane only (its TAP the frame
 * port), with the capture staged in the socket's twin (`parser`, decap) or
 * the TAP's (`builder` sends, encap). Everything written goes to `output`.
 */
async function replayThrough(dp: Datapath, v: VniState, input: string, output: string,
  parser: OuterParser | null, builder: OuterBuilder | null, progress?: ReplayProgress): Promise<ReplayResult> {
  const times = new RecordTimes(REPLAY_BATCH);
  const clock = { ms: 0 }, failed: { err: Error | null } = { err: null };
  const w = new PcapWriter(output);
  const tap = new PcapFramePort(portOptions(times, parser === null), w);
  const udp = new PcapDatagramPort(portOptions(times, parser !== null), parser, builder, builder && w);
  const fwd = new Forwarder(dp, v, tap, udp, {
    batch: REPLAY_BATCH,
    now: () => clock.ms,
    ageOnTimer: false,
    flowSourcePorts: true,
    onFatal: (err) => { failed.err = err; },
  });
  let records: number;
  try {
    fwd.start();
    records = await drive(input, () => fwd.ageIfDue(), parser !== null ? udp : tap, clock, failed, progress);
  } finally {
    fwd.stop();
    w.close();
  }
  const outer = parser !== null ? parser.counters() : builder !== null ? builder.counters() : {};
  return { recordsIn: records, recordsOut: w.records, toTap: tap.written, dp, outer };
}

/**
 * Replays outer frames through the loop on `dp`, whose lane is `v`; writes
 * the inner frames the loop writes into `v`'s TAP, in order, byte-exact.
 * Frames for a VNI `dp` carries but `v` is not are dropped as the daemon
 * drops them (rx_drop_tap).
 */
export function replayDecapOn(dp: Datapath, v: VniState, input: string, output: string, progress?: ReplayProgress): Promise<ReplayResult> {
  return replayThrough(dp, v, input, output, new OuterParser(v.port), null, progress);
}

/** Replays outer frames through decap; writes surviving inner frames, in order, byte-exact. */
export function replayDecap(
  input: string, output: string, ep: ReplayEndpoints, dpOpts: DatapathOptions = {}, progress?: ReplayProgress,
): Promise<ReplayResult> {
  const { dp, v } = replayDatapath(ep, dpOpts);
  return replayDecapOn(dp, v, input, output, progress);
}

/**
 * Replays inner frames through encap; writes one outer frame per datagram
 * sent, and the ICMP answers to frames too big for the MTU as the TAP gets
 * them (plain Ethernet frames), after the datagrams of their batch.
 */
export async function replayEncap(
  input: string, output: string, ep: ReplayEndpoints, dpOpts: DatapathOptions = {}, progress?: ReplayProgress,
): Promise<ReplayResult> {
  if (!ep.local) throw new Error('replayEncap needs a local address');
  const { dp, v } = replayDatapath(ep, dpOpts);
  return replayThrough(dp, v, input, output, null, new OuterBuilder(ep.local, dp.peers), progress);
}

/** The udp backend's tables as `weft replay --udp-backend` sets them: the lease routes, their hosts the only sources taken (when there are any). */
export function udpReplayBackend(ep: UdpReplayEndpoints): UdpRoutes {
  const dp = new Datapath({ knownSourcesOnly: ep.routes.length > 0 });
  const be = new UdpRoutes(dp, ep.port, ep.mtu ?? 65535);
  for (const r of ep.routes) {
    const refused = be.tryAdd(r.net, r.len, r.ip);
    if (refused !== null) throw new Error(`route to ${r.ip}: ${refused}`);
  }
  return be;
}

/**
 * The udp backend's loop over the pcap ports, the capture staged in the
 * socket's twin (`parser`, decap) or the TUN's (`builder` sends, encap).
 */
async function replayUdpThrough(be: UdpRoutes, input: string, output: string,
  parser: OuterParser | null, builder: OuterBuilder | null, progress?: ReplayProgress): Promise<ReplayResult> {
  const times = new RecordTimes(REPLAY_BATCH);
  const clock = { ms: 0 }, failed: { err: Error | null } = { err: null };
  const w = new PcapWriter(output, parser !== null ? LINKTYPE_RAW : undefined);
  const tun = new PcapTunPort(portOptions(times, parser === null), w, builder !== null);
  const udp = new PcapDatagramPort({ ...portOptions(times, parser !== null), localPort: be.port }, parser, builder, builder && w);
  const loop = new UdpLoop(be, tun, udp, { batch: REPLAY_BATCH, now: () => clock.ms, onFatal: (err) => { failed.err = err; } });
  let records: number;
  try {
    loop.start();
    records = await drive(input, () => {}, parser !== null ? udp : tun, clock, failed, progress, parser !== null ? undefined : RAW_IP_LINKS);
  } finally {
    loop.stop();
    w.close();
  }
  const outer = parser !== null ? parser.counters() : builder !== null ? builder.counters() : {};
  return { recordsIn: records, recordsOut: w.records, toTap: tun.written, dp: be.dp, outer, routes: be.list() };
}

/** The udp backend's wire → TUN: outer frames (bare IPv4 in UDP) in; the packets written into the TUN out, as raw IPv4. */
export function replayUdpDecap(input: string, output: string, ep: UdpReplayEndpoints, progress?: ReplayProgress): Promise<ReplayResult> {
  return replayUdpThrough(udpReplayBackend(ep), input, output, new OuterParser(ep.port, 'ipv4'), null, progress);
}

/** The udp backend's TUN → wire: raw IPv4 packets in; one outer frame per datagram sent out, and the ICMP answers into the TUN. */
export function replayUdpEncap(input: string, output: string, ep: UdpReplayEndpoints, progress?: ReplayProgress): Promise<ReplayResult> {
  if (!ep.local) throw new Error('replayUdpEncap needs a local address');
  const be = udpReplayBackend(ep);
  return replayUdpThrough(be, input, output, null, new OuterBuilder(ep.local, be.dp.peers), progress);
}
