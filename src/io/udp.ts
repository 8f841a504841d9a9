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

import { native } from './native.js';
import { UDP_PAYLOAD_MAX } from '../wire/vxlan.js';
import { PolledFd } from './polled-fd.js';
import { HEADROOM } from './batch.js';
import type { DatagramBatch, SendList } from './batch.js';
import type { PeerTable } from '../fdb/peers.js';
import type { DatagramPort } from './ports.js';

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
  /** A socket openUdp opened already (in another thread of this process): adopt its fd instead of opening one. */
  opened?: OpenedUdp;
}

/** An open UDP socket and what the kernel granted it: what a worker needs to adopt it. */
export interface OpenedUdp { fd: number; port: number; gso: boolean; gro: boolean }

/** Opens and binds the socket (8 MiB buffers) and turns on GSO/GRO where the kernel has them. */
export function openUdp(o: Pick<UdpOptions, 'family' | 'address' | 'port' | 'reusePort' | 'offload'>): OpenedUdp {
  const n = native();
  const s = n.udpOpen(o.family, o.address, o.port, { reusePort: o.reusePort ?? false, rcvbuf: 8 << 20, sndbuf: 8 << 20 });
  const want = o.offload !== false;
  return { fd: s.fd, port: s.port, gso: want && n.udpGsoSupported(s.fd), gro: want && n.udpSetGro(s.fd, true) };
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

  constructor(o: UdpOptions) {
    const s = o.opened ?? openUdp(o);
    this.fd = s.fd;
    this.watch = new PolledFd(this.fd);
    this.port = s.port;
    this.family = o.family;
    this.gso = s.gso;
    this.gro = s.gro;
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
    for (let i = 0; i < this.msgMax; i++) this.roffs[i] = i * this.slot + HEADROOM;
    const sendMax = o.batch * 8;
    this.soffs = new Int32Array(sendMax);
    this.slens = new Int32Array(sendMax);
    this.ssegs = new Int32Array(sendMax);
    this.dstAddr = new Uint32Array(sendMax * 4);
    this.dstPort = new Uint16Array(sendMax);
    this.poffs = new Int32Array(this.gso ? sendMax * 2 : 0);
    this.plens = new Int32Array(this.gso ? sendMax * 2 : 0);
    this.pstart = new Int32Array(this.gso ? sendMax + 1 : 0);
  }

  recv(batch: DatagramBatch): number {
    const n = native();
    batch.buf = this.slab;
    const got = this.gro
      ? n.udpRecv(this.fd, this.slab, this.roffs, this.rlens, this.maxLen, this.raddr, this.rport, this.msgMax, this.rsegs)
      : n.udpRecv(this.fd, this.slab, this.roffs, this.rlens, this.maxLen, this.raddr, this.rport, this.msgMax);
    let k = 0;
    for (let i = 0; i < got; i++) {
      const off = this.roffs[i], len = this.rlens[i];
      const seg = this.gro ? this.rsegs[i] : 0;
      const a0 = this.raddr[i * 4], a1 = this.raddr[i * 4 + 1], a2 = this.raddr[i * 4 + 2], a3 = this.raddr[i * 4 + 3];
      const port = this.rport[i];
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
        k++;
        if (len <= 0) break;
      }
      if (seg > 0 && len > seg) this.groDatagrams += Math.ceil(len / seg);
    }
    batch.count = k;
    return k;
  }

  send(list: SendList, peers: PeerTable, slab: Buffer): number {
    return this.gso ? this.sendGso(list, peers, slab) : this.sendEach(list, peers, slab);
  }

  /**
   * Groups runs of equal-length datagrams to one peer (only the last may be
   * shorter) into UDP_SEGMENT messages, gathered from where the datagrams
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
  private sendGso(list: SendList, peers: PeerTable, slab: Buffer): number {
    const n = list.count;
    let sent = 0, m = 0, p = 0, j = 0;
    this.pstart[0] = 0;
    while (j < n) {
      // The run one UDP_SEGMENT message can carry: one peer, equal lengths
      // (only the last may be shorter), within the kernel's limits.
      const peer = list.peer[j], seg = list.len[j];
      let total = seg, k = j + 1;
      while (k < n && k - j < GSO_MAX_SEGS && list.peer[k] === peer && list.len[k] <= seg && total + list.len[k] <= GSO_MAX_BYTES) {
        total += list.len[k++];
        if (list.len[k - 1] < seg) break;
      }
      const count = k - j;
      if (m === this.soffs.length || p + 2 * count > this.poffs.length) {
        const r = this.flushGso(slab, m);
        sent += r.sent;
        if (r.short) return sent;
        m = 0; p = 0;
      }
      for (let q = j; q < k; q++) {
        const tail = list.tailLen[q];
        this.poffs[p] = list.off[q];
        this.plens[p++] = list.len[q] - tail;
        if (tail > 0) { this.poffs[p] = list.tailOff[q]; this.plens[p++] = tail; }
      }
      this.slens[m] = total;
      this.ssegs[m] = count > 1 ? seg : 0;
      this.setDst(m, peers, peer);
      this.pstart[++m] = p;
      j = k;
    }
    if (m > 0) sent += this.flushGso(slab, m).sent;
    return sent;
  }

  /** One message per datagram. */
  private sendEach(list: SendList, peers: PeerTable, slab: Buffer): number {
    const n = list.count;
    let sent = 0;
    for (let start = 0; start < n; start += this.soffs.length) {
      const m = Math.min(this.soffs.length, n - start);
      for (let j = 0; j < m; j++) {
        this.soffs[j] = list.off[start + j];
        this.slens[j] = list.len[start + j];
        this.setDst(j, peers, list.peer[start + j]);
      }
      this.errors[0] = 0;
      sent += native().udpSend(this.fd, this.family, slab, this.soffs, this.slens, this.dstAddr, this.dstPort, m, this.errors);
    }
    return sent;
  }

  /** Sends the m pending messages gathered from pieces of `buf`; `short` when the socket took fewer. */
  private flushGso(buf: Buffer, m: number): { sent: number; short: boolean } {
    this.errors[0] = 0;
    const ok = native().udpSendGsoV(this.fd, this.family, buf, this.poffs, this.plens, this.pstart, this.ssegs, this.dstAddr, this.dstPort, m, this.errors);
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

  close(): void { this.watch.close(); }
}
