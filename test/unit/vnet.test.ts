// The virtio-net header weft writes in front of frames going into the TAP:
// frames whose TCP/UDP checksum a kernel peer left "partial" are marked
// NEEDS_CSUM, and completing them as the kernel will gives valid checksums.
// The partial frames are real: the kernel vxlan fixtures.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import {
  writeVnetHeader, writeVnet, VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_ECN,
  vnetFlags, vnetNeedsCsum, vnetGsoType, vnetGsoEcn, vnetHdrLen, vnetGsoSize, vnetCsumStart, vnetCsumOffset,
} from '../../src/io/vnet.js';
import { hex } from '../helpers/bytes.js';
import { readPcapFrames } from '../../src/io/pcap-read.js';
import { sum16, fold, finish, pseudoSumV4, l4Checksum } from '../../src/wire/checksum.js';
import { PCAPS } from '../helpers/paths.js';
import { eth } from '../helpers/packets.js';

/** What the kernel does with NEEDS_CSUM: sum from csum_start to the end, store the complement at csum_offset. */
function complete(b: Buffer, off: number, len: number): void {
  const h = off - VNET_HDR_LEN;
  const start = off + vnetCsumStart(b, h);
  const at = start + vnetCsumOffset(b, h);
  const c = finish(sum16(b, start, off + len - start));
  b.writeUInt16BE(c, at);
}

function l4Ok(f: Buffer): boolean | null {
  const type = f.readUInt16BE(12);
  if (type !== 0x0800) return null;
  const ihl = (f[14] & 15) * 4, proto = f[23];
  if (proto !== 6 && proto !== 17) return null;
  const l4 = 14 + ihl, l4len = f.readUInt16BE(16) - ihl;
  return fold(sum16(f, l4, l4len, pseudoSumV4(f, 26, 30, proto, l4len))) === 0xffff;
}

test('the header as virtio spec §5.1.6 lays it out: little-endian fields at 0, 1, 2, 4, 6, 8', () => {
  const b = Buffer.alloc(VNET_HDR_LEN + 2, 0xee);
  writeVnet(b, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, 0x4a, 0x0576, 0x36, 0x10);
  assert.is(hex(b), 'ee' + '01' + '84' + '4a00' + '7605' + '3600' + '1000' + 'ee');
  assert.equal([vnetFlags(b, 1), vnetNeedsCsum(b, 1), vnetGsoType(b, 1), vnetGsoEcn(b, 1), vnetHdrLen(b, 1), vnetGsoSize(b, 1), vnetCsumStart(b, 1), vnetCsumOffset(b, 1)],
    [1, true, VIRTIO_NET_HDR_GSO_TCPV6, true, 0x4a, 0x0576, 0x36, 0x10]);
});

test('every kernel-sent TCP/UDP frame is partial, gets marked, and completes to a valid checksum', async () => {
  const frames = await readPcapFrames(join(PCAPS, 'kernel-v4-a-inner.pcap'));
  let marked = 0;
  for (const f of frames) {
    if (l4Ok(f) === null) continue;
    assert.is(l4Ok(f), false, 'the fixture frame is partial as captured');
    const b = Buffer.alloc(VNET_HDR_LEN + f.length);
    f.copy(b, VNET_HDR_LEN);
    assert.ok(writeVnetHeader(b, VNET_HDR_LEN, f.length));
    assert.is(vnetFlags(b, 0), VIRTIO_NET_HDR_F_NEEDS_CSUM);
    complete(b, VNET_HDR_LEN, f.length);
    assert.is(l4Ok(b.subarray(VNET_HDR_LEN)), true);
    marked++;
  }
  assert.ok(marked >= 10, `${marked} frames`);
});

test('frames with complete checksums, ICMP, ARP and runts are left unmarked (header all zero)', async () => {
  const frames = await readPcapFrames(join(PCAPS, 'kernel-v4-a-inner.pcap'));
  const complete4 = frames.filter((f) => l4Ok(f) === null); // ARP, ICMP, ICMPv6/ND, the VLAN frame
  assert.ok(complete4.length >= 8);
  // A TCP frame with its checksum filled in properly.
  const tcp = Buffer.from(frames.find((f) => l4Ok(f) === false && f[23] === 6)!);
  const ihl = (tcp[14] & 15) * 4, l4 = 14 + ihl, l4len = tcp.readUInt16BE(16) - ihl;
  tcp.writeUInt16BE(l4Checksum(tcp, l4, l4len, l4 + 16, pseudoSumV4(tcp, 26, 30, 6, l4len)), l4 + 16);
  for (const f of [...complete4, tcp, eth({ payload: 0 }), Buffer.alloc(10)]) {
    const b = Buffer.alloc(VNET_HDR_LEN + f.length, 0xee);
    f.copy(b, VNET_HDR_LEN);
    assert.is(writeVnetHeader(b, VNET_HDR_LEN, f.length), false);
    assert.ok(b.subarray(0, VNET_HDR_LEN).equals(Buffer.alloc(VNET_HDR_LEN)));
  }
});

test.run();
