// weft ↔ the Linux kernel's own vxlan device, both directions, with the
// kernel's offloads left at their defaults: the kernel sends inner TCP
// frames with "partial" checksums over veth, and weft must still deliver
// them intact (it marks them for the kernel to complete: io/vnet.ts).
//
//   h1: weft (TAP weft0, 10.244.0.1/24)  ══ 198.18.0.0/24 ══  h2: kernel vx0 (10.244.0.2/24)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, ping, weftStatus, waitFor, stopWeft, type Proc } from '../helpers/rig.js';
import { ROOT } from '../helpers/paths.js';

const XFER = join(ROOT, 'dist/test/helpers/xfer.js');
const WEFT_MAC = '02:00:0a:f4:00:01';
const KERNEL_MAC = '02:00:0a:f4:00:02';
let rig: Rig;
let w: Proc;

test.before(async () => {
  rig = Rig.up(2);
  rig.exec(2, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', '198.18.0.2', 'remote', '198.18.0.1', 'dev', 'eth0']);
  rig.exec(2, ['ip', 'link', 'set', 'vx0', 'address', KERNEL_MAC, 'up']);
  rig.exec(2, ['ip', 'addr', 'add', '10.244.0.2/24', 'dev', 'vx0']);
  w = await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--mac', WEFT_MAC]);
});
test.after(() => rig.down());

test('ping weft → kernel and kernel → weft', () => {
  assert.is(ping(rig, 1, '10.244.0.2').received, 3);
  assert.is(ping(rig, 2, '10.244.0.1').received, 3);
});

test('the kernel learned weft\'s MAC, and weft learned the kernel\'s', async () => {
  const fdb = rig.exec(2, ['bridge', 'fdb', 'show', 'dev', 'vx0']);
  assert.match(fdb, new RegExp(`${WEFT_MAC} dst 198\\.18\\.0\\.1`));
  const s = await weftStatus(w);
  assert.ok(s.fdb.some((e) => e.mac === KERNEL_MAC && e.dst === '198.18.0.2' && e.state === 'learned'), JSON.stringify(s.fdb));
});

async function transfers(port: number): Promise<void> {
  for (const [from, to] of [[1, 2], [2, 1]] as const) {
    const srv = rig.spawn(to, [process.execPath, XFER, 'serve', `10.244.0.${to}`, String(port)]);
    await waitFor(() => /listening/.test(srv.stderr()), 5000, 'xfer server');
    const sent = rig.exec(from, [process.execPath, XFER, 'send', `10.244.0.${to}`, String(port), String(20 << 20)], 70_000).trim();
    await srv.exited;
    assert.is(srv.stdout().trim(), sent, `${from}→${to}`);
  }
}

test('a 20 MB TCP transfer arrives intact in both directions (offloads on, kernel at its defaults)', async () => {
  await transfers(5002);
  const s = await weftStatus(w);
  // TSO super-frames from the host were cut on the way out and sent with UDP GSO.
  const o = (s as unknown as { offload: Record<string, number> }).offload;
  assert.ok(o.superFramesIn > 0 && o.gsoMessages > 0, JSON.stringify(o));
  // The kernel's partial checksums (over veth: nothing to verify) were marked for completion, and no
  // frame was refused as damaged. (Whether any were merged depends on how they arrive: often as whole
  // super-frames, one a datagram, so that is not asserted.)
  assert.ok(o.csumMarkedOut > 0, JSON.stringify(o));
  assert.is(o.csumBadOut, 0, JSON.stringify(o));
});

test('with --no-offload too: partial checksums from the kernel are marked for completion', async () => {
  await stopWeft(w);
  w = await rig.weft(1, ['--no-offload', '--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--mac', WEFT_MAC]);
  await transfers(5003);
  const s = (await weftStatus(w)) as unknown as { offload: Record<string, number> };
  assert.ok(s.offload.csumMarkedOut > 0, JSON.stringify(s.offload));
  assert.is(s.offload.coalesced, 0);
  assert.is(s.offload.superFramesIn, 0);
});

test.run();
