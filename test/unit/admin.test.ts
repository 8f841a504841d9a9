// The operator's side of `weft run` without root: the control socket (its
// file, stale and live sockets, every command through the real client), the
// metrics endpoint and its probes, drop warnings and MAC-move logs. The
// forwarding loop is built on ports that never run, so tests set its state.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Datapath } from '../../src/datapath/datapath.js';
import { C } from '../../src/datapath/counters.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { Operations } from '../../src/cli/run-ops.js';
import { AdminServer } from '../../src/admin/server.js';
import { ask, AdminClient } from '../../src/admin/client.js';
import { RuntimeError } from '../../src/config/errors.js';
import { parseMac } from '../../src/wire/mac.js';
import { decapAll } from '../helpers/datapath.js';
import { eth, v4words, MAC_A, MAC_B, MAC_C } from '../helpers/packets.js';
import { tempDir } from '../helpers/paths.js';
import { daemonState } from '../helpers/daemon-state.js';
import { waitFor } from '../helpers/rig.js';

/** Asserts that `fn` rejects with an error whose message matches `re` (or passes `check`). */
async function rejects(fn: () => Promise<unknown>, check: RegExp | ((e: Error) => boolean), msg?: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const ok = typeof check === 'function' ? check(e as Error) : check.test((e as Error).message);
    assert.ok(ok, `${msg ?? ''} rejected with: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${msg ?? ''} did not reject`);
}

const tmp = tempDir('admin');
test.after(() => tmp.done());
let n = 0;

const vx = (inner: Buffer) => Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 1, 0]), inner]);

/** A weft's state with MAC_B learned behind 198.18.0.2 and MAC_C static at 198.18.0.3, and its log lines. */
function daemon(control: ControlPlane | null = null) {
  const dp = new Datapath({ fdbAgeingMs: 300_000 });
  const v = dp.addVni(1, { port: 8472 });
  dp.addFloodPeer(v, '198.18.0.2');
  dp.addStatic(v, parseMac(MAC_C), '198.18.0.3');
  decapAll(dp, [{ payload: vx(eth({ src: MAC_B, dst: MAC_A })), from: '198.18.0.2' }], performance.now());
  const { st, fwd, lines } = daemonState(dp, v, control);
  const path = join(tmp.dir, `w${n++}.sock`);
  return { st, dp, v, fwd, lines, path, target: { path, what: `at ${path}` } };
}

async function start(d: ReturnType<typeof daemon>, metrics = false): Promise<Operations> {
  return Operations.start(d.st, { controlSocket: d.path, metrics: metrics ? { host: '127.0.0.1', port: 0 } : null, logFormat: 'json', logLevel: 'debug' });
}

test('the socket: mode 0600, every command answers, and close removes the file', async () => {
  const d = daemon();
  const ops = await start(d);
  assert.is(statSync(d.path).mode & 0o777, 0o600);
  assert.ok(d.lines.some((l) => l.socket === d.path && l.msg === `control socket ${d.path}`));
  const fdb = await ask(d.target, { cmd: 'fdb-show' }) as { entries: { mac: string; dst: string; state: string }[] };
  assert.equal(fdb.entries.map((e) => `${e.mac} ${e.dst} ${e.state}`), [`${MAC_B} 198.18.0.2 learned`, `${MAC_C} 198.18.0.3 static`]);
  const peers = await ask(d.target, { cmd: 'peers' }) as { vnis: unknown[]; vteps: { ip: string; flood: boolean; macs: number }[] };
  assert.equal(peers.vnis, [{ vni: 1, port: 8472, flood: ['198.18.0.2:8472'] }]);
  assert.equal(peers.vteps.map((p) => [p.ip, p.flood, p.macs]), [['198.18.0.2', true, 1], ['198.18.0.3', false, 1]]);
  const stats = await ask(d.target, { cmd: 'stats' }) as { counters: Record<string, number>; fdb: { entries: number }; capture: unknown };
  assert.is(stats.counters.rx_frames, 1);
  assert.is(stats.fdb.entries, 2);
  assert.is(stats.capture, null);
  ops.close();
  assert.not.ok(existsSync(d.path));
  await rejects(() => ask(d.target, { cmd: 'stats' }), (e: Error) => e instanceof RuntimeError && /^no weft is running at .*: no control socket there$/.test(e.message));
});

test('fdb add/del through the socket; refusals come back as one-line errors', async () => {
  const d = daemon();
  const ops = await start(d);
  const c = await AdminClient.connect(d.target);
  try {
    const add = await c.request({ cmd: 'fdb-add', mac: MAC_B, dst: '198.18.0.9' }) as { replaced: { state: string; dst: string } };
    assert.equal([add.replaced.state, add.replaced.dst], ['learned', '198.18.0.2']);
    assert.is(d.dp.peers.ipString(d.dp.fdb.lookupMac(1, parseMac(MAC_B))), '198.18.0.9');
    const bad: [object, RegExp][] = [
      [{ cmd: 'fdb-del', mac: MAC_B, dst: '198.18.0.2' }, /^fdb del: 02:00:0a:f4:02:01 is at 198\.18\.0\.9, not 198\.18\.0\.2; nothing removed$/],
      [{ cmd: 'fdb-del', mac: MAC_A }, /^fdb del: no entry for 02:00:0a:f4:01:01 in vni 1$/],
      [{ cmd: 'fdb-add', mac: 'ff:ff:ff:ff:ff:ff', dst: '198.18.0.9' }, /multicast MAC/],
      [{ cmd: 'fdb-add', mac: 'nonsense', dst: '198.18.0.9' }, /'nonsense' is not a MAC address/],
      [{ cmd: 'fdb-add', mac: MAC_A, dst: 'fd00::9' }, /IPv6, but the underlay is IPv4/],
      [{ cmd: 'fdb-add', mac: MAC_A, dst: '198.18.0.9', vni: 5 }, /vni 5 is not configured here \(vni 1\)/],
      [{ cmd: 'bogus' }, /unknown command "bogus"/],
    ];
    for (const [req, re] of bad) await rejects(() => c.request(req as never), re, JSON.stringify(req));
    const del = await c.request({ cmd: 'fdb-del', mac: MAC_B }) as { removed: { state: string } };
    assert.is(del.removed.state, 'static');
    assert.is(d.dp.fdb.lookupMac(1, parseMac(MAC_B)), -1);
    assert.ok(d.lines.some((l) => l.msg === 'fdb: static entry added' && l.dst === '198.18.0.9' && l.replaced === 'learned 198.18.0.2'));
    assert.ok(d.lines.some((l) => l.msg === 'fdb: entry removed' && l.was === 'static'));
  } finally {
    c.close();
    ops.close();
  }
});

test('a stale socket (its weft was killed) is removed at start and said so; a live one is never taken over', async () => {
  const d = daemon();
  // A process that listens on the path and dies by SIGKILL, leaving the file.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(d.path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((r) => child.on('exit', r));
  assert.ok(statSync(d.path).isSocket());
  await rejects(() => AdminClient.connect(d.target), /left over from one that was killed/);
  const ops = await start(d);
  assert.ok(d.lines.some((l) => l.level === 'warn' && /removed a stale control socket/.test(String(l.msg))));
  await rejects(() => AdminServer.open(d.path, () => null), (e: Error) => e instanceof RuntimeError && /^another weft is running with control socket /.test(e.message));
  assert.ok(existsSync(d.path), 'the live socket stays');
  ops.close();
  writeFileSync(d.path, 'not a socket');
  await rejects(() => AdminServer.open(d.path, () => null), /the path exists and is not a socket/);
});

/** GET http://127.0.0.1:PORTpath. */
async function get(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

test('metrics: weft_* read from the counters at scrape time; /healthz and /readyz follow the loop', async () => {
  const d = daemon();
  const ops = await start(d, true);
  const url = String(d.lines.find((l) => typeof l.metrics === 'string')!.metrics);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const base = url.replace('/metrics', '');
  try {
    d.dp.counters.v[C.tx_frames] += 41;
    d.fwd.batchSizes.observe(0, 3);
    const m = await get(url);
    assert.is(m.status, 200);
    for (const line of ['weft_tx_frames_total 41', 'weft_rx_frames_total 1', 'weft_fdb_entries 2', 'weft_fdb_learned_total 1', 'weft_peers 2',
      'weft_flood_peers{vni="1"} 1', 'weft_drops_total{direction="rx",reason="unknown_vni"} 0', 'weft_batch_size_bucket{direction="tap_to_wire",le="2"} 0',
      'weft_batch_size_bucket{direction="tap_to_wire",le="4"} 1', 'weft_batch_size_count{direction="tap_to_wire"} 1', 'weft_ready 1', 'weft_capture_active 0',
      'weft_info{tap="weft0",vni="1",port="8472",control_plane="none"} 1']) {
      assert.ok(m.body.split('\n').includes(line), line);
    }
    assert.match(m.body, /^# TYPE weft_batch_size histogram$/m);
    assert.match(m.body, /^process_resident_memory_bytes \d+/m);
    assert.equal(await get(`${base}/healthz`), { status: 200, body: 'ok\n' });
    assert.equal(await get(`${base}/readyz`), { status: 200, body: 'ok\n' });
    d.fwd.stop();
    assert.equal(await get(`${base}/healthz`), { status: 503, body: 'the TAP or the UDP socket is closed\n' });
    assert.is((await get(`${base}/readyz`)).status, 503);
    assert.is((await get(`${base}/other`)).status, 404);
  } finally {
    ops.close();
  }
});

test('readiness with a lease store: ready once the leases are programmed, not after ours lapses', async () => {
  const own = { expiresMs: Date.now() + 3_600_000 };
  const paths = { ipv4: { vxlan: 1, udp: 0, direct: 1 }, ipv6: { vxlan: 0, udp: 0, direct: 1 } };
  const control = { own, status: () => ({ storeReachable: true, leases: [{}, {}] }), leaseCounts: () => ({ programmed: 2, families: { ipv4: 2, ipv6: 1 }, paths, refused: {}, refusedTotal: {}, routes: { checks: 3, restored: 1 } }),
    ipWork: () => ({ processes: 1, commands: 4 }) } as unknown as ControlPlane;
  const d = daemon(control);
  const ops = await start(d, true);
  const base = String(d.lines.find((l) => typeof l.metrics === 'string')!.metrics).replace('/metrics', '');
  try {
    assert.equal(await get(`${base}/readyz`), { status: 503, body: 'programming the leases from the store\n' });
    assert.is((await get(`${base}/healthz`)).status, 200);
    ops.controlReady = true;
    assert.is((await get(`${base}/readyz`)).status, 200);
    const m = (await get(`${base}/metrics`)).body.split('\n');
    assert.ok(m.includes('weft_lease_held 1') && m.includes('weft_remote_leases 2') && m.includes('weft_lease_store_reachable 1'));
    assert.ok(m.includes('weft_remote_lease_sides{family="ipv6"} 1'), m.join('\n'));
    assert.ok(m.includes('weft_remote_lease_paths{path="direct",family="ipv4"} 1'), m.join('\n'));
    assert.ok(m.includes('weft_remote_lease_paths{path="direct",family="ipv6"} 1'), m.join('\n'));
    assert.ok(m.includes('weft_route_checks_total 3') && m.includes('weft_direct_routes_restored_total 1'), m.join('\n'));
    own.expiresMs = Date.now() - 1;
    assert.equal(await get(`${base}/readyz`), { status: 503, body: 'our lease has lapsed\n' });
    assert.ok((await get(`${base}/metrics`)).body.split('\n').includes('weft_lease_held 0'));
  } finally {
    ops.close();
  }
});

test('drops are warned about once a minute per reason, with the count and the last source', async () => {
  const d = daemon();
  const ops = await start(d);
  try {
    const c = d.dp.counters.v;
    c[C.rx_drop_unknown_vni] += 3;
    d.fwd.lastDrop.set([...v4words('198.18.0.9'), 40001]);
    d.fwd.lastDropSeq++;
    await waitFor(() => d.lines.some((l) => l.reason === 'rx_drop_unknown_vni'), 3000, 'the warning');
    const w = d.lines.filter((l) => l.reason === 'rx_drop_unknown_vni');
    assert.equal(w.map((l) => [l.level, l.msg, l.dropped, l.total, l.lastFrom]), [['warn', 'dropping datagrams from the underlay: rx_drop_unknown_vni', 3, 3, '198.18.0.9:40001']]);
    c[C.rx_drop_unknown_vni] += 5;
    await new Promise((r) => setTimeout(r, 1300));
    assert.is(d.lines.filter((l) => l.reason === 'rx_drop_unknown_vni').length, 1, 'held back within the minute');
  } finally {
    ops.close();
  }
});

test('at debug, a learned MAC that moves is logged (once per MAC per 10 s)', async () => {
  const d = daemon();
  const ops = await start(d);
  try {
    for (const from of ['198.18.0.4', '198.18.0.2', '198.18.0.4']) decapAll(d.dp, [{ payload: vx(eth({ src: MAC_B, dst: MAC_A })), from }], performance.now());
    const moves = d.lines.filter((l) => l.msg === 'MAC moved');
    assert.equal(moves.map((l) => [l.level, l.mac, l.from, l.to]), [['debug', MAC_B, '198.18.0.2:8472', '198.18.0.4:8472']]);
  } finally {
    ops.close();
  }
  assert.is(d.dp.fdb.onMove, null);
});

test.run();
