// The sockets weft sends from when each inner flow leaves from its own UDP
// source port, as Linux's vxlan device does (RFC 7348 §5).
//
// Linux sets a UDP datagram's source port from the socket it is sent on
// and from nothing else: no control message names one (IP_PKTINFO chooses
// the source address only, IP_FREEBIND and IP_TRANSPARENT what may be
// bound). Short of a raw socket (CAP_NET_RAW, no UDP GSO, weft's own
// checksums and fragmentation), sending from many ports means many sockets.
// So: SLOTS sockets at most, each opened the first time a flow hashed to it
// is sent, bound to a port of the range and never read; the flow's port
// from the hash (flowhash.ts, within the range) picks its slot, port −
// min modulo the slot count, so the same flow always leaves from the same
// socket and is never reordered. With a range no wider than SLOTS (a
// small --src-port-range), every slot's port is the hash's own.
//
// A slot tries the ports min + slot, + SLOTS, + 2·SLOTS, … of the range (a
// few, the first free one wins: another program may hold a port); if none
// is free, its flows leave from the bound VXLAN socket, counted in
// `fallbacks`. Nothing here is on the per-packet path but slotOf().

import { native } from './native.js';

/** Most sockets weft sends from: enough for ECMP and RSS to spread flows (64 paths, 64 queues), few enough to cost nothing. */
export const SRC_PORT_SLOTS = 64;
/** Ports a slot tries before it gives up and sends from the VXLAN socket. */
const BIND_TRIES = 8;
/** Receive buffer of a send-only socket: nothing is read from it, so the least the kernel allows. */
const RCVBUF_MIN = 1;

export interface SrcPortRange { min: number; max: number }

export class SourcePorts {
  readonly min: number;
  readonly max: number;
  /** Slots in use: SRC_PORT_SLOTS, or the range's width when that is smaller. */
  readonly slots: number;
  /** Per slot: its socket (-1: not opened yet; -2: no port was free, the VXLAN socket sends) and bound port. */
  readonly fds: Int32Array;
  readonly ports: Uint16Array;
  /** Slots that found no free port, and so send from the VXLAN socket. */
  fallbacks = 0;
  opened = 0;

  constructor(readonly family: 4 | 6, readonly address: string, range: SrcPortRange, private readonly sndbuf: number,
    /** The bound VXLAN socket and its port: the fallback. */
    private readonly mainFd: number, private readonly mainPort: number) {
    this.min = range.min; this.max = range.max;
    this.slots = Math.min(SRC_PORT_SLOTS, range.max - range.min + 1);
    this.fds = new Int32Array(this.slots).fill(-1);
    this.ports = new Uint16Array(this.slots);
  }

  /** The slot of a flow whose hashed port is `port` (within the range; one below it, e.g. 0 for "none chosen", is slot 0). */
  slotOf(port: number): number {
    const d = port - this.min;
    return d > 0 ? d % this.slots : 0;
  }

  /** The socket slot `s` sends from, opened on first use. */
  fd(s: number): number {
    const fd = this.fds[s];
    return fd >= 0 ? fd : fd === -1 ? this.open(s) : this.mainFd;
  }

  /** The source port slot `s`'s datagrams leave from (after fd(s)). */
  port(s: number): number {
    return this.fds[s] >= 0 ? this.ports[s] : this.mainPort;
  }

  private open(s: number): number {
    const n = native();
    for (let k = 0, p = this.min + s; k < BIND_TRIES && p <= this.max; k++, p += this.slots) {
      try {
        const r = n.udpOpen(this.family, this.address, p, { rcvbuf: RCVBUF_MIN, sndbuf: this.sndbuf });
        this.fds[s] = r.fd;
        this.ports[s] = r.port;
        this.opened++;
        return r.fd;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    this.fds[s] = -2;
    this.fallbacks++;
    return this.mainFd;
  }

  close(): void {
    const n = native();
    for (let s = 0; s < this.slots; s++) {
      if (this.fds[s] >= 0) n.close(this.fds[s]);
      this.fds[s] = -1;
    }
  }
}
