// What the native addon's tests share (test/live/native-*.test.ts): device
// lookups with `ip`, packing frames into a slab as the addon takes them,
// and waiting on an fd with the addon's own watcher.

import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { native, type Native } from '../../src/io/native.js';
import { privateNetns } from './unshare.js';

export const WAIT_MS = 5000;

/** The addon, once this process is root in a fresh private network namespace (see privateNetns). */
export function inNetns(opts: { noIpv6?: boolean } = {}): Native {
  privateNetns(opts);
  return native();
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// Devices are looked up with `ip`, never in /sys/class/net: sysfs shows the
// namespace it was mounted in (the host's), not this process's.
export interface IpLink {
  ifname: string;
  address: string;
  linkinfo?: { info_kind: string; info_data?: { type: string; pi: boolean; vnet_hdr: boolean; multi_queue: boolean } };
}

/** The device `name` as `ip -d -j link show` describes it, or null. */
export function link(name: string): IpLink | null {
  try {
    return (JSON.parse(ip('-d', '-j', 'link', 'show', 'dev', name)) as IpLink[])[0];
  } catch {
    return null;
  }
}

export function linkExists(name: string): boolean {
  return link(name) !== null;
}

/** What `ip` reports of a tun device's flags. */
export function tunFlags(name: string): { type: string; pi: boolean; vnet_hdr: boolean; multi_queue: boolean } {
  const d = link(name)?.linkinfo?.info_data;
  assert.ok(d, `${name} is a tun device`);
  return { type: d.type, pi: d.pi, vnet_hdr: d.vnet_hdr, multi_queue: d.multi_queue };
}

export function macOf(dev: string): Buffer {
  return Buffer.from(link(dev)!.address.replace(/:/g, ''), 'hex');
}

/** Runs `fn` and returns what it threw (failing if nothing was thrown). */
export function thrown(fn: () => unknown): Error & { code?: string; syscall?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an exception, none was thrown');
}

/**
 * Calls `onReadable` from a pollStart watcher until it returns true; fails
 * after `ms`. The watcher is always stopped.
 */
export function whileReadable(fd: number, onReadable: () => boolean, ms = WAIT_MS): Promise<void> {
  const n = native();
  return new Promise((resolve, reject) => {
    let handle: object | null = null;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      if (handle) n.pollStop(handle);
      if (err) reject(err); else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`fd ${fd}: timed out after ${ms} ms`)), ms);
    handle = n.pollStart(fd, (err) => {
      if (err) return finish(err);
      try {
        if (onReadable()) finish();
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}

/** Frames or datagrams packed into one slab at odd offsets, as the addon takes them. */
export function pack(items: Buffer[], gap = 3): { slab: Buffer; offs: Int32Array; lens: Int32Array } {
  const offs = new Int32Array(items.length);
  const lens = new Int32Array(items.length);
  let at = gap;
  items.forEach((b, i) => { offs[i] = at; lens[i] = b.length; at += b.length + gap; });
  const slab = Buffer.alloc(at, 0xee);
  items.forEach((b, i) => b.copy(slab, offs[i]));
  return { slab, offs, lens };
}

/** Slots of `size` bytes for reads. */
export function slots(count: number, size: number): { slab: Buffer; offs: Int32Array; lens: Int32Array } {
  const offs = new Int32Array(count);
  for (let i = 0; i < count; i++) offs[i] = i * size;
  return { slab: Buffer.alloc(count * size), offs, lens: new Int32Array(count) };
}

export function v4(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

export const GSO_SEG = 1400;

/** `len` bytes that differ from datagram to datagram, so order shows. */
export function pattern(len: number, salt: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + (i >>> 8) * 7 + salt) & 0xff;
  return b;
}

/** `msg` cut as GSO cuts it: pieces of `seg` bytes, the last shorter. */
export function segments(msg: Buffer, seg: number): Buffer[] {
  if (seg <= 0 || seg >= msg.length) return [msg];
  const out: Buffer[] = [];
  for (let at = 0; at < msg.length; at += seg) out.push(msg.subarray(at, Math.min(at + seg, msg.length)));
  return out;
}

/**
 * Receives `want` messages (each slot `maxLen` bytes, segs read when
 * `withSegs`), checking their source port; returns copies and their segs.
 */
export async function recvMessages(n: Native, fd: number, want: number, maxLen: number, fromPort: number,
  withSegs: boolean): Promise<{ msgs: Buffer[]; segs: number[] }> {
  const BATCH = 64;
  const r = slots(BATCH, maxLen);
  const srcAddr = new Uint32Array(BATCH * 4);
  const srcPort = new Uint16Array(BATCH);
  const segs = new Int32Array(BATCH).fill(-7);
  const out = { msgs: [] as Buffer[], segs: [] as number[] };
  await whileReadable(fd, () => {
    const k = withSegs
      ? n.udpRecv(fd, r.slab, r.offs, r.lens, maxLen, srcAddr, srcPort, BATCH, segs)
      : n.udpRecv(fd, r.slab, r.offs, r.lens, maxLen, srcAddr, srcPort, BATCH);
    for (let i = 0; i < k; i++) {
      assert.ok(r.lens[i] >= 0, `message ${out.msgs.length} was truncated`);
      assert.is(srcPort[i], fromPort, `message ${out.msgs.length}: source port`);
      out.msgs.push(Buffer.from(r.slab.subarray(r.offs[i], r.offs[i] + r.lens[i])));
      out.segs.push(segs[i]);
    }
    return out.msgs.length >= want;
  });
  assert.is(out.msgs.length, want, 'message count');
  return out;
}

/** Destination arrays: every message to `words`:`port`. */
export function dests(count: number, words: number[], port: number): { addr: Uint32Array; port: Uint16Array } {
  const addr = new Uint32Array(4 * count);
  for (let i = 0; i < count; i++) addr.set(words, 4 * i);
  return { addr, port: new Uint16Array(count).fill(port) };
}

/** tapWritev with no pieces: frame i is the lens[i] bytes at slab[offs[i]]. */
export function writeFrames(n: Native, fd: number, slab: Buffer, offs: Int32Array, lens: Int32Array, count: number): number {
  return n.tapWritev(fd, slab, offs, lens, slab, new Int32Array(0), new Int32Array(0), new Int32Array(count + 1), count);
}

/** udpSendGsoV with one piece a message: message i is the lens[i] bytes at slab[offs[i]]. */
export function sendWhole(n: Native, fd: number, family: 4 | 6, slab: Buffer, offs: Int32Array, lens: Int32Array, segs: Int32Array,
  addr: Uint32Array, port: Uint16Array, count: number, errors: Int32Array): number {
  const pstart = Int32Array.from({ length: count + 1 }, (_, i) => i);
  return n.udpSendGsoV(fd, family, slab, offs, lens, pstart, segs, addr, port, count, errors);
}
