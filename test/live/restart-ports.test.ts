// Restart and port/VNI behaviour on a two-host rig.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rig, ping, weftStatus, stopWeft, waitFor } from '../helpers/rig.js';

test('a peer killed with SIGKILL and restarted carries traffic again within 2 s, the other host untouched', async () => {
  const rig = Rig.up(2);
  try {
    // No --mac: the derived MAC must be the same after the restart, so h1's ARP cache stays right.
    const args2 = ['--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24'];
    await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
    const w2 = await rig.weft(2, args2);
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    const mac1 = JSON.parse(rig.exec(2, ['ip', '-j', 'link', 'show', 'weft0']))[0].address;
    process.kill(w2.pid, 'SIGKILL');
    await w2.exited;
    // The TAP outlives the process (it is persistent); the restart reattaches to it.
    assert.is(rig.try(2, ['ip', 'link', 'show', 'weft0']).status, 0);
    const t0 = Date.now();
    const w2b = await rig.weft(2, args2);
    const mac2 = JSON.parse(rig.exec(2, ['ip', '-j', 'link', 'show', 'weft0']))[0].address;
    assert.is(mac2, mac1, 'the MAC is stable across restarts');
    // One ping at a time until one comes back, for at most 2 s after the restart.
    let ok = false;
    while (Date.now() - t0 < 2000 && !ok) ok = ping(rig, 1, '10.244.0.2', 1, ['-W', '0.5']).received === 1;
    assert.ok(ok, `no reply within 2 s of the restart (${Date.now() - t0} ms)`);
    await waitFor(() => /reattached to weft0/.test(w2b.stderr()), 5000, 'the reattach line');
  } finally {
    rig.down();
  }
});

test('port 4789 works as well as 8472', async () => {
  const rig = Rig.up(2);
  try {
    const w1 = await rig.weft(1, ['--port', '4789', '--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
    await rig.weft(2, ['--port', '4789', '--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24']);
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    const ss = rig.exec(1, ['ss', '-uln']);
    assert.match(ss, /198\.18\.0\.1:4789/);
    assert.is(await stopWeft(w1), 0);
  } finally {
    rig.down();
  }
});

test('a VNI mismatch carries nothing and is counted', async () => {
  const rig = Rig.up(2);
  try {
    await rig.weft(1, ['--vni', '10', '--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
    const w2 = await rig.weft(2, ['--vni', '11', '--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24']);
    assert.is(ping(rig, 1, '10.244.0.2', 2).received, 0);
    const s = await weftStatus(w2);
    assert.ok(s.counters.rx_drop_unknown_vni >= 1, JSON.stringify(s.counters));
    assert.is(s.counters.rx_frames, 0);
  } finally {
    rig.down();
  }
});

test('weft run: usage errors exit 2 and missing privilege/ports exit 1, each with one line', async () => {
  const rig = Rig.up(1);
  try {
    const bad = rig.try(1, [process.execPath, (await import('../helpers/paths.js')).WEFT, 'run', '--vni', 'x']);
    assert.is(bad.status, 2);
    assert.is(bad.err.trim().split('\n').length, 1, bad.err);
    // Port in use: a kernel vxlan device already listens on 8472.
    rig.exec(1, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', '198.18.0.1', 'dev', 'eth0']);
    rig.exec(1, ['ip', 'link', 'set', 'vx0', 'up']);
    const busy = rig.try(1, [process.execPath, (await import('../helpers/paths.js')).WEFT, 'run', '--local', '198.18.0.1', '--peer', '198.18.0.2']);
    assert.is(busy.status, 1, busy.err);
    assert.match(busy.err, /in use/);
    assert.is(busy.err.trim().split('\n').length, 1, busy.err);
    // The TAP name is taken by another device.
    const taken = rig.try(1, [process.execPath, (await import('../helpers/paths.js')).WEFT, 'run', '--tap', 'eth0', '--port', '4789', '--peer', '198.18.0.2']);
    assert.is(taken.status, 1, taken.err);
    assert.match(taken.err, /taken|in use|exists/);
  } finally {
    rig.down();
  }
});

test('the TAP deleted under a running weft: it notices, says so, and exits 1', async () => {
  const rig = Rig.up(1);
  try {
    const w = await rig.weft(1, ['--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24']);
    rig.exec(1, ['ip', 'link', 'del', 'weft0']);
    const t = new Promise<string>((r) => setTimeout(() => r('timeout'), 3000));
    const code = await Promise.race([w.exited, t]);
    assert.is(code, 1, w.stderr());
    assert.match(w.stderr(), /the TAP weft0 failed \(deleted\?\)/);
  } finally {
    rig.down();
  }
});

test('weft run without CAP_NET_ADMIN (root with every capability dropped) exits 1 saying how to fix it', async () => {
  const rig = Rig.up(1);
  try {
    const { WEFT } = await import('../helpers/paths.js');
    const r = rig.try(1, ['setpriv', '--bounding-set=-all', '--inh-caps=-all', process.execPath, WEFT, 'run', '--port', '4789', '--peer', '198.18.0.2']);
    assert.is(r.status, 1, r.err);
    assert.match(r.err, /CAP_NET_ADMIN: run as root/);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
  } finally {
    rig.down();
  }
});

test.run();
