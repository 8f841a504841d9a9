// The native addon's TAP calls against the real kernel: open, offloads,
// and frames both ways, with the kernel's own stack as the peer's partner.
//
//   this process (the private netns test/run.ts made: unshare --net)
//   ┌───────────────────────────────────────────────────────┐
//   │  wt0: 10.244.9.1/24 ── kernel stack answers ARP, ping  │
//   │   ║ TAP fd                                             │
//   │  test: plays the peer 10.244.9.2 (02:00:0a:f4:09:02)   │
//   │        with tapWritev, reads the answers with tapRead  │
//   └───────────────────────────────────────────────────────┘
//
// Needs root and iproute2; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Native } from '../../src/io/native.js';
import { openErrorLine } from '../../src/cli/run.js';
import { sum16, finish } from '../../src/wire/checksum.js';
import { inNetns as netns, ip, link, linkExists, tunFlags, macOf, thrown, pack, slots, whileReadable, writeFrames } from '../helpers/native-io.js';

const TAP = 'wt0';
const TAP_IP = '10.244.9.1';
const PEER_IP = '10.244.9.2';
const PEER_MAC = Buffer.from([0x02, 0x00, 0x0a, 0xf4, 0x09, 0x02]);
const VNET_HDR_LEN = 10;

// IPv6 off on the TAP: its router solicitations would only add noise to reads.
const inNetns = (): Native => netns({ noIpv6: true });

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

test('tapOpen: the empty name lets the kernel pick one; TAP_VNET_HDR, TAP_MULTI_QUEUE and TAP_TUN are the flags it takes', () => {
  const n = inNetns();
  const any = n.tapOpen('', 0);
  assert.match(any.name, /^tap\d+$/);
  assert.ok(linkExists(any.name));
  n.close(any.fd);

  const t = n.tapOpen(TAP, n.TAP_VNET_HDR);
  assert.equal(tunFlags(TAP), { type: 'tap', pi: false, vnet_hdr: true, multi_queue: false });
  n.close(t.fd);
  assert.not.ok(linkExists(TAP));
  assert.instance(thrown(() => n.tapOpen(TAP, 0x1000)), RangeError, 'IFF_NOFILTER is not asked for');
  assert.not.ok(linkExists(TAP));

  // Each open with TAP_MULTI_QUEUE adds a queue to the one device (what --workers opens per worker).
  const q0 = n.tapOpen(TAP, n.TAP_VNET_HDR | n.TAP_MULTI_QUEUE);
  const q1 = n.tapOpen(TAP, n.TAP_VNET_HDR | n.TAP_MULTI_QUEUE);
  assert.equal(tunFlags(TAP), { type: 'tap', pi: false, vnet_hdr: true, multi_queue: true });
  assert.is(q1.name, q0.name);
  assert.is.not(q1.fd, q0.fd);
  n.close(q0.fd);
  assert.ok(linkExists(TAP), 'the device stays while one queue is open');
  n.close(q1.fd);
  assert.not.ok(linkExists(TAP));

  // The udp backend's device: L3, no Ethernet header, no packet information.
  const tun = n.tapOpen(TAP, n.TAP_TUN);
  assert.equal(tunFlags(TAP), { type: 'tun', pi: false, vnet_hdr: false, multi_queue: false });
  n.close(tun.fd);
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
  assert.is(lo.message, "TAP name 'lo' is taken by another device");
  // weft run's line names the flag that fixes it.
  assert.is(openErrorLine(lo), "TAP name 'lo' is taken by another device: pick another --tap");

  // A single-queue TAP already attached to an fd: EBUSY.
  const t = n.tapOpen(TAP, 0);
  try {
    const busy = thrown(() => n.tapOpen(TAP, 0));
    assert.is(busy.code, 'EBUSY');
    assert.is(busy.syscall, 'ioctl(TUNSETIFF)');
    assert.is(busy.message, `TAP name '${TAP}' is taken by another device`);
    assert.is(openErrorLine(busy), `TAP name '${TAP}' is taken by another device: pick another --tap`);
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
    assert.equal([n.TUN_F_CSUM, n.TUN_F_TSO4, n.TUN_F_TSO6, n.TUN_F_USO4, n.TUN_F_USO6], [0x01, 0x02, 0x04, 0x20, 0x40]);
  } finally {
    n.close(t.fd);
  }
});

for (const vnet of [false, true]) {
  const how = vnet ? 'with a virtio-net header' : 'plain';

  test(`ARP through the TAP, ${how}: the kernel answers a request written with tapWritev`, async () => {
    const n = inNetns();
    const tap = openTap(n, vnet);
    try {
      const w = pack(withHdr([arpRequest()], tap.hdr));
      assert.is(writeFrames(n, tap.fd, w.slab, w.offs, w.lens, 1), 1);
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
      assert.is(writeFrames(n, tap.fd, w.slab, w.offs, w.lens, 1), 1);
      let seq = -1;
      await readFrames(n, tap.fd, tap.hdr, 8, (f) => (seq = echoReplySeq(f, tap.mac)) >= 0);
      assert.is(seq, 7);
    } finally {
      n.close(tap.fd);
    }
  });
}

test('64 echo requests in one tapWritev; 64 replies read back in batches', async () => {
  const n = inNetns();
  const tap = openTap(n, true);
  try {
    const reqs = Array.from({ length: 64 }, (_, i) => echoRequest(tap.mac, 1000 + i, i * 13));
    const w = pack(withHdr(reqs, tap.hdr), 5);
    assert.is(writeFrames(n, tap.fd, w.slab, w.offs, w.lens, 64), 64);
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

test('tapWritev stops at a frame the kernel refuses: thrown when first, counted before', () => {
  const n = inNetns();
  const tap = openTap(n, false);
  try {
    const good = echoRequest(tap.mac, 1);
    const w = pack([good, good, Buffer.alloc(5), good]);   // 5 bytes: not an Ethernet frame
    assert.is(writeFrames(n, tap.fd, w.slab, w.offs, w.lens, 4), 2);
    const e = thrown(() => writeFrames(n, tap.fd, w.slab, w.offs.subarray(2), w.lens.subarray(2), 2));
    assert.is(e.code, 'EINVAL');
    assert.is(e.syscall, 'writev');
    assert.is(writeFrames(n, tap.fd, w.slab, w.offs.subarray(3), w.lens.subarray(3), 1), 1);
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

test.run();
