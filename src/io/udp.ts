// The underlay UDP socket, owned by the native addon so that a whole batch
// moves per system call (recvmmsg / sendmmsg) and datagrams land in one slab
// that is reused, instead of a Buffer per datagram as with node:dgram.
//
// With offloads (the default where the kernel has them):
//   send: consecutive send-list entries to the same peer with equal
//         lengths (what TSO segmentation plus encap produce, or a burst of
//         one flow's small packets) go out as ONE message with UDP_SEGMENT,
//         gathered by iovecs from where each datagram's pieces lie: the
//         kernel copies them once, carries them as one 64 KiB unit as far
//         as it can and cuts it into datagrams at the last moment (UDP GSO).
//   recv: UDP_GRO lets the kernel hand over many same-size datagrams from
//         one sender as one message and the size to cut it by; recv() cuts
//         it back into datagram entries, so decap sees ordinary datagrams.
// Without them, every datagram is its own message (still batched).
//
// Per-flow source ports (srcPorts, src-ports.ts): the send list is grouped
// by the socket each entry's flow leaves from (a stable counting sort, so a
// flow's datagrams keep their order), one sendmmsg per socket in use; GSO
// runs form within a group. ECN: each message carries its outer ECN field
// (an IP_TOS / IPV6_TCLASS control message when not 0), so a run breaks
// where it changes; recv reads each message's outer TOS (IP_RECVTOS) into
// the batch, for decap's RFC 6040 rules.

import { native } from './native.js';
import { UDP_PAYLOAD_MAX } from '../wire/vxlan.js';
import { PolledFd } from './polled-fd.js';
import { HEADROOM } from './batch.js';
import type { DatagramBatch, SendList } from './batch.js';
import type { PeerTable } from '../fdb/peers.js';
import type { DatagramPort } from './ports.js';
import { SourcePorts, SRC_PORT_SLOTS, type SrcPortRange } from './src-ports.js';

/** Largest UDP payload; a larger one cannot arrive. */
const MAX_DATAGRAM = 65535;
/** The kernel's limit on segments in one UDP GSO send (UDP_MAX_SEGMENTS). */
const GSO_MAX_SEGS = 64;
/** Largest GSO message: the UDP length field's limit less IPv6 + UDP headers. */
const GSO_MAX_BYTES = UDP_PAYLOAD_MAX;

/** How many datagrams of `len` bytes one UDP GSO send can carry. */
export function datagramsPerSend(len: number): number {
  return Math.max(1, Math.min(GSO_MAX_SEGS, Math.floor(GSO_MAX_BYTES / len)));
}

const SNDBUF = 8 << 20;

export interface UdpOptions {
  family: 4 | 6;
  address: string;
  port: number;
  /** Datagrams per batch the data path handles. */
  batch: number;
  /** Largest datagram accepted; longer ones are counted as truncated. */
  maxLen?: number;
  reusePort?: boolean;
  /** Use UDP GSO/GRO when the kernel has them (default true). */
  offload?: boolean;
  /**
   * A socket already bound to `address`:`port` (handed over by the weft
   * this one replaces) to use instead of opening one: nothing is re-bound,
   * so no datagram queued on it is lost.
   */
  adopt?: number;
  /**
   * Send each flow from a port of this range (SendList.srcPort picks it);
   * default: all from `port`. Each UdpSocket binds its own pool, so a
   * worker's pool never shares a port with another's.
   */
  srcPorts?: SrcPortRange;
  /** A socket openUdpFd opened already (in another thread of this process): use its fd instead of opening one. */
  opened?: OpenedUdp;
}

/** An open UDP socket and what the kernel granted it: what a worker needs to take it over. */
export interface OpenedUdp { fd: number; port: number; gso: boolean; gro: boolean }

/** Opens and binds the socket (or takes `adopt`'s fd): 8 MiB buffers, GSO/GRO where the kernel has them, the outer TOS read on receive. */
export function openUdpFd(o: Pick<UdpOptions, 'family' | 'address' | 'port' | 'reusePort' | 'offload' | 'adopt'>): OpenedUdp {
  const n = native();
  const s = o.adopt !== undefined ? { fd: o.adopt, port: o.port }
    : n.udpOpen(o.family, o.address, o.port, { reusePort: o.reusePort ?? false, rcvbuf: 8 << 20, sndbuf: SNDBUF });
  const want = o.offload !== false;
  const gso = want && n.udpGsoSupported(s.fd), gro = want && n.udpSetGro(s.fd, true);
  n.udpSetRecvTos(s.fd, o.family);
  return { fd: s.fd, port: s.port, gso, gro };
}

export class UdpSocket implements DatagramPort {
  readonly fd: number;
  private readonly watch: PolledFd;
  readonly port: number;
  readonly family: 4 | 6;
  /**
   * UDP_SEGMENT on send / UDP_GRO on receive, as the kernel allowed. GSO
   * sends are gathered, so with gso send lists may hold tails (a segment's
   * headers here, its payload where the TAP read left it).
   */
  readonly gso: boolean;
  readonly gro: boolean;
  /** Messages sent with UDP_SEGMENT, and datagrams they carried. */
  gsoMessages = 0;
  gsoDatagrams = 0;
  /** Coalesced messages received, and datagrams cut from them. */
  groMessages = 0;
  groDatagrams = 0;
  private readonly slab: Buffer;
  private readonly slot: number;
  private readonly maxLen: number;
  private readonly msgMax: number;
  private readonly roffs: Int32Array;
  private readonly rlens: Int32Array;
  private readonly rsegs: Int32Array;
  private readonly raddr: Uint32Array;
  private readonly rport: Uint16Array;
  private readonly soffs: Int32Array;
  private readonly slens: Int32Array;
  private readonly ssegs: Int32Array;
  private readonly dstAddr: Uint32Array;
  private readonly dstPort: Uint16Array;
  private readonly errors = new Int32Array(1);
  /** Gathered sends: pieces (offset, length) and where each message's start. */
  private readonly poffs: Int32Array;
  private readonly plens: Int32Array;
  private readonly pstart: Int32Array;
  private readonly flushResult = { sent: 0, short: false };
  /** The sockets flows leave from; null: all from this one. */
  readonly srcPorts: SourcePorts | null;
  /** Send-list indices grouped by source socket, and the counting sort's counts. */
  private order: Int32Array;
  private readonly slotEnd = new Int32Array(SRC_PORT_SLOTS + 1);
  /** Outer TOS byte per message sent, per message received. */
  private readonly stos: Uint8Array;
  private readonly rtos: Uint8Array;

  constructor(o: UdpOptions) {
    const s = o.opened ?? openUdpFd(o);
    this.fd = s.fd;
    this.watch = new PolledFd(this.fd);
    this.port = s.port;
    this.family = o.family;
    this.gso = s.gso;
    this.gro = s.gro;
    this.srcPorts = o.srcPorts ? new SourcePorts(o.family, o.address, o.srcPorts, SNDBUF, this.fd, this.port) : null;
    // With GRO a message holds up to 64 KiB of datagrams; read few enough
    // messages that the datagrams cut from them fit the batch.
    this.maxLen = this.gro ? MAX_DATAGRAM : Math.min(MAX_DATAGRAM, o.maxLen ?? MAX_DATAGRAM);
    this.msgMax = this.gro ? Math.max(1, Math.floor(o.batch / GSO_MAX_SEGS)) : o.batch;
    this.slot = (HEADROOM + this.maxLen + 63) & ~63;
    this.slab = Buffer.alloc(this.slot * this.msgMax);
    this.roffs = new Int32Array(this.msgMax);
    this.rlens = new Int32Array(this.msgMax);
    this.rsegs = new Int32Array(this.msgMax);
    this.raddr = new Uint32Array(this.msgMax * 4);
    this.rport = new Uint16Array(this.msgMax);
    this.rtos = new Uint8Array(this.msgMax);
    for (let i = 0; i < this.msgMax; i++) this.roffs[i] = i * this.slot + HEADROOM;
    const sendMax = o.batch * 8;
    this.soffs = new Int32Array(sendMax);
    this.slens = new Int32Array(sendMax);
    this.ssegs = new Int32Array(sendMax);
    this.dstAddr = new Uint32Array(sendMax * 4);
    this.dstPort = new Uint16Array(sendMax);
    this.stos = new Uint8Array(sendMax);
    this.order = new Int32Array(sendMax);
    this.poffs = new Int32Array(this.gso ? sendMax * 2 : 0);
    this.plens = new Int32Array(this.gso ? sendMax * 2 : 0);
    this.pstart = new Int32Array(this.gso ? sendMax + 1 : 0);
  }

  recv(batch: DatagramBatch): number {
    const n = native();
    batch.buf = this.slab;
    const got = this.gro
      ? n.udpRecv(this.fd, this.slab, this.roffs, this.rlens, this.maxLen, this.raddr, this.rport, this.msgMax, this.rsegs, this.rtos)
      : n.udpRecv(this.fd, this.slab, this.roffs, this.rlens, this.maxLen, this.raddr, this.rport, this.msgMax, undefined, this.rtos);
    let k = 0;
    for (let i = 0; i < got; i++) {
      const off = this.roffs[i], len = this.rlens[i];
      const seg = this.gro ? this.rsegs[i] : 0;
      const a0 = this.raddr[i * 4], a1 = this.raddr[i * 4 + 1], a2 = this.raddr[i * 4 + 2], a3 = this.raddr[i * 4 + 3];
      const port = this.rport[i], ecn = this.rtos[i] & 3;
      if (seg > 0 && len > seg) this.groMessages++;
      // A coalesced message is datagrams of `seg` bytes back to back, the last shorter.
      const step = seg > 0 && len > seg ? seg : len;
      for (let at = 0; at < len || (len <= 0 && at === 0); at += Math.max(step, 1)) {
        if (k === batch.capacity) break;
        batch.off[k] = off + at;
        batch.len[k] = len <= 0 ? len : Math.min(step, len - at);
        const a = k * 4;
        batch.srcAddr[a] = a0; batch.srcAddr[a + 1] = a1; batch.srcAddr[a + 2] = a2; batch.srcAddr[a + 3] = a3;
        batch.srcPort[k] = port;
        batch.ecn[k] = ecn;
        batch.follows[k] = at > 0 ? 1 : 0;
        k++;
        if (len <= 0) break;
      }
      if (seg > 0 && len > seg) this.groDatagrams += Math.ceil(len / seg);
    }
    batch.count = k;
    return k;
  }

  send(list: SendList, peers: PeerTable, slab: Buffer): number {
    const sp = this.srcPorts, n = list.count;
    if (sp === null || n === 0) return this.sendFrom(this.fd, list, peers, slab, 0, n, null);
    const ports = list.srcPort;
    // The common case, one socket for the whole list (one flow, or flows
    // that share a slot): no sorting. Each entry's port becomes the one it
    // leaves from, for whoever looks at the list after (capture).
    const s0 = sp.slotOf(ports[0]);
    let j = 1;
    while (j < n && sp.slotOf(ports[j]) === s0) j++;
    if (j === n) {
      const fd = sp.fd(s0), port = sp.port(s0);
      for (let q = 0; q < n; q++) ports[q] = port;
      return this.sendFrom(fd, list, peers, slab, 0, n, null);
    }
    // Stable counting sort by slot: slotEnd[s] ends up where slot s's entries end.
    if (this.order.length < n) this.order = new Int32Array(list.capacity);
    const order = this.order, end = this.slotEnd, slots = sp.slots;
    end.fill(0);
    for (let q = 0; q < n; q++) end[sp.slotOf(ports[q]) + 1]++;
    for (let s = 0; s < slots; s++) end[s + 1] += end[s];
    for (let q = 0; q < n; q++) order[end[sp.slotOf(ports[q])]++] = q;
    let sent = 0, start = 0;
    for (let s = 0; s < slots; s++) {
      const stop = end[s];
      if (stop === start) continue;
      const fd = sp.fd(s), port = sp.port(s);
      for (let q = start; q < stop; q++) ports[order[q]] = port;
      sent += this.sendFrom(fd, list, peers, slab, start, stop, order);
      start = stop;
    }
    return sent;
  }

  /** Sends entries order[from..to) (or from..to with order null) of `list` on `fd`. */
  private sendFrom(fd: number, list: SendList, peers: PeerTable, slab: Buffer, from: number, to: number, order: Int32Array | null): number {
    return this.gso ? this.sendGso(fd, list, peers, slab, from, to, order) : this.sendEach(fd, list, peers, slab, from, to, order);
  }

  /**
   * Groups runs of equal-length datagrams to one peer with one ECN field
   * (only the last may be shorter) into UDP_SEGMENT messages, gathered from where the datagrams
   * lie: each is two pieces, its headers and its payload (one piece when it
   * has no tail), so nothing is copied here whatever the list holds — TSO
   * segments with their payloads left in the read slab, or a burst of one
   * flow's small packets scattered over it — and the kernel copies each
   * byte once. Messages go out in list order, so no flow is reordered.
   *
   * Returns datagrams sent; at a full socket the rest is dropped. When the
   * kernel refuses every message of a flush (no route: the underlay address
   * or link is gone) none of its datagrams went out; when it refuses only
   * some, which ones is not reported, and each refused message counts as
   * one lost datagram.
   */
  private sendGso(fd: number, list: SendList, peers: PeerTable, slab: Buffer, from: number, to: number, order: Int32Array | null): number {
    const ecns = list.ecn;
    let sent = 0, m = 0, p = 0, q = from;
    this.pstart[0] = 0;
    while (q < to) {
      // The run one UDP_SEGMENT message can carry: one peer, one ECN field,
      // equal lengths (only the last may be shorter), within the kernel's limits.
      const j = order === null ? q : order[q];
      const peer = list.peer[j], seg = list.len[j], ecn = ecns[j];
      let total = seg, r = q + 1;
      while (r < to && r - q < GSO_MAX_SEGS) {
        const k = order === null ? r : order[r];
        if (list.peer[k] !== peer || ecns[k] !== ecn || list.len[k] > seg || total + list.len[k] > GSO_MAX_BYTES) break;
        total += list.len[k];
        r++;
        if (list.len[k] < seg) break;
      }
      const count = r - q;
      if (m === this.soffs.length || p + 2 * count > this.poffs.length) {
        const res = this.flushGso(fd, slab, m);
        sent += res.sent;
        if (res.short) return sent;
        m = 0; p = 0;
      }
      for (let x = q; x < r; x++) {
        const k = order === null ? x : order[x];
        const tail = list.tailLen[k];
        this.poffs[p] = list.off[k];
        this.plens[p++] = list.len[k] - tail;
        if (tail > 0) { this.poffs[p] = list.tailOff[k]; this.plens[p++] = tail; }
      }
      this.slens[m] = total;
      this.ssegs[m] = count > 1 ? seg : 0;
      this.stos[m] = ecn;
      this.setDst(m, peers, peer);
      this.pstart[++m] = p;
      q = r;
    }
    if (m > 0) sent += this.flushGso(fd, slab, m).sent;
    return sent;
  }

  /** One message per datagram. */
  private sendEach(fd: number, list: SendList, peers: PeerTable, slab: Buffer, from: number, to: number, order: Int32Array | null): number {
    let sent = 0;
    for (let start = from; start < to; start += this.soffs.length) {
      const m = Math.min(this.soffs.length, to - start);
      for (let x = 0; x < m; x++) {
        const j = order === null ? start + x : order[start + x];
        this.soffs[x] = list.off[j];
        this.slens[x] = list.len[j];
        this.stos[x] = list.ecn[j];
        this.setDst(x, peers, list.peer[j]);
      }
      this.errors[0] = 0;
      sent += native().udpSend(fd, this.family, slab, this.soffs, this.slens, this.dstAddr, this.dstPort, m, this.errors, this.stos);
    }
    return sent;
  }

  /** Sends the m pending messages gathered from pieces of `buf`; `short` when the socket took fewer. */
  private flushGso(fd: number, buf: Buffer, m: number): { sent: number; short: boolean } {
    this.errors[0] = 0;
    const ok = native().udpSendGsoV(fd, this.family, buf, this.poffs, this.plens, this.pstart, this.ssegs, this.dstAddr, this.dstPort, m, this.errors, this.stos);
    const done = ok + this.errors[0];
    let sent = 0;
    for (let q = 0; q < done; q++) {
      const d = this.ssegs[q] > 0 ? Math.ceil(this.slens[q] / this.ssegs[q]) : 1;
      sent += d;
      if (d > 1) { this.gsoMessages++; this.gsoDatagrams += d; }
    }
    this.flushResult.sent = ok === 0 ? 0 : sent - this.errors[0];
    this.flushResult.short = done < m;
    return this.flushResult;
  }

  private setDst(j: number, peers: PeerTable, p: number): void {
    const a = j * 4;
    this.dstAddr[a] = peers.word(p, 0); this.dstAddr[a + 1] = peers.word(p, 1);
    this.dstAddr[a + 2] = peers.word(p, 2); this.dstAddr[a + 3] = peers.word(p, 3);
    this.dstPort[j] = peers.port(p);
  }

  onReadable(cb: (err?: Error) => void): void { this.watch.onReadable(cb); }

  pauseReading(): void { this.watch.pause(); }

  resumeReading(): void { this.watch.resume(); }

  close(): void {
    this.srcPorts?.close();
    this.watch.close();
  }
}
