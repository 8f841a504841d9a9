// The two I/O contracts the forwarding loop needs. Both move whole batches
// per call and never allocate per packet. The live implementations are
// tap.ts and udp.ts (native system calls); pcap-ports.ts serves `weft replay`
// (a capture in, a capture out); test/helpers/memory-ports.ts has in-memory
// twins for tests that need no root.

import type { DatagramBatch, FrameBatch, SendList } from './batch.js';
import type { PeerTable } from '../fdb/peers.js';

/** A TAP-like device: Ethernet frames in and out. */
export interface FramePort {
  /**
   * Fills `batch` (its slab, offsets and lengths) with up to its capacity of
   * frames, each with HEADROOM bytes free in front. Returns the count; 0 when
   * nothing is waiting. The slab is the port's own and is reused by the next read.
   */
  read(batch: FrameBatch): number;
  /**
   * Writes `batch`'s frames. Each frame must have VNET_HDR_LEN bytes in front
   * of it that the port may overwrite. Returns how many were accepted.
   */
  write(batch: FrameBatch): number;
  /** Calls `cb` whenever frames may be waiting (level-triggered), or once with an error when the device fails. */
  onReadable(cb: (err?: Error) => void): void;
  /**
   * Stops and restarts the readiness callbacks; what arrives meanwhile waits
   * in the kernel's queue. For a handover (persist/), which pauses between
   * batches. Optional: a port that cannot pause (replay's) leaves them out.
   */
  pauseReading?(): void;
  resumeReading?(): void;
  close(): void;
}

/** A UDP socket: VXLAN datagrams in and out. */
export interface DatagramPort {
  /** Fills `batch` with up to its capacity of datagrams and their sources; returns the count. */
  recv(batch: DatagramBatch): number;
  /** Sends every entry of `list` to its peer; returns how many the kernel took. */
  send(list: SendList, peers: PeerTable, slab: Buffer): number;
  onReadable(cb: (err?: Error) => void): void;
  /** As FramePort's. */
  pauseReading?(): void;
  resumeReading?(): void;
  close(): void;
}
