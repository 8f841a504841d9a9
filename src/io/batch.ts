// Batch containers: many packets in one slab, described by parallel typed
// arrays. Every data-path call takes and fills these, so one call moves many
// packets and nothing is allocated per packet.
//
// Ownership: a batch's slab belongs to whoever filled it until the call that
// consumes it returns. Views handed on (offsets into the slab) are valid only
// until the slab is refilled. No stage keeps a reference past its call.

/** Bytes reserved in front of every frame read from the TAP: room for the
 * VXLAN header written in place (8) and, for replay's pcap socket (pcap-ports.ts), the outer
 * Ethernet + IPv6 + UDP headers (14 + 40 + 8). Rounded up to keep the frame
 * 8-byte aligned. */
export const HEADROOM = 72;

/**
 * Ethernet frames in a slab, each at `off[i]` for `len[i]` bytes — or, for a
 * segment cut from a TAP super-frame for a gathering send, its last
 * `tailLen[i]` bytes (the payload) at `tailOff[i]`, where the read left them,
 * and only the `len[i] - tailLen[i]` bytes of headers at `off[i]`. The data
 * path reads headers only; whoever needs a frame whole uses copyFrame.
 */
export class FrameBatch {
  buf: Buffer;
  count = 0;
  readonly capacity: number;
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly tailOff: Int32Array;
  readonly tailLen: Int32Array;
  /** For decap output: the VNI each frame arrived on. */
  readonly vni: Int32Array;
  /** For decap output: the index of the datagram each frame came from. */
  readonly from: Int32Array;
  /**
   * 1: frame i is a later segment of the super-frame frame i − 1 was cut
   * from (tap-read.ts), so its headers are frame i − 1's but for lengths,
   * IP ID, sequence number, flags and checksums, and it is no longer. Encap
   * carries such a frame the way it carried the one before.
   */
  readonly follows: Uint8Array;

  constructor(capacity: number, buf: Buffer = Buffer.alloc(0)) {
    this.capacity = capacity;
    this.buf = buf;
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
    this.tailOff = new Int32Array(capacity);
    this.tailLen = new Int32Array(capacity);
    this.vni = new Int32Array(capacity);
    this.from = new Int32Array(capacity);
    this.follows = new Uint8Array(capacity);
  }

  push(off: number, len: number, vni = 0, from = 0): void {
    const i = this.count++;
    this.off[i] = off;
    this.len[i] = len;
    this.tailLen[i] = 0;
    this.vni[i] = vni;
    this.from[i] = from;
    this.follows[i] = 0;
  }

  /** A frame of `len` bytes whose last `tailLen` sit at `tailOff`. */
  pushSplit(off: number, len: number, tailOff: number, tailLen: number): void {
    const i = this.count++;
    this.off[i] = off;
    this.len[i] = len;
    this.tailOff[i] = tailOff;
    this.tailLen[i] = tailLen;
    this.vni[i] = 0;
    this.from[i] = 0;
    this.follows[i] = 0;
  }
}

/** Copies frame i of `f` whole (headers, then its tail if it has one) to dst at `at`; returns its length. */
export function copyFrame(f: FrameBatch, i: number, dst: Buffer, at: number): number {
  const off = f.off[i], len = f.len[i], tail = f.tailLen[i];
  f.buf.copy(dst, at, off, off + len - tail);
  if (tail > 0) f.buf.copy(dst, at + len - tail, f.tailOff[i], f.tailOff[i] + tail);
  return len;
}

/**
 * UDP payloads (VXLAN datagrams) in a slab, with each datagram's underlay
 * source. The address is four 32-bit words, IPv4 mapped as ::ffff:a.b.c.d
 * (the same form the peer table keys on), so nothing is parsed into strings.
 */
export class DatagramBatch {
  buf: Buffer;
  count = 0;
  readonly capacity: number;
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly srcAddr: Uint32Array;
  readonly srcPort: Uint16Array;
  /** The outer IP header's ECN field (RFC 3168 §5), where the port reads it; 0 (Not-ECT) otherwise. */
  readonly ecn: Uint8Array;
  /**
   * 1: datagram i was cut from the same coalesced (GRO) message as datagram
   * i − 1, so it has the same source and outer ECN field. Decap takes such
   * a datagram as it took the one before when their VXLAN header and inner
   * source MAC match. A port that cuts no messages leaves it 0.
   */
  readonly follows: Uint8Array;

  constructor(capacity: number, buf: Buffer = Buffer.alloc(0)) {
    this.capacity = capacity;
    this.buf = buf;
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
    this.srcAddr = new Uint32Array(capacity * 4);
    this.srcPort = new Uint16Array(capacity);
    this.ecn = new Uint8Array(capacity);
    this.follows = new Uint8Array(capacity);
  }
}

/**
 * The source ports Linux's vxlan device picks from by default: its local
 * port range (net.ipv4.ip_local_port_range, 32768–60999 unless changed).
 */
export const SRC_PORT_MIN = 32768;
export const SRC_PORT_MAX = 60999;

/** Too-big frames a SendList remembers per batch: more than the ICMP rate limit lets through in a burst. */
export const TOO_BIG_PER_BATCH = 16;

/**
 * What encap produces: datagrams to send, each a view (`off`, `len`) of a
 * VXLAN payload in the frames' slab and the peer id it goes to. A flooded
 * frame appears once per peer, all entries sharing the same bytes.
 */
export class SendList {
  count = 0;
  readonly capacity: number;
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly peer: Int32Array;
  /**
   * UDP source port chosen from the inner flow (RFC 7348 §5), within
   * [srcPortMin, srcPortMax]; a port that sends from fewer sockets than
   * that (udp.ts) writes the port each entry left from back here.
   */
  readonly srcPort: Uint16Array;
  srcPortMin = SRC_PORT_MIN;
  srcPortMax = SRC_PORT_MAX;
  /** The outer ECN field for each entry (RFC 6040 §4.1: the inner one's copy). */
  readonly ecn: Uint8Array;
  /** Index of the frame in the input batch each entry came from. */
  readonly from: Int32Array;
  /** The frame's tail (FrameBatch): the datagram's last `tailLen` bytes sit at `tailOff`. */
  readonly tailOff: Int32Array;
  readonly tailLen: Int32Array;
  /** Whether encap should fill `srcPort`. A socket bound to one port sends
   * from that port whatever is asked, so the forwarder leaves this off and
   * saves the hash unless told otherwise (ForwarderOptions.flowSourcePorts:
   * replay's pcap socket writes the port). */
  wantSrcPort = true;
  /**
   * Frames encap dropped as larger than the VNI's MTU allows (tx_drop_too_big),
   * by index in the input batch, for answerTooBig (pmtu.ts); at most
   * TOO_BIG_PER_BATCH a batch, the rest only counted.
   */
  readonly tooBig = new Int32Array(TOO_BIG_PER_BATCH);
  tooBigCount = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.from = new Int32Array(capacity);
    this.tailOff = new Int32Array(capacity);
    this.tailLen = new Int32Array(capacity);
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
    this.peer = new Int32Array(capacity);
    this.srcPort = new Uint16Array(capacity);
    this.ecn = new Uint8Array(capacity);
  }
}
