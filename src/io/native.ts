// weft's native addon (src/native): batched system calls for the TAP device
// and the UDP socket (with GSO out and GRO in), the Internet checksum, and a
// watcher that says when an fd is readable. It is
// built by `npm ci` (the package's install script runs node-gyp) and loaded
// on first use, so commands that need no device (`weft replay`, `--help`)
// run without it.
//
// The contract every batch call shares:
//
//   - Packets live in one caller-owned slab (a Buffer). Packet i is at
//     `offs[i]`; its length is in `lens[i]`. Reads get room for `maxLen`
//     bytes at each offset. The addon checks every offset and length against
//     the slab before any system call and throws a RangeError if one does
//     not fit; it never writes outside the slab.
//   - A call moves as much of the batch as the kernel takes without
//     blocking and returns the count. Nothing is allocated per packet.
//   - A system call that fails throws an Error with `code` (the errno's
//     name, 'EPERM'), `errno` (negative, as in Node's own errors), `syscall`
//     and a message "<what> failed: <strerror>"; tapOpen's and udpOpen's
//     messages are rewritten for the user (native-errors.ts).
//   - IP addresses are four 32-bit words in host byte order: IPv6 word by
//     word, IPv4 mapped as 0, 0, 0xffff, a.b.c.d (198.18.0.2 → 0xc6120002 in
//     word 3), the form the peer table keys on. Ports are plain numbers.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errnoError, tapNameProblem, tapOpenMessage, udpOpenMessage, type ErrnoError } from './native-errors.js';

/** A running watcher, as returned by pollStart. */
export type PollHandle = object;

export interface UdpOpenOptions {
  /** SO_REUSEPORT, so several sockets (or processes) share the port. */
  reusePort?: boolean;
  /** Receive buffer in bytes; forced past net.core.rmem_max when running as root. */
  rcvbuf?: number;
  /** Send buffer in bytes; forced past net.core.wmem_max when running as root. */
  sndbuf?: number;
}

export interface Native {
  /** tapOpen flag: a virtio-net header in front of every frame (IFF_VNET_HDR). */
  readonly TAP_VNET_HDR: number;
  /** tapOpen flag: one queue of a multi-queue TAP (IFF_MULTI_QUEUE); every open of the name with it adds a queue. */
  readonly TAP_MULTI_QUEUE: number;
  /** tapOpen flag: an L3 TUN device (IFF_TUN), bare IP packets, instead of a TAP. */
  readonly TAP_TUN: number;

  /** tapSetOffload bits (linux/if_tun.h): what weft can take in frames it
   * *reads* (partial checksums, TSO/UFO/USO super-frames), so the kernel
   * may hand it such frames instead of finishing them first. */
  readonly TUN_F_CSUM: number;
  readonly TUN_F_TSO4: number;
  readonly TUN_F_TSO6: number;
  readonly TUN_F_USO4: number;
  readonly TUN_F_USO6: number;

  /**
   * Opens the TAP `name` (created if missing; the empty string lets the
   * kernel pick tapN) in non-blocking mode, without packet information.
   * Returns the fd and the device's name. The device is not persistent: it
   * disappears when the last fd on it is closed.
   *
   * Errors: no /dev/net/tun (ENOENT); not root (EPERM); a name of more than
   * 15 characters or with '/', ':' or white space (EINVAL, syscall
   * 'tapOpen', checked before the kernel could cut the name short); the
   * name taken (EBUSY when a TAP of that name is in use, EINVAL when the
   * name belongs to another kind of device).
   */
  tapOpen(name: string, flags: number): { fd: number; name: string };

  /** TUNSETOFFLOAD with TUN_F_* bits; 0 turns every offload off. */
  tapSetOffload(fd: number, tunFlags: number): void;

  /** TUNSETVNETHDRSZ: the virtio-net header's size (10, or 12 with
   * num_buffers). Only meaningful with TAP_VNET_HDR. */
  tapSetVnetHdrSize(fd: number, size: number): void;

  /**
   * Reads up to `max` frames: frame i goes to slab[offs[i]…] with room for
   * `maxLen` bytes and `lens[i]` gets its length (with TAP_VNET_HDR the
   * virtio-net header comes first and counts in the length). Returns the
   * count, 0 when nothing is waiting. The kernel cuts a longer frame to
   * `maxLen` without saying so, so `maxLen` must cover the largest frame
   * the device can deliver (MTU + 14, + the header; 64 KiB with GSO
   * offloads); with TAP_VNET_HDR a `maxLen` below the header size is EINVAL.
   * An error after some frames ends the batch and is thrown by the next call.
   */
  tapRead(fd: number, slab: Buffer, offs: Int32Array, lens: Int32Array, max: number, maxLen: number): number;

  /**
   * Writes frames 0…count-1 with one writev each: frame i is `lens[i]`
   * bytes at head[offs[i]] (with TAP_VNET_HDR, starting with its virtio-net
   * header), then data pieces pstart[i]..pstart[i+1]-1 (poffs/plens into
   * `data`, at most 255 a frame; pstart[i] === pstart[i+1] for none).
   * Returns how many were written; the rest were not. It stops at EAGAIN,
   * or at a frame the kernel refuses (EINVAL: too short, a bad virtio-net
   * header), which throws when it is the first of the call: a caller that
   * wants to drop it and go on calls again with the arrays' subarray(1).
   */
  tapWritev(fd: number, head: Buffer, offs: Int32Array, lens: Int32Array, data: Buffer,
    poffs: Int32Array, plens: Int32Array, pstart: Int32Array, count: number): number;

  /**
   * Opens a non-blocking UDP socket of `family` bound to `address`:`port`
   * (port 0: any free port). Returns the fd and the bound port.
   *
   * Errors: EADDRINUSE (another socket has the port; both must set
   * reusePort to share it), EADDRNOTAVAIL (`address` is not this host's),
   * EINVAL (`address` does not parse as an address of `family`).
   */
  udpOpen(family: 4 | 6, address: string, port: number, opts: UdpOpenOptions): { fd: number; port: number };

  /**
   * recvmmsg: up to `max` datagrams. Datagram i goes to slab[offs[i]…] with
   * room for `maxLen` bytes; `lens[i]` gets its length, or -1 when it was
   * longer than `maxLen` (truncated: the caller counts and drops it), and
   * srcAddr[4i…4i+3] / srcPort[i] its source. Returns the count, 0 when
   * nothing is waiting.
   *
   * With `segs` (room for `max`), each message's control data is read too:
   * on a socket with udpSetGro(fd, true), message i may be several
   * datagrams of one flow coalesced by the kernel, and then segs[i] is
   * their size: datagrams of segs[i] bytes back to back, the last one
   * shorter or equal. segs[i] is 0 when message i is one datagram. A
   * coalesced message can hold up to 65535 bytes: give `maxLen` (and every
   * slot) that much, or it comes back truncated (-1). Without `segs` no
   * control data is read; only a GRO socket needs it. With `tos` (room for
   * `max`), tos[i] gets message i's outer IPv4 TOS or IPv6 traffic class
   * byte, on a socket given udpSetRecvTos (0 otherwise). The kernel's GRO
   * merges only datagrams whose TOS is equal, so one byte a message is exact.
   */
  udpRecv(fd: number, slab: Buffer, offs: Int32Array, lens: Int32Array, maxLen: number,
    srcAddr: Uint32Array, srcPort: Uint16Array, max: number, segs?: Int32Array, tos?: Uint8Array): number;

  /**
   * sendmmsg on a socket udpOpen opened with `family` (said here so no call
   * has to ask the socket): datagram i is `lens[i]` bytes at slab[offs[i]], to
   * dstAddr[4i…4i+3] / dstPort[i]. Sends in order and returns how many were
   * sent. A datagram the kernel refuses on its own account (ENETUNREACH,
   * EHOSTUNREACH, EMSGSIZE, EINVAL for port 0, EPERM from a firewall, an
   * IPv6 destination on an IPv4 socket…) is skipped, counted by adding 1 to
   * errors[0], and sending goes on. It stops early only when the socket
   * buffer is full (EAGAIN): then the datagrams from index
   * (returned + the rise in errors[0]) on were not tried. With `tos`,
   * datagram i leaves with outer IPv4 TOS / IPv6 traffic class tos[i]
   * (a per-message IP_TOS / IPV6_TCLASS; 0 sends none: the socket's own, 0).
   */
  udpSend(fd: number, family: 4 | 6, slab: Buffer, offs: Int32Array, lens: Int32Array,
    dstAddr: Uint32Array, dstPort: Uint16Array, count: number, errors: Int32Array, tos?: Uint8Array): number;

  /**
   * udpSend with UDP GSO and each message gathered from pieces: message k
   * is pieces pstart[k]..pstart[k+1]-1 (poffs/plens into the slab), 1 to
   * 128 of them. When 0 < segs[k] < its length, message k is handed to the
   * kernel whole (one trip through the stack) and leaves as datagrams of
   * segs[k] bytes, the last one shorter or equal, all to dstAddr[4k…] /
   * dstPort[k]; otherwise it is one datagram. The return value and
   * errors[0] count MESSAGES, with udpSend's rules. Besides udpSend's
   * refusals, the kernel refuses a GSO message of more than
   * UDP_MAX_SEGMENTS (64; 128 on recent kernels) segments or one whose
   * segment does not fit the path MTU (EINVAL), and one routed through
   * IPsec or a device that cannot offload UDP checksums (EIO): those are
   * skipped and counted too, so a caller that sees them can fall back to
   * udpSend. A message carries at most 65507 (IPv4) or 65527 (IPv6) bytes.
   * Throws RangeError when a segs[k] (k < count) is outside 0…65535, or an
   * array is shorter than `count` needs. Check udpGsoSupported first.
   * `tos` as udpSend's, per message.
   */
  udpSendGsoV(fd: number, family: 4 | 6, slab: Buffer, poffs: Int32Array, plens: Int32Array, pstart: Int32Array, segs: Int32Array,
    dstAddr: Uint32Array, dstPort: Uint16Array, count: number, errors: Int32Array, tos?: Uint8Array): number;

  /** Whether the kernel does UDP GSO (udpSendGsoV): Linux 4.18 and later.
   * Probes getsockopt(SOL_UDP, UDP_SEGMENT) on `fd`, a UDP socket. */
  udpGsoSupported(fd: number): boolean;

  /**
   * setsockopt(SOL_UDP, UDP_GRO): with `on`, the kernel may coalesce
   * datagrams of one flow into one message for this socket, and udpRecv
   * must then be given `segs` to know how to split them. Returns false when
   * the kernel does not know the option (before Linux 5.0), true when done.
   */
  udpSetGro(fd: number, on: boolean): boolean;

  /**
   * setsockopt IP_RECVTOS (and IPV6_RECVTCLASS on a `family` 6 socket), so
   * that udpRecv's `tos` reads each datagram's outer ECN (RFC 6040 decap).
   */
  udpSetRecvTos(fd: number, family: 4 | 6): void;

  /**
   * RFC 1071 one's-complement sum of the 16-bit big-endian words of
   * buf[off…off+len) (words counted from `off`, whatever its parity; an odd
   * last byte is the high byte of a zero-padded word, §4.1), plus `initial`
   * (a partial sum of up to 32 bits, as src/wire/checksum.ts makes them).
   * Returns the sum folded to 16 bits but NOT complemented, so it chains as
   * `initial` of the next call and `~x & 0xffff` is the checksum field;
   * equal to fold(sum16(buf, off, len, initial)). Throws RangeError when
   * the range does not fit in `buf` or `initial` is outside 0…2^32-1.
   * Worth it from a few hundred bytes: below that the call costs more than
   * the TypeScript loop.
   */
  csum(buf: Buffer, off: number, len: number, initial: number): number;
  /**
   * Cuts src[payOff, +payLen) into slices of `step`; slice k goes behind a
   * copy of the hdrLen bytes at hdrOff, at dst[dstOff + k * stride] (the
   * payload too unless copyPayload is false), and sums[k] gets its sum as
   * `csum` gives it. Returns the slice count. One call per super-frame.
   */
  csumCopySlices(src: Buffer, hdrOff: number, hdrLen: number, payOff: number, payLen: number, step: number,
    dst: Buffer, dstOff: number, stride: number, sums: Uint32Array, copyPayload?: boolean): number;
  /**
   * sums[i] = the sum (as `csum` gives it, initial 0) of the lens[i] bytes
   * at offs[i] of buf, for i < count; returns count. Throws RangeError when
   * an array is shorter than count or a range does not fit in buf. One call
   * per batch of frames.
   */
  csumRanges(buf: Buffer, offs: Int32Array, lens: Int32Array, count: number, sums: Uint32Array): number;

  /**
   * Calls `cb()` from the event loop whenever `fd` is readable (level-
   * triggered: again on the next turn if the fd was not drained). The
   * watcher keeps the process alive until pollStop. If watching fails (the
   * fd reports an error, e.g. its TAP device was deleted), `cb(err)` is
   * called once and watching stops; pollStop still releases it. An exception
   * thrown by `cb` goes to process 'uncaughtException'.
   */
  pollStart(fd: number, cb: (err?: Error) => void): PollHandle;

  /** Stops the watcher; `cb` is not called again. Idempotent. Call it before
   * closing the fd. */
  pollStop(handle: PollHandle): void;

  /** TUNSETPERSIST: on, the TAP stays when its last fd closes (and keeps its
   * addresses, routes and neighbours); off, it goes with its last fd. */
  tapSetPersist(fd: number, on: boolean): void;

  /**
   * Unix SOCK_SEQPACKET sockets (non-blocking, close-on-exec) for handing
   * descriptors to another process: unixListen binds and listens on `path`
   * (which must not exist), unixConnect connects to one, unixAccept returns
   * a connection waiting on a listening fd, or -1 when none is.
   */
  unixListen(path: string): number;
  unixConnect(path: string): number;
  unixAccept(fd: number): number;

  /** sendmsg: `data` as one message with fds[0…nfds-1] attached
   * (SCM_RIGHTS, at most 64). Returns the bytes sent. */
  fdsSend(fd: number, data: Buffer, fds: Int32Array, nfds: number): number;

  /**
   * recvmsg: one message into `buf`, the descriptors attached to it into
   * `fdsOut` (close-on-exec). Returns its length and the count of
   * descriptors, or null when none is waiting; len 0: the peer closed.
   * A message or descriptors that did not fit throw EMSGSIZE (and the
   * descriptors that came are closed).
   */
  fdsRecv(fd: number, buf: Buffer, fdsOut: Int32Array): { len: number; nfds: number } | null;

  /** One datagram `message` to the unix datagram socket `path` ('@' first:
   * abstract), as systemd's notification protocol wants ($NOTIFY_SOCKET). */
  notify(path: string, message: string): void;

  /** close(2). */
  close(fd: number): void;
}

/** Where node-gyp puts the addon, relative to the repository root. */
const ADDON = 'src/native/build/Release/weft_native.node';

/** The repository root: the nearest directory above this file that holds
 * src/native/binding.gyp. Works from dist/src/io/ (compiled) and src/io/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'src/native/binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
    dir = up;
  }
}

let loaded: Native | null = null;

/** The addon, loaded on first use. Throws when it has not been built. */
export function native(): Native {
  if (loaded) return loaded;
  const path = join(repoRoot(), ADDON);
  if (!existsSync(path)) {
    throw new Error("weft's native addon is not built: run npm ci (needs g++, make, python3)");
  }
  const require = createRequire(import.meta.url);
  let addon: Addon;
  try {
    addon = require(path) as Addon;
  } catch (e) {
    throw new Error(`weft's native addon (${path}) does not load: rebuild it with npm ci (needs g++, make, python3): ${(e as Error).message}`,
      { cause: e });
  }
  return loaded = withExplainedOpens(addon);
}

/** The addon as built: udpOpen takes its options as plain arguments. */
type Addon = Omit<Native, 'udpOpen'> & {
  udpOpen(family: number, address: string, port: number, reusePort: number, rcvbuf: number, sndbuf: number): { fd: number; port: number };
};

/** Rethrows `e` with the user's line in place of the addon's message, when there is one. */
function explained(e: unknown, message: string | null): never {
  if (message !== null) (e as ErrnoError).message = message;
  throw e;
}

/** The addon with tapOpen and udpOpen wrapped: names checked first, errors explained. Not on the hot path. */
function withExplainedOpens(addon: Addon): Native {
  return {
    ...addon,
    tapOpen(name, flags) {
      const problem = tapNameProblem(name);
      if (problem !== null) throw errnoError('EINVAL', 'tapOpen', problem);
      try { return addon.tapOpen(name, flags); } catch (e) { explained(e, tapOpenMessage(e as ErrnoError, name)); }
    },
    udpOpen(family, address, port, opts) {
      try {
        return addon.udpOpen(family, address, port, opts?.reusePort ? 1 : 0, opts?.rcvbuf ?? 0, opts?.sndbuf ?? 0);
      } catch (e) {
        explained(e, udpOpenMessage(e as ErrnoError, family, address, port));
      }
    },
  };
}
