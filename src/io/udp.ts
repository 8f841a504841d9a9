// The underlay UDP socket, owned by the native addon so that a whole batch
// moves per system call (recvmmsg / sendmmsg) and datagrams land in one slab
// that is reused, instead of a Buffer per datagram as with node:dgram.

import { native } from './native.js';
import { HEADROOM } from '../datapath/batch.js';
import type { DatagramBatch, SendList } from '../datapath/batch.js';
import type { PeerTable } from '../fdb/peers.js';
import type { DatagramPort } from './ports.js';

/** Largest UDP payload; a larger one cannot arrive. */
const MAX_DATAGRAM = 65535;

export interface UdpOptions {
  family: 4 | 6;
  address: string;
  port: number;
  batch: number;
  /** Largest datagram accepted; longer ones are counted as truncated. */
  maxLen?: number;
  reusePort?: boolean;
}

export class UdpSocket implements DatagramPort {
  readonly fd: number;
  readonly port: number;
  readonly family: 4 | 6;
  private readonly slab: Buffer;
  private readonly slot: number;
  private readonly maxLen: number;
  private readonly dstAddr: Uint32Array;
  private readonly dstPort: Uint16Array;
  private readonly errors = new Int32Array(1);
  /** Datagrams the kernel refused to send (buffer full, no route); read and reset by the loop. */
  sendErrors = 0;
  private poll: object | null = null;
  private closed = false;

  constructor(o: UdpOptions) {
    const s = native().udpOpen(o.family, o.address, o.port, { reusePort: o.reusePort ?? false, rcvbuf: 4 << 20, sndbuf: 4 << 20 });
    this.fd = s.fd;
    this.port = s.port;
    this.family = o.family;
    this.maxLen = Math.min(MAX_DATAGRAM, o.maxLen ?? MAX_DATAGRAM);
    this.slot = (HEADROOM + this.maxLen + 63) & ~63;
    this.slab = Buffer.alloc(this.slot * o.batch);
    this.dstAddr = new Uint32Array(o.batch * 4 * 8);
    this.dstPort = new Uint16Array(o.batch * 8);
  }

  recv(batch: DatagramBatch): number {
    const n = batch.capacity;
    for (let i = 0; i < n; i++) batch.off[i] = i * this.slot + HEADROOM;
    batch.buf = this.slab;
    const got = native().udpRecv(this.fd, this.slab, batch.off, batch.len, this.maxLen, batch.srcAddr, batch.srcPort, n);
    batch.count = got;
    return got;
  }

  send(list: SendList, peers: PeerTable, slab: Buffer): number {
    const n = list.count;
    if (n === 0) return 0;
    const addr = this.dstAddr, port = this.dstPort;
    // Resolve peer ids to addresses, in chunks the preallocated arrays hold.
    let sent = 0;
    const chunk = port.length;
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      for (let j = 0; j < m; j++) {
        const p = list.peer[start + j];
        const a = j * 4;
        addr[a] = peers.word(p, 0); addr[a + 1] = peers.word(p, 1);
        addr[a + 2] = peers.word(p, 2); addr[a + 3] = peers.word(p, 3);
        port[j] = peers.port(p);
      }
      this.errors[0] = 0;
      const whole = start === 0 && m === n;
      const offs = whole ? list.off : list.off.subarray(start, start + m);
      const lens = whole ? list.len : list.len.subarray(start, start + m);
      sent += native().udpSend(this.fd, slab, offs, lens, addr, port, m, this.errors);
      this.sendErrors += this.errors[0];
    }
    return sent;
  }

  onReadable(cb: (err?: Error) => void): void {
    this.poll = native().pollStart(this.fd, cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) native().pollStop(this.poll);
    native().close(this.fd);
  }
}
