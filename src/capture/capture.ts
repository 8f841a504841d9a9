// `weft capture` inside the daemon: copies the frames the forwarding loop
// handles into classic pcap, for as long as a capture runs.
//
//   overlay   the inner Ethernet frames: as read from the TAP (after weft cut
//             TCP super-frames into segments) and as handed to the TAP
//             (before it merges segments again). With the udp backend, the
//             bare IPv4 packets read from the TUN and written to it, as
//             LINKTYPE_RAW (what tcpdump writes for a TUN).
//   underlay  the datagrams weft sends and receives (VXLAN, or the udp
//             backend's bare IPv4 in UDP), each as a whole Ethernet/IP/UDP
//             frame. The kernel adds and strips the real outer headers, so
//             weft writes its own in front (OuterBuilder): the addresses,
//             ports and payload are the real ones; the outer MACs
//             (02:00:00:00:00:01 local, …:02 remote), the IPv4 ID and the
//             TTL are made up.
//
// What a port handed over is captured before any stage changes it (the udp
// backend takes one off the TTL in place, decap may mark ECN): received
// datagrams as they arrived, drops included; packets read from the TUN with
// the TTL they had. What a stage made for a port is captured after it.
//
// Cost: the loop checks one field for null at each of the hook's points
// (twice per batch) when no capture runs.
// While one runs, every frame is copied (underlay: and checksummed) once,
// and each batch becomes one chunk handed to the sink. A capture stops by
// itself after `count` frames; the session that owns it stops it at its
// time limit. When the sink is backed up (a slow reader), whole batches are
// skipped and counted as dropped rather than buffered without bound.
//
// With several forwarding workers (weft run --workers), each worker runs a
// session of its own, and the one the control socket started takes their
// records (`relay`): one file header, one count, one limit.

import type { CaptureHook, OverlayKind } from '../datapath/forwarder.js';
import { copyFrame, type DatagramBatch, type FrameBatch, type SendList } from '../io/batch.js';
import type { PeerTable } from '../fdb/peers.js';
import { OuterBuilder } from '../io/outer.js';
import { PcapWriter, RECORD_HEADER_LEN } from '../io/pcap-write.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../io/pcap-read.js';

/** Room in front of a copied payload for Ethernet + IPv6 + UDP. */
const HEAD = 64;

/** Which side of weft a capture records: the TAP's frames (overlay) or the socket's datagrams (underlay). */
export type CaptureSide = 'overlay' | 'underlay';

export interface CaptureOptions {
  side: CaptureSide;
  /** Stop after this many frames. */
  count: number;
  /** Gets each batch's records as one chunk of pcap bytes (the first starts with the file header). */
  sink: (chunk: Buffer) => void;
  /** True while the sink is backed up: batches are then dropped. */
  backedUp: () => boolean;
  /** Called once, from inside the loop, when `count` frames are captured. */
  onFull: () => void;
  /** What the loop's overlay port carries (default Ethernet): the overlay side's link type. */
  overlay?: OverlayKind;
  /** Underlay only: the peer table, the local address (its family) and the local UDP port. */
  peers?: PeerTable;
  local?: string;
  port?: number;
  /** Wall clock in ms, for record timestamps. */
  nowMs?: () => number;
}

export class CaptureSession implements CaptureHook {
  frames = 0;
  dropped = 0;
  readonly side: CaptureSide;
  private readonly limit: number;
  private readonly writer: PcapWriter;
  private readonly outer: OuterBuilder | null;
  private readonly scratch: Buffer | null;
  /** A TSO segment put together (its payload stays where the TAP read left it). */
  private readonly whole = Buffer.alloc(65536 + 64);
  /** The local UDP port (underlay), else 0. */
  readonly port: number;
  private readonly o: CaptureOptions;
  private readonly nowMs: () => number;
  private sec = 0;
  private usec = 0;
  private full = false;

  constructor(o: CaptureOptions) {
    this.o = o;
    this.side = o.side;
    this.limit = o.count;
    this.nowMs = o.nowMs ?? (() => performance.timeOrigin + performance.now());
    const raw = o.side === 'overlay' && o.overlay === 'ipv4';
    this.writer = new PcapWriter(o.sink, raw ? LINKTYPE_RAW : LINKTYPE_ETHERNET, 256 << 10);
    if (o.side === 'underlay') {
      if (!o.peers || !o.local || !o.port) throw new Error('an underlay capture needs the peer table, the local address and the port');
      this.outer = new OuterBuilder(o.local, o.peers);
      this.scratch = Buffer.alloc(HEAD + 65536);
      this.port = o.port;
    } else {
      this.outer = null;
      this.scratch = null;
      this.port = 0;
    }
  }

  fromTap(frames: FrameBatch): void {
    if (this.side !== 'overlay' || !this.begin(frames.count)) return;
    for (let i = 0; i < frames.count && this.frames < this.limit; i++) {
      if (frames.tailLen[i] === 0) this.record(frames.buf, frames.off[i], frames.len[i]);
      else this.record(this.whole, 0, copyFrame(frames, i, this.whole, 0));
    }
    this.end();
  }

  toWire(sends: SendList, b: Buffer): void {
    if (this.side !== 'underlay' || !this.begin(sends.count)) return;
    const s = this.scratch!;
    for (let k = 0; k < sends.count && this.frames < this.limit; k++) {
      const off = sends.off[k], len = sends.len[k], tail = sends.tailLen[k];
      b.copy(s, HEAD, off, off + len - tail);
      if (tail > 0) b.copy(s, HEAD + len - tail, sends.tailOff[k], sends.tailOff[k] + tail);
      // The port the datagram left from: the socket writes it back when it sends per-flow
      // ports (io/src-ports.ts); 0 when it sends all from its bound port.
      const start = this.outer!.build(s, HEAD, len, sends.peer[k], sends.srcPort[k] || this.port, sends.ecn[k]);
      if (start >= 0) this.record(s, start, HEAD + len - start);
    }
    this.end();
  }

  fromWire(dgrams: DatagramBatch): void {
    if (this.side !== 'underlay' || !this.begin(dgrams.count)) return;
    const s = this.scratch!, b = dgrams.buf;
    for (let i = 0; i < dgrams.count && this.frames < this.limit; i++) {
      const off = dgrams.off[i], len = dgrams.len[i];
      if (len < 0) continue; // truncated by the socket: nothing whole to show
      b.copy(s, HEAD, off, off + len);
      const start = this.outer!.buildInbound(s, HEAD, len, dgrams.srcAddr, i * 4, dgrams.srcPort[i], this.port, dgrams.ecn[i]);
      if (start >= 0) this.record(s, start, HEAD + len - start);
    }
    this.end();
  }

  toTap(frames: FrameBatch): void {
    if (this.side !== 'overlay' || !this.begin(frames.count)) return;
    for (let i = 0; i < frames.count && this.frames < this.limit; i++) this.record(frames.buf, frames.off[i], frames.len[i]);
    this.end();
  }

  /** Frames still to capture. */
  get remaining(): number { return Math.max(0, this.limit - this.frames); }

  /** The local address the underlay side writes in its outer headers ('' for the overlay side). */
  get local(): string { return this.o.local ?? ''; }

  /** True while the sink is backed up. */
  isBackedUp(): boolean { return this.o.backedUp(); }

  /**
   * Takes pcap records another session wrote (a worker's, without its file
   * header), holding `frames` frames: written in order up to the limit, or
   * dropped as one batch while the sink is backed up.
   */
  relay(records: Buffer, frames: number): void {
    if (this.full || frames === 0) return;
    if (this.o.backedUp()) { this.dropped += frames; return; }
    // A record header: seconds, microseconds, captured length, original length.
    for (let at = 0; at + RECORD_HEADER_LEN <= records.length && this.frames < this.limit;) {
      const len = records.readUInt32LE(at + 8);
      this.writer.write(records, at + RECORD_HEADER_LEN, len, records.readUInt32LE(at), records.readUInt32LE(at + 4));
      this.frames++;
      at += RECORD_HEADER_LEN + len;
    }
    this.end();
  }

  /** Hands over what is buffered (at least the file header, so even an empty capture is a valid pcap). */
  finish(): void {
    this.writer.flush();
  }

  /** False when this batch is skipped (full, or the reader is behind). */
  private begin(n: number): boolean {
    if (n === 0 || this.full) return false;
    if (this.o.backedUp()) {
      this.dropped += n;
      return false;
    }
    const t = this.nowMs();
    this.sec = Math.floor(t / 1000);
    this.usec = Math.floor((t - this.sec * 1000) * 1000);
    return true;
  }

  private record(buf: Buffer, off: number, len: number): void {
    this.writer.write(buf, off, len, this.sec, this.usec);
    this.frames++;
  }

  private end(): void {
    this.writer.flush();
    if (this.frames >= this.limit && !this.full) {
      this.full = true;
      this.o.onFull();
    }
  }
}
