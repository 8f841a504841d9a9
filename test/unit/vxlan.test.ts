import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  VxlanView, VXLAN_FLAG_I, VXLAN_HEADER_LEN, overlayMtu, UDP_PAYLOAD_MAX, VXLAN_FRAME_MAX, VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6,
} from '../../src/wire/vxlan.js';
import { hex, unhex } from '../helpers/bytes.js';

// An RFC 7348 §5 header for VNI 0x123456 with only the I flag set.
const BYTES = '08000000 12345600';

test('bytes → fields', () => {
  const v = new VxlanView(unhex(BYTES), 0);
  assert.ok(v.checkLen(VXLAN_HEADER_LEN));
  assert.is(v.flags(), VXLAN_FLAG_I);
  assert.ok(v.hasI());
  assert.is(v.vni(), 0x123456);
  assert.is(v.anyReservedSet(), false);
});

test('fields → bytes, at a non-zero offset', () => {
  const buf = Buffer.alloc(11, 0xee);
  const v = new VxlanView(buf, 3);
  v.emitHeader(0x123456);
  assert.is(hex(buf.subarray(3)), hex(unhex(BYTES)));
  assert.is(hex(buf.subarray(0, 3)), 'eeeeee');
});

test('round trip keeps reserved bits', () => {
  const buf = Buffer.alloc(8);
  const v = new VxlanView(buf, 0);
  const f = { flags: 0x88, reserved1: 0xabcdef, vni: 0xffffff, reserved2: 0x7f };
  v.write(f);
  assert.equal(v.read(), f);
  assert.ok(v.anyReservedSet());
  assert.is(v.reservedFlags(), 0x80);
});

test('impossible length', () => {
  const v = new VxlanView(Buffer.alloc(7), 0);
  assert.is(v.checkLen(7), false);
  assert.is(new VxlanView(Buffer.alloc(8), 1).checkLen(8), false);
});

test('sizes: the overhead per family is the header lengths summed, and the TAP MTU follows the underlay', () => {
  assert.equal([VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6, VXLAN_FRAME_MAX, UDP_PAYLOAD_MAX], [50, 70, 65535 - 56, 65535 - 48]);
  assert.is(overlayMtu(1500, 4), 1450);
  assert.is(overlayMtu(9000, 6), 8930);
  assert.is(overlayMtu(null, 6), 1430);
});

test.run();
