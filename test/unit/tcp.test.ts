import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  TcpView, TCP_HEADER_LEN, TCP_HEADER_MAX_LEN, TCP_PSH, TCP_ACK, TCP_SYN, TCP_FIN, TCP_CWR, TCP_OFF_FLAGS, TCP_OFF_CHECKSUM,
  tcpSeqAt, tcpDataOffsetAt, type TcpFields,
} from '../../src/wire/tcp.js';
import { guarded, hex, outside, unhex } from '../helpers/bytes.js';

// A data segment from port 40000 to 5201, sequence 0x90000007 (above 2^31
// on purpose), ack 7, PSH|ACK, window 500, with 12 bytes of options (NOP,
// NOP, timestamps): Data Offset 8 words. Written out by hand from RFC 9293
// §3.1's diagram.
const HDR = '9c401451 90000007 00000007 801801f4 beef0000' + '0101080a 00000001 00000002';
const FIELDS: TcpFields = { srcPort: 40000, dstPort: 5201, seq: 0x90000007, ack: 7, dataOffset: 32, flags: TCP_PSH | TCP_ACK, window: 500, checksum: 0xbeef, urgent: 0 };

test('bytes → fields', () => {
  const b = unhex(HDR);
  const v = new TcpView(b, 0);
  assert.ok(v.checkLen(b.length));
  assert.equal(v.read(), FIELDS);
  assert.is(v.payloadOffset(), 32);
  assert.ok(v.has(TCP_PSH) && v.has(TCP_ACK) && !v.has(TCP_SYN) && !v.has(TCP_FIN));
  // The hot path's functions and offsets agree with the view.
  assert.is(tcpSeqAt(b, 0) >>> 0, 0x90000007);
  assert.is(tcpDataOffsetAt(b, 0), 32);
  assert.is(b[TCP_OFF_FLAGS], TCP_PSH | TCP_ACK);
  assert.is(b.readUInt16BE(TCP_OFF_CHECKSUM), 0xbeef);
});

test('fields → exact bytes, at a non-zero offset', () => {
  const buf = guarded(3, TCP_HEADER_LEN);
  new TcpView(buf, 3).write(FIELDS);
  assert.is(hex(buf.subarray(3, 3 + TCP_HEADER_LEN)), HDR.replace(/ /g, '').slice(0, 40));
  assert.is(outside(buf, 3, TCP_HEADER_LEN), 'ee'.repeat(5));
});

test('round trip', () => {
  const f: TcpFields = { srcPort: 65535, dstPort: 1, seq: 0xffffffff, ack: 0x80000000, dataOffset: TCP_HEADER_MAX_LEN, flags: TCP_CWR | TCP_SYN, window: 0xfffe, checksum: 0x8001, urgent: 0x1234 };
  const v = new TcpView(Buffer.alloc(1 + TCP_HEADER_MAX_LEN), 1);
  v.write(f);
  assert.equal(v.read(), f);
  assert.equal(new TcpView(unhex(HDR), 0).read(), FIELDS);
  // Setters move one field each; the reserved bits survive setDataOffset.
  v.buf[1 + 12] |= 0x0f;
  v.setDataOffset(20);
  assert.is(v.buf[1 + 12], 0x5f);
  v.setSeq(1); v.setAck(2); v.setWindow(3); v.setChecksum(4); v.setUrgent(5); v.setFlags(TCP_FIN);
  assert.equal({ ...v.read(), srcPort: 0, dstPort: 0 }, { srcPort: 0, dstPort: 0, seq: 1, ack: 2, dataOffset: 20, flags: TCP_FIN, window: 3, checksum: 4, urgent: 5 });
});

test('impossible length', () => {
  const b = unhex(HDR);
  // Fewer than the fixed 20 bytes, from the caller or the buffer.
  assert.is(new TcpView(b, 0).checkLen(19), false);
  assert.is(new TcpView(b.subarray(0, 19), 0).checkLen(20), false);
  // Data Offset says 32 bytes: 20 arrived, or the buffer ends first.
  assert.is(new TcpView(b, 0).checkLen(20), false);
  assert.is(new TcpView(b.subarray(0, 30), 0).checkLen(32), false);
  assert.is(new TcpView(b, 1).checkLen(32), false);
  // Data Offset below the fixed header (RFC 9293: at least 5 words).
  const v = new TcpView(Buffer.from(b), 0);
  v.setDataOffset(16);
  assert.is(v.checkLen(32), false);
  v.setDataOffset(20);
  assert.ok(v.checkLen(20));
});

test.run();
