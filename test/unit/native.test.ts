// The native addon against the real kernel: TAP devices and UDP sockets.
//
// Everything runs in a private network namespace that exists only for this
// process: the file re-executes itself under `unshare --net`, where only a
// down `lo` exists, so no device, address or route ever reaches the host's
// namespace, and whatever a failed test leaves behind vanishes with it.
//
//   this process (private netns)
//   ┌───────────────────────────────────────────────────────┐
//   │  lo: 127.0.0.1, ::1 ── UDP sockets (plain, GSO, GRO)   │
//   │                                                        │
//   │  wt0: 10.244.9.1/24 ── kernel stack answers ARP, ping  │
//   │   ║ TAP fd                                             │
//   │  test: plays the peer 10.244.9.2 (02:00:0a:f4:09:02)   │
//   │        with tapWrite, reads the answers with tapRead   │
//   └───────────────────────────────────────────────────────┘
//
// Needs root (TAP devices, namespaces) and iproute2; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { native, type Native } from '../../src/io/native.js';
import { sum16, fold, finish } from '../../src/wire/checksum.js';
import { requireRoot, requireTool } from '../helpers/require.js';

const IN_NETNS = 'WEFT_IN_UNSHARE';

// Re-run this file in a fresh network namespace; its uvu summary is this
// file's result. Without root there is no namespace: the tests then run
// here and each fails saying root is needed.
if (process.env[IN_NETNS] !== '1' && process.getuid?.() === 0) {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync('unshare', ['--net', '--', process.execPath, ...process.execArgv, self], {
    stdio: 'inherit',
    env: { ...process.env, [IN_NETNS]: '1', WEFT_PARENT_NETNS: readlinkSync('/proc/self/ns/net') },
  });
  if (r.error) console.error(`cannot run unshare: ${r.error.message}: install it with: apt-get install -y util-linux`);
  process.exit(r.status ?? 1);
}

const WAIT_MS = 5000;

const TAP = 'wt0';
const TAP_IP = '10.244.9.1';
const PEER_IP = '10.244.9.2';
const PEER_MAC = Buffer.from([0x02, 0x00, 0x0a, 0xf4, 0x09, 0x02]);
const VNET_HDR_LEN = 10;

// ---------------------------------------------------------------------------
// The namespace

let netnsReady = false;

/** Root, inside a private namespace, lo up, IPv6 off on new devices (their
 * router solicitations would only add noise to TAP reads). */
function inNetns(): Native {
  requireRoot();
  requireTool('ip', 'iproute2');
  if (process.env[IN_NETNS] !== '1') throw new Error('not in a private network namespace');
  if (!netnsReady) {
    // Refuse to touch a namespace that is not a fresh private one: another
    // than the parent's, holding nothing but lo.
    const names = (JSON.parse(ip('-j', 'link', 'show')) as IpLink[]).map((l) => l.ifname);
    if (readlinkSync('/proc/self/ns/net') === process.env.WEFT_PARENT_NETNS || names.join(' ') !== 'lo') {
      throw new Error(`${IN_NETNS}=1 is set but this is not a fresh private network namespace (links: ${names.join(' ')}): refusing to create devices`);
    }
    ip('link', 'set', 'lo', 'up');
    writeFileSync('/proc/sys/net/ipv6/conf/default/disable_ipv6', '1');
    netnsReady = true;
  }
  return native();
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// Devices are looked up with `ip`, never in /sys/class/net: sysfs shows the
// namespace it was mounted in (the host's), not this process's.
interface IpLink {
  ifname: string;
  address: string;
  linkinfo?: { info_kind: string; info_data?: { type: string; pi: boolean; vnet_hdr: boolean; multi_queue: boolean } };
}

/** The device `name` as `ip -d -j link show` describes it, or null. */
function link(name: string): IpLink | null {
  try {
    return (JSON.parse(ip('-d', '-j', 'link', 'show', 'dev', name)) as IpLink[])[0];
  } catch {
    return null;
  }
}

function linkExists(name: string): boolean {
  return link(name) !== null;
}

/** What `ip` reports of a tun device's flags. */
function tunFlags(name: string): { type: string; pi: boolean; vnet_hdr: boolean; multi_queue: boolean } {
  const d = link(name)?.linkinfo?.info_data;
  assert.ok(d, `${name} is a tun device`);
  return { type: d.type, pi: d.pi, vnet_hdr: d.vnet_hdr, multi_queue: d.multi_queue };
}

function macOf(dev: string): Buffer {
  return Buffer.from(link(dev)!.address.replace(/:/g, ''), 'hex');
}

/** Runs `fn` and returns what it threw (failing if nothing was thrown). */
function thrown(fn: () => unknown): Error & { code?: string; syscall?: string } {
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
function whileReadable(fd: number, onReadable: () => boolean, ms = WAIT_MS): Promise<void> {
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
function pack(items: Buffer[], gap = 3): { slab: Buffer; offs: Int32Array; lens: Int32Array } {
  const offs = new Int32Array(items.length);
  const lens = new Int32Array(items.length);
  let at = gap;
  items.forEach((b, i) => { offs[i] = at; lens[i] = b.length; at += b.length + gap; });
  const slab = Buffer.alloc(at, 0xee);
  items.forEach((b, i) => b.copy(slab, offs[i]));
  return { slab, offs, lens };
}

/** Slots of `size` bytes for reads. */
function slots(count: number, size: number): { slab: Buffer; offs: Int32Array; lens: Int32Array } {
  const offs = new Int32Array(count);
  for (let i = 0; i < count; i++) offs[i] = i * size;
  return { slab: Buffer.alloc(count * size), offs, lens: new Int32Array(count) };
}

// ---------------------------------------------------------------------------
// Frames the peer sends

function ipv4Bytes(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

function ethernet(dst: Buffer, type: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(14 + payload.length);
  dst.copy(f, 0);
  PEER_MAC.copy(f, 6);
  f.writeUInt16BE(type, 12);
  payload.copy(f, 14);
  return f;
}

/** "Who has 10.244.9.1? Tell 10.244.9.2", broadcast. */
function arpRequest(): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0);        // Ethernet
  a.writeUInt16BE(0x0800, 2);   // IPv4
  a[4] = 6; a[5] = 4;
  a.writeUInt16BE(1, 6);        // request
  PEER_MAC.copy(a, 8);
  ipv4Bytes(PEER_IP).copy(a, 14);
  ipv4Bytes(TAP_IP).copy(a, 24);
  return ethernet(Buffer.alloc(6, 0xff), 0x0806, a);
}

/** An ICMP echo request from the peer to the TAP's address. */
function echoRequest(tapMac: Buffer, seq: number, payloadLen = 32): Buffer {
  const icmp = Buffer.alloc(8 + payloadLen);
  icmp[0] = 8;                       // echo request
  icmp.writeUInt16BE(0x5746, 4);     // identifier 'WF'
  icmp.writeUInt16BE(seq, 6);
  for (let i = 0; i < payloadLen; i++) icmp[8 + i] = (seq + i) & 0xff;
  icmp.writeUInt16BE(finish(sum16(icmp, 0, icmp.length)), 2);
  const ip4 = Buffer.alloc(20);
  ip4[0] = 0x45;
  ip4.writeUInt16BE(20 + icmp.length, 2);
  ip4.writeUInt16BE(seq, 4);
  ip4.writeUInt16BE(0x4000, 6);      // DF
  ip4[8] = 64;
  ip4[9] = 1;                        // ICMP
  ipv4Bytes(PEER_IP).copy(ip4, 12);
  ipv4Bytes(TAP_IP).copy(ip4, 16);
  ip4.writeUInt16BE(finish(sum16(ip4, 0, 20)), 10);
  return ethernet(tapMac, 0x0800, Buffer.concat([ip4, icmp]));
}

/** The echo reply's sequence number, or -1 when `f` is not the reply to echoRequest. */
function echoReplySeq(f: Buffer, tapMac: Buffer): number {
  if (f.length < 14 + 20 + 8 || f.readUInt16BE(12) !== 0x0800 || f[14 + 9] !== 1 || f[34] !== 0) return -1;
  assert.equal(f.subarray(0, 6), PEER_MAC, 'reply to the peer MAC');
  assert.equal(f.subarray(6, 12), tapMac, 'reply from the TAP MAC');
  assert.equal(f.subarray(26, 30), ipv4Bytes(TAP_IP), 'reply from the TAP address');
  assert.equal(f.subarray(30, 34), ipv4Bytes(PEER_IP), 'reply to the peer address');
  assert.is(finish(sum16(f, 34, f.length - 34)), 0, 'ICMP checksum verifies');
  assert.is(f.readUInt16BE(38), 0x5746, 'identifier');
  return f.readUInt16BE(40);
}

/** Opens the TAP with its address up and the peer in its neighbour table. */
function openTap(n: Native, vnet: boolean): { fd: number; mac: Buffer; hdr: number } {
  const t = n.tapOpen(TAP, vnet ? n.TAP_VNET_HDR : 0);
  if (vnet) n.tapSetVnetHdrSize(t.fd, VNET_HDR_LEN);
  ip('addr', 'add', `${TAP_IP}/24`, 'dev', TAP);
  ip('link', 'set', TAP, 'up');
  ip('neigh', 'replace', PEER_IP, 'lladdr', PEER_MAC.toString('hex').replace(/(..)(?!$)/g, '$1:'), 'dev', TAP, 'nud', 'permanent');
  return { fd: t.fd, mac: macOf(TAP), hdr: vnet ? VNET_HDR_LEN : 0 };
}

/** Frames as written: with a zero virtio-net header in front when `hdr` is set. */
function withHdr(frames: Buffer[], hdr: number): Buffer[] {
  return hdr ? frames.map((f) => Buffer.concat([Buffer.alloc(hdr), f])) : frames;
}

/**
 * Reads frames until `take` returns true for enough of them; strips and
 * checks the virtio-net header. Returns the number of tapRead calls that
 * returned frames.
 */
async function readFrames(n: Native, fd: number, hdr: number, batch: number, take: (f: Buffer) => boolean): Promise<number> {
  const r = slots(batch, 2048);
  let calls = 0;
  await whileReadable(fd, () => {
    const got = n.tapRead(fd, r.slab, r.offs, r.lens, batch, 2048);
    if (got > 0) calls++;
    for (let i = 0; i < got; i++) {
      assert.ok(r.lens[i] >= hdr + 14, `frame ${i} is ${r.lens[i]} bytes`);
      if (hdr) {
        const h = r.slab.subarray(r.offs[i], r.offs[i] + hdr);
        assert.is(h[0] & 1, 0, 'no NEEDS_CSUM: offloads are off');
        assert.is(h[1], 0, 'no GSO: offloads are off');
      }
      if (take(Buffer.from(r.slab.subarray(r.offs[i] + hdr, r.offs[i] + r.lens[i])))) return true;
    }
    return false;
  });
  return calls;
}

// ---------------------------------------------------------------------------
// TAP

test('tapOpen creates a TAP (IFF_TAP | IFF_NO_PI) that goes away when its fd closes', () => {
  const n = inNetns();
  assert.type(n.version, 'string');
  const t = n.tapOpen(TAP, 0);
  try {
    assert.ok(t.fd >= 0);
    assert.is(t.name, TAP);
    assert.is(link(TAP)?.linkinfo?.info_kind, 'tun');
    assert.equal(tunFlags(TAP), { type: 'tap', pi: false, vnet_hdr: false, multi_queue: false });
  } finally {
    n.close(t.fd);
  }
  assert.not.ok(linkExists(TAP), 'the device is gone once its fd is closed');
});

test('tapOpen: the empty name lets the kernel pick one; TAP_MULTI_QUEUE opens several queues', () => {
  const n = inNetns();
  const any = n.tapOpen('', 0);
  assert.match(any.name, /^tap\d+$/);
  assert.ok(linkExists(any.name));
  n.close(any.fd);

  const q0 = n.tapOpen(TAP, n.TAP_MULTI_QUEUE | n.TAP_VNET_HDR);
  const q1 = n.tapOpen(TAP, n.TAP_MULTI_QUEUE | n.TAP_VNET_HDR);
  assert.equal(tunFlags(TAP), { type: 'tap', pi: false, vnet_hdr: true, multi_queue: true });
  n.close(q0.fd);
  assert.ok(linkExists(TAP), 'one queue still holds the device');
  n.close(q1.fd);
  assert.not.ok(linkExists(TAP));
});

test('tapOpen refuses a name the kernel would cut short, before asking it', () => {
  const n = inNetns();
  const e = thrown(() => n.tapOpen('weft-0123456789a', 0));   // 16 characters
  assert.is(e.code, 'EINVAL');
  assert.is(e.message, "TAP name 'weft-0123456789a' is too long: an interface name has at most 15 characters");
  const bad = thrown(() => n.tapOpen('wt/0', 0));
  assert.is(bad.code, 'EINVAL');
  assert.match(bad.message, "TAP name 'wt/0' is not a valid interface name");
  assert.not.ok(linkExists('weft-0123456789'));
});

test('tapOpen of a name taken by another device or another TAP user says so', () => {
  const n = inNetns();
  // `lo` is not a TAP: the kernel answers EINVAL, which the addon explains.
  const lo = thrown(() => n.tapOpen('lo', 0));
  assert.is(lo.code, 'EINVAL');
  assert.is(lo.syscall, 'ioctl(TUNSETIFF)');
  assert.is(lo.message, "TAP name 'lo' is taken by another device: pick another --tap");

  // A single-queue TAP already attached to an fd: EBUSY.
  const t = n.tapOpen(TAP, 0);
  try {
    const busy = thrown(() => n.tapOpen(TAP, 0));
    assert.is(busy.code, 'EBUSY');
    assert.is(busy.message, `TAP name '${TAP}' is taken by another device: pick another --tap`);
    // Same name, other queue mode: EINVAL, same explanation.
    const mq = thrown(() => n.tapOpen(TAP, n.TAP_MULTI_QUEUE));
    assert.is(mq.code, 'EINVAL');
    assert.match(mq.message, 'is taken by another device');
  } finally {
    n.close(t.fd);
  }
});

test('tapSetOffload and tapSetVnetHdrSize: accepted values pass, refused ones explain', () => {
  const n = inNetns();
  const t = n.tapOpen(TAP, n.TAP_VNET_HDR);
  try {
    n.tapSetVnetHdrSize(t.fd, 12);
    n.tapSetVnetHdrSize(t.fd, VNET_HDR_LEN);
    n.tapSetOffload(t.fd, n.TUN_F_CSUM | n.TUN_F_TSO4 | n.TUN_F_TSO6);
    n.tapSetOffload(t.fd, 0);
    const small = thrown(() => n.tapSetVnetHdrSize(t.fd, 4));
    assert.is(small.code, 'EINVAL');
    assert.match(small.message, 'virtio-net header size to 4');
    // TSO without checksum offload makes no sense to the kernel.
    const tso = thrown(() => n.tapSetOffload(t.fd, n.TUN_F_TSO4));
    assert.is(tso.code, 'EINVAL');
    assert.equal([n.TUN_F_CSUM, n.TUN_F_TSO4, n.TUN_F_TSO6, n.TUN_F_TSO_ECN, n.TUN_F_UFO, n.TUN_F_USO4, n.TUN_F_USO6],
      [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40]);
  } finally {
    n.close(t.fd);
  }
});

for (const vnet of [false, true]) {
  const how = vnet ? 'with a virtio-net header' : 'plain';

  test(`ARP through the TAP, ${how}: the kernel answers a request written with tapWrite`, async () => {
    const n = inNetns();
    const tap = openTap(n, vnet);
    try {
      const w = pack(withHdr([arpRequest()], tap.hdr));
      assert.is(n.tapWrite(tap.fd, w.slab, w.offs, w.lens, 1), 1);
      let reply: Buffer | null = null;
      await readFrames(n, tap.fd, tap.hdr, 8, (f) => {
        if (f.readUInt16BE(12) !== 0x0806 || f.readUInt16BE(14 + 6) !== 2) return false;
        reply = f;
        return true;
      });
      const f = reply as unknown as Buffer;
      assert.equal(f.subarray(0, 6), PEER_MAC, 'to the peer');
      assert.equal(f.subarray(6, 12), tap.mac, 'from the TAP');
      assert.equal(f.subarray(14 + 8, 14 + 14), tap.mac, 'sender MAC: the TAP');
      assert.equal(f.subarray(14 + 14, 14 + 18), ipv4Bytes(TAP_IP), 'sender IP');
      assert.equal(f.subarray(14 + 18, 14 + 24), PEER_MAC, 'target MAC');
      assert.equal(f.subarray(14 + 24, 14 + 28), ipv4Bytes(PEER_IP), 'target IP');
    } finally {
      n.close(tap.fd);
    }
  });

  test(`ICMP echo through the TAP, ${how}: request in, reply out`, async () => {
    const n = inNetns();
    const tap = openTap(n, vnet);
    try {
      const w = pack(withHdr([echoRequest(tap.mac, 7, 100)], tap.hdr));
      assert.is(n.tapWrite(tap.fd, w.slab, w.offs, w.lens, 1), 1);
      let seq = -1;
      await readFrames(n, tap.fd, tap.hdr, 8, (f) => (seq = echoReplySeq(f, tap.mac)) >= 0);
      assert.is(seq, 7);
    } finally {
      n.close(tap.fd);
    }
  });
}

test('64 echo requests in one tapWrite; 64 replies read back in batches', async () => {
  const n = inNetns();
  const tap = openTap(n, true);
  try {
    const reqs = Array.from({ length: 64 }, (_, i) => echoRequest(tap.mac, 1000 + i, i * 13));
    const w = pack(withHdr(reqs, tap.hdr), 5);
    assert.is(n.tapWrite(tap.fd, w.slab, w.offs, w.lens, 64), 64);
    const seen = new Set<number>();
    const calls = await readFrames(n, tap.fd, tap.hdr, 16, (f) => {
      const seq = echoReplySeq(f, tap.mac);
      if (seq >= 0) seen.add(seq);
      return seen.size === 64;
    });
    assert.is(seen.size, 64);
    assert.equal([...seen].sort((a, b) => a - b), reqs.map((_, i) => 1000 + i));
    assert.ok(calls >= 4, `64 frames in batches of 16 take at least 4 reads, took ${calls}`);
  } finally {
    n.close(tap.fd);
  }
});

test('tapWrite stops at a frame the kernel refuses: thrown when first, counted before', () => {
  const n = inNetns();
  const tap = openTap(n, false);
  try {
    const good = echoRequest(tap.mac, 1);
    const w = pack([good, good, Buffer.alloc(5), good]);   // 5 bytes: not an Ethernet frame
    assert.is(n.tapWrite(tap.fd, w.slab, w.offs, w.lens, 4), 2);
    const e = thrown(() => n.tapWrite(tap.fd, w.slab, w.offs.subarray(2), w.lens.subarray(2), 2));
    assert.is(e.code, 'EINVAL');
    assert.is(e.syscall, 'write');
    assert.is(n.tapWrite(tap.fd, w.slab, w.offs.subarray(3), w.lens.subarray(3), 1), 1);
  } finally {
    n.close(tap.fd);
  }
});

test('tapWritev: frames gathered from a head and pieces of another buffer arrive whole; bad piece lists throw before writing', async () => {
  const n = inNetns();
  const tap = openTap(n, true);
  try {
    // Three echo requests, each cut into a head (header + first bytes) and 1–3 pieces kept elsewhere.
    const reqs = [echoRequest(tap.mac, 21, 300), echoRequest(tap.mac, 22, 1000), echoRequest(tap.mac, 23, 40)];
    const heads: Buffer[] = [], pieces: Buffer[] = [], pstart = new Int32Array(4);
    reqs.forEach((r, i) => {
      const f = Buffer.concat([Buffer.alloc(tap.hdr), r]);
      const cuts = [60, 60 + Math.floor((f.length - 60) / 3), 60 + Math.floor(2 * (f.length - 60) / 3), f.length].slice(i === 2 ? 2 : 0);
      const headEnd = i === 2 ? f.length : 60;
      heads.push(f.subarray(0, headEnd));
      pstart[i] = pieces.length;
      if (i !== 2) for (let k = 0; k + 1 < cuts.length; k++) pieces.push(f.subarray(cuts[k], cuts[k + 1]));
    });
    pstart[3] = pieces.length;
    const h = pack(heads), d = pack(pieces, 7);
    assert.is(n.tapWritev(tap.fd, h.slab, h.offs, h.lens, d.slab, d.offs, d.lens, pstart, 3), 3);
    const got = new Map<number, Buffer>();
    await readFrames(n, tap.fd, tap.hdr, 8, (f) => {
      const seq = echoReplySeq(f, tap.mac);
      if (seq >= 0) got.set(seq, Buffer.from(f));
      return got.size === 3;
    });
    reqs.forEach((r, i) => assert.equal(got.get(21 + i)?.subarray(42), r.subarray(42), `reply ${i} echoes the gathered payload`));
    // A piece list running backwards, or pieces outside the data buffer: RangeError, nothing written.
    const back = Int32Array.from([2, 1, 3, 3]);
    assert.is(thrown(() => n.tapWritev(tap.fd, h.slab, h.offs, h.lens, d.slab, d.offs, d.lens, back, 3)).name, 'RangeError');
    const outside = Int32Array.from(d.offs); outside[0] = d.slab.length;
    assert.is(thrown(() => n.tapWritev(tap.fd, h.slab, h.offs, h.lens, d.slab, outside, d.lens, pstart, 3)).name, 'RangeError');
    assert.is(thrown(() => n.tapWritev(tap.fd, h.slab, h.offs, h.lens, d.slab, d.offs, d.lens, pstart.subarray(0, 3), 3)).name, 'RangeError');
  } finally {
    n.close(tap.fd);
  }
});

// ---------------------------------------------------------------------------
// UDP

function v4(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** 100 datagrams of sizes 0…1400 through loopback in one udpSend, received in batches. */
async function udpRoundTrip(family: 4 | 6, address: string, words: number[]): Promise<void> {
  const n = inNetns();
  const rx = n.udpOpen(family, address, 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(family, address, 0, { sndbuf: 4 << 20 });
  try {
    assert.ok(rx.port > 0 && tx.port > 0 && rx.port !== tx.port);
    const COUNT = 100;
    const sent = Array.from({ length: COUNT }, (_, i) => {
      const b = Buffer.alloc(i === 0 ? 0 : (i * 97) % 1400 + 1);
      for (let j = 0; j < b.length; j++) b[j] = (i * 7 + j) & 0xff;
      return b;
    });
    const w = pack(sent);
    const dstAddr = new Uint32Array(COUNT * 4);
    const dstPort = new Uint16Array(COUNT).fill(rx.port);
    for (let i = 0; i < COUNT; i++) dstAddr.set(words, 4 * i);
    const errors = new Int32Array(1);
    assert.is(n.udpSend(tx.fd, w.slab, w.offs, w.lens, dstAddr, dstPort, COUNT, errors), COUNT);
    assert.is(errors[0], 0);

    const BATCH = 32;
    const r = slots(BATCH, 2048);
    const srcAddr = new Uint32Array(BATCH * 4);
    const srcPort = new Uint16Array(BATCH);
    const got: Buffer[] = [];
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 2048, srcAddr, srcPort, BATCH);
      assert.ok(k <= BATCH);
      for (let i = 0; i < k; i++) {
        assert.equal([...srcAddr.subarray(4 * i, 4 * i + 4)], words, `datagram ${got.length}: source address`);
        assert.is(srcPort[i], tx.port, `datagram ${got.length}: source port`);
        got.push(Buffer.from(r.slab.subarray(r.offs[i], r.offs[i] + r.lens[i])));
      }
      return got.length >= COUNT;
    });
    assert.is(got.length, COUNT);
    got.forEach((b, i) => {
      assert.is(b.length, sent[i].length, `datagram ${i}: length`);
      assert.ok(b.equals(sent[i]), `datagram ${i}: payload`);
    });
    assert.is(n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 2048, srcAddr, srcPort, BATCH), 0, 'nothing more waiting');
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
}

test('UDP over 127.0.0.1: 100 datagrams in one udpSend, received in batches with their source', async () => {
  await udpRoundTrip(4, '127.0.0.1', [0, 0, 0xffff, 0x7f000001]);
});

test('UDP over ::1: 100 datagrams in one udpSend, received in batches with their source', async () => {
  await udpRoundTrip(6, '::1', [0, 0, 0, 1]);
});

test('udpRecv marks a datagram longer than maxLen with length -1', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, {});
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    const w = pack([Buffer.alloc(3000, 1), Buffer.alloc(1500, 2)]);
    const addr = new Uint32Array([0, 0, 0xffff, v4('127.0.0.1'), 0, 0, 0xffff, v4('127.0.0.1')]);
    const errors = new Int32Array(1);
    assert.is(n.udpSend(tx.fd, w.slab, w.offs, w.lens, addr, new Uint16Array([rx.port, rx.port]), 2, errors), 2);
    const r = slots(4, 1600);
    const lens: number[] = [];
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 1500, new Uint32Array(16), new Uint16Array(4), 4);
      for (let i = 0; i < k; i++) lens.push(r.lens[i]);
      return lens.length >= 2;
    });
    assert.equal(lens, [-1, 1500]);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSend skips and counts datagrams the kernel refuses, and sends the rest', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, {});
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    const lo = [0, 0, 0xffff, v4('127.0.0.1')];
    // [payload, destination words, port, refused?]
    const rows: [Buffer, number[], number, boolean][] = [
      [Buffer.from('one'), lo, rx.port, false],
      [Buffer.from('port zero'), lo, 0, true],                                   // EINVAL
      [Buffer.from('two'), lo, rx.port, false],
      [Buffer.from('no route'), [0, 0, 0xffff, v4('198.18.0.9')], 4789, true],   // ENETUNREACH: only lo here
      [Buffer.from('v6 on a v4 socket'), [0xfd000000, 0, 0, 1], 4789, true],
      [Buffer.alloc(70000), lo, rx.port, true],                                  // EMSGSIZE
      [Buffer.from('three'), lo, rx.port, false],
    ];
    const w = pack(rows.map((r) => r[0]));
    const addr = new Uint32Array(rows.length * 4);
    rows.forEach((r, i) => addr.set(r[1], 4 * i));
    const port = new Uint16Array(rows.map((r) => r[2]));
    const errors = new Int32Array([10]);
    assert.is(n.udpSend(tx.fd, w.slab, w.offs, w.lens, addr, port, rows.length, errors), 3);
    assert.is(errors[0], 14, 'four refused, added to what errors[0] held');

    const r = slots(8, 2048);
    const got: string[] = [];
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 2048, new Uint32Array(32), new Uint16Array(8), 8);
      for (let i = 0; i < k; i++) got.push(r.slab.toString('utf8', r.offs[i], r.offs[i] + r.lens[i]));
      return got.length >= 3;
    });
    assert.equal(got, ['one', 'two', 'three']);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpOpen: a port in use, shared with reusePort, and addresses not of this host', () => {
  const n = inNetns();
  const a = n.udpOpen(4, '127.0.0.1', 0, {});
  const open = [a.fd];
  try {
    const inUse = thrown(() => n.udpOpen(4, '127.0.0.1', a.port, {}));
    assert.is(inUse.code, 'EADDRINUSE');
    assert.is(inUse.syscall, 'bind');
    assert.is(inUse.message, `UDP port ${a.port} on 127.0.0.1 is in use: another VTEP (weft or a kernel vxlan device) may be bound to it`);

    const b = n.udpOpen(4, '127.0.0.1', 0, { reusePort: true });
    open.push(b.fd);
    const c = n.udpOpen(4, '127.0.0.1', b.port, { reusePort: true });
    open.push(c.fd);
    assert.is(c.port, b.port);

    const far = thrown(() => n.udpOpen(4, '198.18.0.1', 8472, {}));
    assert.is(far.code, 'EADDRNOTAVAIL');
    assert.is(far.message, '198.18.0.1 is not an address of this host: check --local');

    const bad = thrown(() => n.udpOpen(4, 'fd00::1', 8472, {}));
    assert.is(bad.code, 'EINVAL');
    assert.is(bad.message, "'fd00::1' is not an IPv4 address");
  } finally {
    for (const fd of open) n.close(fd);
  }
});

// ---------------------------------------------------------------------------
// UDP GSO and GRO
//
// Loopback takes GSO messages whole: to a socket without GRO the kernel cuts
// them into datagrams on delivery, to one with GRO it hands the message over
// as it is, with its segment size.

const GSO_SEG = 1400;

/** `len` bytes that differ from datagram to datagram, so order shows. */
function pattern(len: number, salt: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + (i >>> 8) * 7 + salt) & 0xff;
  return b;
}

/** `msg` cut as GSO cuts it: pieces of `seg` bytes, the last shorter. */
function segments(msg: Buffer, seg: number): Buffer[] {
  if (seg <= 0 || seg >= msg.length) return [msg];
  const out: Buffer[] = [];
  for (let at = 0; at < msg.length; at += seg) out.push(msg.subarray(at, Math.min(at + seg, msg.length)));
  return out;
}

/**
 * Receives `want` messages (each slot `maxLen` bytes, segs read when
 * `withSegs`), checking their source port; returns copies and their segs.
 */
async function recvMessages(n: Native, fd: number, want: number, maxLen: number, fromPort: number,
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
function dests(count: number, words: number[], port: number): { addr: Uint32Array; port: Uint16Array } {
  const addr = new Uint32Array(4 * count);
  for (let i = 0; i < count; i++) addr.set(words, 4 * i);
  return { addr, port: new Uint16Array(count).fill(port) };
}

test('udpGsoSupported and udpSetGro: this kernel has both, on IPv4 and IPv6 sockets', () => {
  const n = inNetns();
  const a = n.udpOpen(4, '127.0.0.1', 0, {});
  const b = n.udpOpen(6, '::1', 0, {});
  try {
    for (const fd of [a.fd, b.fd]) {
      assert.is(n.udpGsoSupported(fd), true);
      assert.is(n.udpSetGro(fd, true), true);
      assert.is(n.udpSetGro(fd, false), true);
    }
    assert.is(thrown(() => n.udpGsoSupported(100000)).code, 'EBADF');
    assert.is(thrown(() => n.udpSetGro(100000, true)).code, 'EBADF');
    assert.instance(thrown(() => (n as unknown as { udpSetGro(fd: number, on: unknown): boolean }).udpSetGro(a.fd, 1)), TypeError);
  } finally {
    n.close(a.fd);
    n.close(b.fd);
  }
});

for (const [family, address, words] of [[4, '127.0.0.1', [0, 0, 0xffff, 0x7f000001]], [6, '::1', [0, 0, 0, 1]]] as const) {
  test(`udpSendGso over ${address}: one 65000-byte message arrives as 1400-byte datagrams, in order`, async () => {
    const n = inNetns();
    const rx = n.udpOpen(family, address, 0, { rcvbuf: 4 << 20 });
    const tx = n.udpOpen(family, address, 0, {});
    try {
      const msg = pattern(65000, 1);
      const w = pack([msg]);
      const d = dests(1, [...words], rx.port);
      const errors = new Int32Array(1);
      assert.is(n.udpSendGso(tx.fd, w.slab, w.offs, w.lens, new Int32Array([GSO_SEG]), d.addr, d.port, 1, errors), 1,
        'one message sent');
      assert.is(errors[0], 0);
      const want = Math.ceil(msg.length / GSO_SEG);   // 47: 46 of 1400, one of 600
      const got = await recvMessages(n, rx.fd, want, 2048, tx.port, true);
      got.msgs.forEach((b, i) => assert.is(b.length, i < want - 1 ? GSO_SEG : msg.length - (want - 1) * GSO_SEG, `datagram ${i}: length`));
      assert.ok(Buffer.concat(got.msgs).equals(msg), 'the datagrams are the message, in order');
      assert.equal(got.segs, new Array(want).fill(0), 'without GRO every message is one datagram');
    } finally {
      n.close(rx.fd);
      n.close(tx.fd);
    }
  });
}

test('udpSendGsoV: messages gathered from pieces (a header and a payload per datagram) arrive as the datagrams they make; bad piece lists throw', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    // Message 0: 10 datagrams of 100 + 1300 bytes (a head, then a payload elsewhere) as one GSO send;
    // message 1: a single datagram of one piece.
    const heads = Array.from({ length: 10 }, (_, k) => pattern(100, 10 + k));
    const bodies = Array.from({ length: 10 }, (_, k) => pattern(k === 9 ? 700 : 1300, 30 + k));
    const single = pattern(333, 99);
    const pieces = [...heads.flatMap((h, k) => [h, bodies[k]]), single];
    const w = pack(pieces, 5);
    const pstart = new Int32Array([0, 20, 21]);
    const d = dests(2, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array(1);
    assert.is(n.udpSendGsoV(tx.fd, w.slab, w.offs, w.lens, pstart, new Int32Array([1400, 0]), d.addr, d.port, 2, errors), 2);
    assert.is(errors[0], 0);
    const got = await recvMessages(n, rx.fd, 11, 2048, tx.port, true);
    const want = [...heads.map((h, k) => Buffer.concat([h, bodies[k]])), single];
    assert.is(got.msgs.length, 11);
    got.msgs.forEach((b, i) => assert.ok(b.equals(want[i]), `datagram ${i}`));
    // A message without pieces, pieces running backwards, one outside the slab: RangeError before sending.
    assert.is(thrown(() => n.udpSendGsoV(tx.fd, w.slab, w.offs, w.lens, new Int32Array([0, 0]), new Int32Array([0]), d.addr, d.port, 1, errors)).name, 'RangeError');
    assert.is(thrown(() => n.udpSendGsoV(tx.fd, w.slab, w.offs, w.lens, new Int32Array([3, 1]), new Int32Array([0]), d.addr, d.port, 1, errors)).name, 'RangeError');
    const outside = Int32Array.from(w.offs); outside[1] = w.slab.length - 10;
    assert.is(thrown(() => n.udpSendGsoV(tx.fd, w.slab, outside, w.lens, pstart, new Int32Array([1400, 0]), d.addr, d.port, 2, errors)).name, 'RangeError');
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSendGso to a GRO socket: fewer, coalesced messages with segs 1400 that split back into the bytes sent', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    assert.is(n.udpSetGro(rx.fd, true), true);
    const sent = [pattern(65000, 2), pattern(30000, 3)];
    const w = pack(sent);
    const d = dests(2, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array(1);
    assert.is(n.udpSendGso(tx.fd, w.slab, w.offs, w.lens, new Int32Array([GSO_SEG, GSO_SEG]), d.addr, d.port, 2, errors), 2);
    assert.is(errors[0], 0);

    const datagrams = sent.reduce((k, m) => k + Math.ceil(m.length / GSO_SEG), 0);   // 47 + 22
    const got: Buffer[] = [];
    const msgs: Buffer[] = [];
    const segs: number[] = [];
    const BATCH = 4;
    const r = slots(BATCH, 65535);
    const seg = new Int32Array(BATCH);
    await whileReadable(rx.fd, () => {
      const k = n.udpRecv(rx.fd, r.slab, r.offs, r.lens, 65535, new Uint32Array(4 * BATCH), new Uint16Array(BATCH), BATCH, seg);
      for (let i = 0; i < k; i++) {
        const m = Buffer.from(r.slab.subarray(r.offs[i], r.offs[i] + r.lens[i]));
        msgs.push(m);
        segs.push(seg[i]);
        got.push(...segments(m, seg[i]));
      }
      return got.length >= datagrams;
    });
    assert.ok(msgs.length < datagrams, `${msgs.length} messages for ${datagrams} datagrams`);
    assert.equal(segs, new Array(msgs.length).fill(GSO_SEG), 'each message says it holds 1400-byte datagrams');
    assert.is(got.length, datagrams);
    assert.ok(Buffer.concat(got).equals(Buffer.concat(sent)), 'split, they are the bytes sent, in order');
    got.forEach((b, i) => assert.ok(b.length <= GSO_SEG, `datagram ${i}: ${b.length} bytes`));
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSendGso: a batch mixing GSO and plain messages, and a GSO message the kernel refuses', async () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, { rcvbuf: 4 << 20 });
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    // [payload, segs, refused?]
    const rows: [Buffer, number, boolean][] = [
      [pattern(10000, 10), 1000, false],   // GSO: 10 datagrams of 1000
      [pattern(500, 11), 0, false],        // plain
      [pattern(800, 12), 800, false],      // segs = length: one datagram, no GSO
      [pattern(300, 13), 1400, false],     // segs > length: one datagram
      [pattern(20000, 14), 50, true],      // 400 segments: past UDP_MAX_SEGMENTS (EINVAL)
      [pattern(3000, 15), 1400, false],    // GSO: 1400, 1400, 200
      [Buffer.alloc(0), 0, false],         // an empty datagram
      [pattern(1401, 16), 1400, false],    // GSO: 1400, 1
    ];
    const w = pack(rows.map((r) => r[0]));
    const d = dests(rows.length, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array([5]);
    const sent = n.udpSendGso(tx.fd, w.slab, w.offs, w.lens, new Int32Array(rows.map((r) => r[1])), d.addr, d.port, rows.length, errors);
    assert.is(sent, rows.filter((r) => !r[2]).length, 'messages sent');
    assert.is(errors[0], 6, 'one refused, added to what errors[0] held');

    const want = rows.filter((r) => !r[2]).flatMap((r) => segments(r[0], r[1]));
    const got = await recvMessages(n, rx.fd, want.length, 2048, tx.port, false);
    got.msgs.forEach((b, i) => assert.ok(b.equals(want[i]), `datagram ${i}: ${b.length} bytes, want ${want[i].length}`));
    assert.is(n.udpRecv(rx.fd, Buffer.alloc(2048), new Int32Array(1), new Int32Array(1), 2048, new Uint32Array(4), new Uint16Array(1), 1), 0,
      'nothing more waiting');

    // udpSendGso with no segs set is udpSend.
    const one = pack([Buffer.from('plain')]);
    assert.is(n.udpSendGso(tx.fd, one.slab, one.offs, one.lens, new Int32Array(1), d.addr, d.port, 1, errors), 1);
    const last = await recvMessages(n, rx.fd, 1, 2048, tx.port, true);
    assert.is(last.msgs[0].toString(), 'plain');
    assert.equal(last.segs, [0]);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

test('udpSendGso and udpRecv segs: bad segment sizes and short arrays throw before any system call', () => {
  const n = inNetns();
  const rx = n.udpOpen(4, '127.0.0.1', 0, {});
  const tx = n.udpOpen(4, '127.0.0.1', 0, {});
  try {
    const slab = Buffer.alloc(4000, 0x5a);
    const offs = new Int32Array([0, 2000]);
    const lens = new Int32Array([2000, 2000]);
    const d = dests(2, [0, 0, 0xffff, 0x7f000001], rx.port);
    const errors = new Int32Array(1);
    const send = (segs: Int32Array, count = 2) => () => n.udpSendGso(tx.fd, slab, offs, lens, segs, d.addr, d.port, count, errors);
    const cases: [string, () => unknown][] = [
      ['segs -1', send(new Int32Array([1000, -1]))],
      ['segs 65536', send(new Int32Array([65536, 1000]))],
      ['segs shorter than count', send(new Int32Array([1000]))],
      ['lens past the slab', () => n.udpSendGso(tx.fd, slab, offs, new Int32Array([2000, 2001]), new Int32Array(2), d.addr, d.port, 2, errors)],
      ['udpRecv segs shorter than max', () => n.udpRecv(rx.fd, slab, offs, lens, 2000, new Uint32Array(8), new Uint16Array(2), 2, new Int32Array(1))],
    ];
    for (const [name, fn] of cases) {
      const e = thrown(fn);
      assert.instance(e, RangeError, name);
      assert.is(e.code, 'ERR_OUT_OF_RANGE', name);
    }
    assert.is(thrown(send(new Int32Array([1000, 70000]))).message,
      'udpSendGso: segs[1] is 70000: a segment size is from 1 to 65535, or 0 to send the message as one datagram');
    // The segs entries past count are not looked at; 65535 is a size.
    assert.is(n.udpSendGso(tx.fd, slab, offs, lens, new Int32Array([65535, -1]), d.addr, d.port, 1, errors), 1);

    const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.instance(thrown(() => any.udpSendGso(tx.fd, slab, offs, lens, new Uint16Array(2), d.addr, d.port, 2, errors)), TypeError);
    assert.instance(thrown(() => any.udpRecv(rx.fd, slab, offs, lens, 2000, new Uint32Array(8), new Uint16Array(2), 2, new Uint32Array(2))), TypeError);
    assert.instance(thrown(() => any.udpRecv(rx.fd, slab, offs, lens, 2000, new Uint32Array(8), new Uint16Array(2), 2, null)), TypeError);
    assert.ok(slab.every((b) => b === 0x5a), 'the slab was not touched');
    assert.is(errors[0], 0);
  } finally {
    n.close(rx.fd);
    n.close(tx.fd);
  }
});

// ---------------------------------------------------------------------------
// Argument checks

test('offsets and lengths outside the slab throw RangeError before any system call', () => {
  const n = inNetns();
  const u = n.udpOpen(4, '127.0.0.1', 0, {});
  const t = n.tapOpen(TAP, 0);
  try {
    const slab = Buffer.alloc(1000, 0x5a);
    const offs = new Int32Array([0, 900]);
    const lens = new Int32Array([100, 100]);
    const addr = new Uint32Array(8);
    const port = new Uint16Array(2);
    const errors = new Int32Array(1);
    const cases: [string, () => unknown][] = [
      ['tapRead: maxLen past the end', () => n.tapRead(t.fd, slab, offs, lens, 2, 101)],
      ['tapRead: negative offset', () => n.tapRead(t.fd, slab, new Int32Array([-1]), lens, 1, 10)],
      ['tapRead: max beyond offs', () => n.tapRead(t.fd, slab, offs, lens, 3, 10)],
      ['tapWrite: length past the end', () => n.tapWrite(t.fd, slab, offs, new Int32Array([100, 101]), 2)],
      ['tapWrite: negative length', () => n.tapWrite(t.fd, slab, offs, new Int32Array([-5, 1]), 2)],
      ['udpRecv: maxLen past the end', () => n.udpRecv(u.fd, slab, offs, lens, 101, addr, port, 2)],
      ['udpRecv: srcAddr too short', () => n.udpRecv(u.fd, slab, offs, lens, 10, new Uint32Array(7), port, 2)],
      ['udpSend: length past the end', () => n.udpSend(u.fd, slab, offs, new Int32Array([1, 101]), addr, port, 2, errors)],
      ['udpSend: count beyond dstPort', () => n.udpSend(u.fd, slab, offs, lens, addr, new Uint16Array(1), 2, errors)],
      ['udpSend: no room in errors', () => n.udpSend(u.fd, slab, offs, lens, addr, port, 2, new Int32Array(0))],
    ];
    for (const [name, fn] of cases) {
      const e = thrown(fn);
      assert.instance(e, RangeError, name);
      assert.is(e.code, 'ERR_OUT_OF_RANGE', name);
    }
    assert.ok(slab.every((b) => b === 0x5a), 'the slab was not touched');
    // Nothing was sent by the refused udpSend calls.
    assert.is(n.udpRecv(u.fd, slab, offs, lens, 100, addr, port, 2), 0);
    // A RangeError names what does not fit.
    assert.is(thrown(() => n.tapRead(t.fd, slab, offs, lens, 2, 101)).message,
      'tapRead: frame 1 (offset 900, 101 bytes) does not fit in the 1000-byte slab');
  } finally {
    n.close(u.fd);
    n.close(t.fd);
  }
});

test('wrong argument types throw TypeError', () => {
  const n = inNetns();
  const slab = Buffer.alloc(100);
  const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
  const cases: [string, () => unknown][] = [
    ['tapOpen name', () => any.tapOpen(42, 0)],
    ['tapRead offs', () => any.tapRead(0, slab, new Uint32Array(1), new Int32Array(1), 1, 10)],
    ['tapRead slab', () => any.tapRead(0, 'slab', new Int32Array(1), new Int32Array(1), 1, 10)],
    ['udpSend dstAddr', () => any.udpSend(0, slab, new Int32Array(1), new Int32Array(1), new Int32Array(4), new Uint16Array(1), 1, new Int32Array(1))],
    ['pollStart cb', () => any.pollStart(0, 'cb')],
    ['pollStop handle', () => any.pollStop({})],
  ];
  for (const [name, fn] of cases) assert.instance(thrown(fn), TypeError, name);
  assert.instance(thrown(() => n.close(-1)), RangeError);
  assert.is(thrown(() => n.close(100000)).code, 'EBADF');
});

// ---------------------------------------------------------------------------
// The Internet checksum (csum): no device, no namespace needed

/** xorshift32: the same cases on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

test('csum: RFC 1071 §3 example, odd last byte, chaining, and the fold of all ones and all zeros', () => {
  const n = native();
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
  const rfc = Buffer.from('0001f203f4f5f6f7', 'hex');
  assert.is(n.csum(rfc, 0, 8, 0), 0xddf2);
  // Words count from `off`: at offset 1 they are 01f2 03f4 f5f6, then f7 00.
  assert.is(n.csum(rfc, 1, 7, 0), fold(0x01f2 + 0x03f4 + 0xf5f6 + 0xf700));
  // Chaining two pieces (even first length) is the sum of the whole.
  assert.is(n.csum(rfc, 4, 4, n.csum(rfc, 0, 4, 0)), 0xddf2);
  assert.is(n.csum(rfc, 0, 0, 0x1234), 0x1234);
  assert.is(n.csum(rfc, 0, 0, 0xffffffff), 0xffff);
  // The IPv4 header of RFC 1071's cousin example: its checksum field is b861.
  const ip4 = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
  assert.is(~n.csum(ip4, 0, 20, 0) & 0xffff, 0xb861);
  // All zeros stay 0 (not 0xffff); all ones fold to 0xffff, however long;
  // an odd last 0xff is the word ff00, which adds nothing else.
  assert.is(n.csum(Buffer.alloc(70001), 0, 70001, 0), 0);
  assert.is(n.csum(Buffer.alloc(70001, 0xff), 1, 70000, 0), 0xffff);
  assert.is(n.csum(Buffer.alloc(70001, 0xff), 0, 70000, 0xffffffff), 0xffff);
  assert.is(n.csum(Buffer.alloc(70001, 0xff), 0, 70001, 0), 0xff00);
});

test('csum equals fold(sum16(…)) on 10,000 random ranges: odd offsets, empty, 64 KiB and more', () => {
  const n = native();
  const next = rng(0x5eed);
  const buf = Buffer.alloc(140_000);
  for (let i = 0; i < buf.length; i++) buf[i] = next() & 0xff;
  // Runs of 0xff here and there: the most carries.
  buf.fill(0xff, 1000, 5000);
  buf.fill(0xff, 70_000, 140_000);
  const lengths = [0, 1, 2, 3, 4, 5, 7, 31, 32, 33, 1500, 65535, 65536, 65537, 70000];
  let odd = 0, big = 0;
  for (let c = 0; c < 10_000; c++) {
    const pick = next() % 100;
    const len = c < lengths.length * 4 ? lengths[c % lengths.length]
      : pick < 40 ? next() % 65
      : pick < 80 ? next() % 2000
      : pick < 95 ? next() % 9001
      : 65535 + next() % 5000;
    const off = c < lengths.length ? 0 : next() % (buf.length - len + 1);
    const kind = next() % 3;
    const initial = kind === 0 ? 0 : kind === 1 ? next() & 0xffff : next();
    const want = fold(sum16(buf, off, len, initial));
    const got = n.csum(buf, off, len, initial);
    if (got !== want) assert.unreachable(`case ${c}: off ${off} len ${len} initial ${initial}: ${got} != ${want}`);
    if (off & 1) odd++;
    if (len >= 65535) big++;
  }
  assert.ok(odd > 4000 && big > 300, `odd offsets: ${odd}, 64 KiB and more: ${big}`);
});

test('csum: a range outside the buffer or a bad initial throws RangeError', () => {
  const n = native();
  const b = Buffer.alloc(100);
  const cases: [string, () => unknown][] = [
    ['past the end', () => n.csum(b, 50, 51, 0)],
    ['offset past the end', () => n.csum(b, 101, 0, 0)],
    ['negative offset', () => n.csum(b, -1, 10, 0)],
    ['negative length', () => n.csum(b, 0, -1, 0)],
    ['fractional length', () => n.csum(b, 0, 1.5, 0)],
    ['initial ≥ 2^32', () => n.csum(b, 0, 10, 2 ** 32)],
    ['negative initial', () => n.csum(b, 0, 10, -1)],
  ];
  for (const [name, fn] of cases) {
    const e = thrown(fn);
    assert.instance(e, RangeError, name);
    assert.is(e.code, 'ERR_OUT_OF_RANGE', name);
  }
  assert.is(thrown(() => n.csum(b, 50, 51, 0)).message, 'csum: 51 bytes at offset 50 do not fit in the 100-byte buffer');
  assert.is(n.csum(b, 100, 0, 7), 7, 'an empty range at the very end is fine');
  const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.instance(thrown(() => any.csum('not a buffer', 0, 2, 0)), TypeError);
  assert.instance(thrown(() => any.csum(b, '0', 2, 0)), TypeError);
});

test('csumRanges: one call gives each range the sum csum gives it; short arrays and ranges outside the buffer throw', () => {
  const n = native();
  const buf = Buffer.alloc(70_000);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 151 + (i >>> 9)) & 0xff;
  let seed = 3;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const count = 500;
  const offs = new Int32Array(count), lens = new Int32Array(count), sums = new Uint32Array(count + 1).fill(0xdead);
  for (let i = 0; i < count; i++) {
    lens[i] = i % 50 === 0 ? 0 : Math.floor(rand() * (i % 7 === 0 ? 65_536 : 1_600));
    offs[i] = Math.floor(rand() * (buf.length - lens[i]));
  }
  assert.is(n.csumRanges(buf, offs, lens, count, sums), count);
  for (let i = 0; i < count; i++) assert.is(sums[i], fold(sum16(buf, offs[i], lens[i])), `range ${i}: ${lens[i]} bytes at ${offs[i]}`);
  assert.is(sums[count], 0xdead, 'nothing past count is written');
  const b = Buffer.alloc(100), o = Int32Array.of(0, 50), l = Int32Array.of(10, 51), sm = new Uint32Array(2);
  const e = thrown(() => n.csumRanges(b, o, l, 2, sm));
  assert.instance(e, RangeError);
  assert.is(e.message, 'csumRanges: range 1 (offset 50, 51 bytes) does not fit in the 100-byte slab');
  assert.instance(thrown(() => n.csumRanges(b, o, l, 3, new Uint32Array(3))), RangeError, 'count past offs');
  assert.instance(thrown(() => n.csumRanges(b, o, Int32Array.of(1, 1), 2, new Uint32Array(1))), RangeError, 'count past sums');
  assert.instance(thrown(() => n.csumRanges(b, o, Int32Array.of(1, -1), 2, sm)), RangeError, 'negative length');
  const any = n as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.instance(thrown(() => any.csumRanges(b, o, l, 1, new Int32Array(2))), TypeError, 'sums must be a Uint32Array');
});

// ---------------------------------------------------------------------------
// The watcher

/** Runs an ES module in a child node (same namespace) and returns its output; fails on timeout. */
function child(code: string): { status: number | null; signal: string | null; out: string; err: string } {
  const url = new URL('../../src/io/native.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { native } from ${JSON.stringify(url)};\n${code}`], {
    encoding: 'utf8',
    timeout: 10_000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const CHILD_UDP = `
const n = native();
const rx = n.udpOpen(4, '127.0.0.1', 0, {});
const tx = n.udpOpen(4, '127.0.0.1', 0, {});
const slab = Buffer.alloc(64);
const send = () => n.udpSend(tx.fd, slab, new Int32Array([0]), new Int32Array([8]),
  new Uint32Array([0, 0, 0xffff, 0x7f000001]), new Uint16Array([rx.port]), 1, new Int32Array(1));
`;

test('pollStop is idempotent, ends the callbacks, and lets the process exit', () => {
  inNetns();
  const r = child(`${CHILD_UDP}
let calls = 0;
const h = n.pollStart(rx.fd, () => {
  calls++;
  n.pollStop(h);
  n.pollStop(h);
  // Readable again, and never drained: a live watcher would fire at once.
  send();
  setTimeout(() => { n.pollStop(h); n.close(rx.fd); n.close(tx.fd); console.log('calls', calls); }, 200);
});
send();
`);
  assert.is(r.signal, null, `the child exited by itself (stderr: ${r.err})`);
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), 'calls 1');
});

test('an exception thrown by the poll callback reaches uncaughtException', () => {
  inNetns();
  const r = child(`${CHILD_UDP}
let h;
process.on('uncaughtException', (e) => {
  console.log('caught', e.message);
  n.pollStop(h); n.close(rx.fd); n.close(tx.fd);
});
h = n.pollStart(rx.fd, () => { throw new Error('boom from the callback'); });
send();
`);
  assert.is(r.signal, null, r.err);
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), 'caught boom from the callback');
});

test('without a handler, an exception from the poll callback ends the process with it', () => {
  inNetns();
  const r = child(`${CHILD_UDP}
n.pollStart(rx.fd, () => { throw new Error('unhandled boom'); });
send();
`);
  assert.is(r.signal, null);
  assert.is(r.status, 1);
  assert.match(r.err, 'unhandled boom');
});

test('the watcher calls back once with an error when its TAP is deleted', async () => {
  const n = inNetns();
  const t = n.tapOpen(TAP, 0);
  try {
    const gotErr = new Promise<Error>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no error callback')), WAIT_MS);
      const h = n.pollStart(t.fd, (err) => {
        clearTimeout(timer);
        n.pollStop(h);
        if (err) resolve(err); else reject(new Error('called without an error'));
      });
    });
    ip('link', 'del', TAP);
    const err = await gotErr;
    assert.is((err as Error & { code?: string }).code, 'EBADF');
    assert.match(err.message, `watching fd ${t.fd} stopped`);
  } finally {
    n.close(t.fd);
  }
});

test('a worker that ends with its watcher running is cleaned up', () => {
  inNetns();
  const url = new URL('../../src/io/native.js', import.meta.url).href;
  const r = child(`
import { Worker } from 'node:worker_threads';
const w = new Worker(\`
  (async () => {
    const { native } = await import(${JSON.stringify(url)});
    const { parentPort } = await import('node:worker_threads');
    const n = native();
    const s = n.udpOpen(4, '127.0.0.1', 0, {});
    n.pollStart(s.fd, () => {});
    parentPort.postMessage('polling');
  })();
\`, { eval: true });
w.on('message', (m) => { console.log(m); w.terminate(); });
w.on('exit', () => console.log('worker gone'));
`);
  assert.is(r.signal, null, r.err);
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), 'polling\nworker gone');
});

test.run();
