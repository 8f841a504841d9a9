// Operating weft on a two-host rig: /metrics, /healthz and /readyz scraped
// from inside host 1 while traffic flows; `weft fdb`, `weft peers`,
// `weft stats` and `weft capture` (both sides) through the control socket;
// the socket's life: mode 0600, gone after a clean stop, a killed weft's
// stale socket cleared by the next start, a live one never taken over.
//
//   h1: weft0 10.244.0.1/24 ── weft ── 198.18.0.1 ══ switch ══ 198.18.0.2 ── weft ── weft0 10.244.0.2/24 :h2
//       metrics on 127.0.0.1:9108 (h1's own loopback)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, ping, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { WEFT, tempDir } from '../helpers/paths.js';
import { requireTool } from '../helpers/require.js';
import { readPcapFrames } from '../../src/io/pcap-read.js';
import { OuterParser } from '../../src/io/outer.js';
import { DatagramBatch } from '../../src/io/batch.js';

const MAC1 = '02:00:0a:f4:00:01', MAC2 = '02:00:0a:f4:00:02';
const args = (i: number) => ['--local', `198.18.0.${i}`, '--peer', `198.18.0.${3 - i}`, '--address', `10.244.0.${i}/24`, '--mac', i === 1 ? MAC1 : MAC2];
let rig: Rig;
let tmp: { dir: string; done: () => void };
let w1: Proc, w2: Proc;
const sock = (i: number) => `/run/weft/netns/${rig.ns(i)}/weft0.sock`;

/** `weft ARGS…` in host i: status, stdout, stderr. */
const cli = (i: number, a: string[], timeoutMs = 30_000) => rig.try(i, [process.execPath, WEFT, ...a], timeoutMs);

/** GET http://127.0.0.1:9108PATH from inside host 1. */
function get(path: string): { status: number; body: string } {
  const js = `fetch('http://127.0.0.1:9108${path}').then(async (r) => process.stdout.write(r.status + '\\n' + await r.text()), (e) => { console.error(e.message); process.exit(1); })`;
  const out = rig.exec(1, [process.execPath, '-e', js]);
  const nl = out.indexOf('\n');
  return { status: Number(out.slice(0, nl)), body: out.slice(nl + 1) };
}

/** The value of one sample in Prometheus text, or NaN. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

/** ICMP echo type (8 request, 0 reply) and addresses of an Ethernet/IPv4 frame at `off`, or null. */
function icmp(f: Buffer, off = 0): { type: number; src: string; dst: string } | null {
  if (f.length < off + 14 + 20 + 8 || f.readUInt16BE(off + 12) !== 0x0800 || f[off + 14 + 9] !== 1) return null;
  const ip = (o: number) => [...f.subarray(o, o + 4)].join('.');
  const l4 = off + 14 + (f[off + 14] & 0x0f) * 4;
  return { type: f[l4], src: ip(off + 14 + 12), dst: ip(off + 14 + 16) };
}

test.before(async () => {
  rig = Rig.up(2);
  tmp = tempDir('operate');
  w1 = await rig.weft(1, [...args(1), '--metrics', '127.0.0.1:9108']);
  w2 = await rig.weft(2, args(2));
});
test.after(() => {
  rig.down();
  tmp?.done();
});

test('the log is JSON lines, and says where the control socket is (mode 0600)', () => {
  const lines = w1.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.every((l) => typeof l.level === 'string' && typeof l.msg === 'string' && typeof l.time === 'string'), w1.stderr());
  assert.ok(lines.some((l) => l.socket === sock(1)), w1.stderr());
  assert.ok(lines.some((l) => l.metrics === 'http://127.0.0.1:9108/metrics'));
  const st = statSync(sock(1));
  assert.ok(st.isSocket());
  assert.is(st.mode & 0o777, 0o600);
});

test('/healthz and /readyz answer 200 ok; anything else 404', () => {
  assert.equal(get('/healthz'), { status: 200, body: 'ok\n' });
  assert.equal(get('/readyz'), { status: 200, body: 'ok\n' });
  assert.is(get('/nothing').status, 404);
});

test('/metrics: counters move as traffic flows, names follow the conventions', () => {
  const before = get('/metrics').body;
  assert.is(ping(rig, 1, '10.244.0.2', 5).received, 5);
  const m = get('/metrics');
  assert.is(m.status, 200);
  const after = m.body;
  for (const name of ['weft_tx_frames_total', 'weft_tx_datagrams_total', 'weft_rx_datagrams_total', 'weft_rx_frames_total', 'weft_tx_bytes_total', 'weft_rx_bytes_total']) {
    const b = sample(before, name) || 0, a = sample(after, name);
    assert.ok(a >= b + 5, `${name}: ${b} → ${a}`);
  }
  assert.ok(sample(after, 'weft_batch_size_count', 'direction="wire_to_tap"') >= sample(before, 'weft_batch_size_count', 'direction="wire_to_tap"') + 5);
  assert.ok(sample(after, 'weft_batch_size_bucket', 'direction="tap_to_wire",le="+Inf"') >= 5);
  assert.is(sample(after, 'weft_fdb_entries'), 1);
  assert.is(sample(after, 'weft_fdb_learned_total'), 1);
  assert.is(sample(after, 'weft_drops_total', 'direction="rx",reason="unknown_vni"'), 0);
  assert.is(sample(after, 'weft_ready'), 1);
  assert.ok(sample(after, 'process_cpu_user_seconds_total') > 0, 'default process metrics');
  // Every weft_ counter ends in _total; every family has HELP and TYPE.
  const types = [...after.matchAll(/^# TYPE (weft_\S+) (\S+)$/gm)];
  assert.ok(types.length >= 25, String(types.length));
  for (const [, name, type] of types) {
    if (type === 'counter') assert.ok(name.endsWith('_total'), name);
    else assert.not.ok(name.endsWith('_total'), name);
    assert.match(after, `# HELP ${name} `);
  }
});

test('drops from a bad source: counted in /metrics, warned about once (rate-limited), not once per packet', async () => {
  // 20 datagrams for VNI 9, which h1 does not carry, sent from h2 in one burst.
  const js = `const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(8 + 60); b[0] = 8; b[6] = 9; b.fill(2, 8, 20);
    for (let n = 0; n < 20; n++) s.send(b, 8472, '198.18.0.1'); setTimeout(() => s.close(), 100);`;
  rig.exec(2, [process.execPath, '-e', js]);
  await waitFor(() => /"reason":"rx_drop_unknown_vni"/.test(w1.stderr()), 5000, 'the drop warning');
  const unknownVni = () => sample(get('/metrics').body, 'weft_drops_total', 'direction="rx",reason="unknown_vni"');
  await waitFor(() => unknownVni() >= 20, 3000, 'the 20 drops counted');
  assert.is(unknownVni(), 20);
  rig.exec(2, [process.execPath, '-e', js]);
  await new Promise((r) => setTimeout(r, 1500));
  const warns = w1.stderr().split('\n').filter((l) => l.includes('rx_drop_unknown_vni'));
  assert.is(warns.length, 1, warns.join('\n'));
  const o = JSON.parse(warns[0]) as Record<string, unknown>;
  assert.equal([o.level, o.msg], ['warn', 'dropping datagrams from the underlay: rx_drop_unknown_vni']);
  // The check runs once a second, so it may fall inside the burst: the warning counts what it had seen.
  const dropped = o.dropped as number;
  assert.ok(dropped >= 1 && dropped <= 20 && o.total === dropped, `dropped ${dropped}, total ${String(o.total)}`);
  assert.match(String(o.lastFrom), /^198\.18\.0\.2:\d+$/);
  assert.is(unknownVni(), 40);
});

test('weft fdb show lists what was learned, like bridge fdb show; --json too', () => {
  const r = cli(1, ['fdb', 'show']);
  assert.is(r.status, 0, r.err);
  assert.match(r.out, new RegExp(`^${MAC2} dev weft0 dst 198\\.18\\.0\\.2 vni 1 learned age \\d+$`, 'm'));
  const j = JSON.parse(cli(1, ['fdb', 'show', '--json']).out) as { mac: string; dst: string; state: string }[];
  assert.equal(j.map((e) => [e.mac, e.dst, e.state]), [[MAC2, '198.18.0.2', 'learned']]);
});

test('weft peers: the flood list and the VTEPs', () => {
  const r = cli(1, ['peers']);
  assert.is(r.status, 0, r.err);
  assert.match(r.out, /^vni 1 port 8472 flood 198\.18\.0\.2:8472$/m);
  assert.match(r.out, /^vtep 198\.18\.0\.2 port 8472 flood macs 1$/m);
});

test('weft stats: ip -s link style, --json, and --watch with rates', () => {
  const r = cli(1, ['stats']);
  assert.is(r.status, 0, r.err);
  assert.match(r.out, /^weft0: vni 1 port 8472 local 198\.18\.0\.1 up /);
  assert.match(r.out, /^ {4}RX: datagrams/m);
  assert.match(r.out, /^ {4}fdb: entries 1 of 65536 learned 1/m);
  const j = JSON.parse(cli(1, ['stats', '--json']).out) as { counters: Record<string, number> };
  assert.ok(j.counters.rx_frames >= 5 && j.counters.tx_unicast >= 5, JSON.stringify(j.counters));
  const w = cli(1, ['stats', '--watch', '--count', '2', '--interval', '1']);
  assert.is(w.status, 0, w.err);
  assert.is(w.out.match(/^weft0: /gm)?.length, 2);
  assert.match(w.out, /\/s/);
});

/** Runs `weft capture` in host 1 while h1 pings h2 three times; returns the frames and the summary line. */
async function captureDuringPing(side: string): Promise<{ frames: Buffer[]; err: string }> {
  const file = join(tmp.dir, `${side}.pcap`);
  const cap = rig.spawn(1, [process.execPath, WEFT, 'capture', '-w', file, '--side', side, '--duration', '3']);
  await waitFor(() => (JSON.parse(cli(1, ['stats', '--json']).out) as { capture: unknown }).capture !== null, 5000, 'the capture to start');
  assert.is(ping(rig, 1, '10.244.0.2', 3).received, 3);
  assert.is(await cap.exited, 0, cap.stderr());
  return { frames: await readPcapFrames(file), err: cap.stderr() };
}

test('weft capture --side overlay: the inner frames, both directions', async () => {
  const { frames, err } = await captureDuringPing('overlay');
  const echo = frames.map((f) => icmp(f)).filter((x) => x !== null);
  assert.is(echo.filter((e) => e.type === 8 && e.src === '10.244.0.1' && e.dst === '10.244.0.2').length, 3, JSON.stringify(echo));
  assert.is(echo.filter((e) => e.type === 0 && e.src === '10.244.0.2' && e.dst === '10.244.0.1').length, 3);
  assert.match(err, new RegExp(`^weft capture: ${frames.length} overlay frames to .*overlay\\.pcap in [\\d.]+ s \\(3 s\\)\\n$`));
});

test('weft capture --side underlay: whole outer frames with valid checksums; tshark reads them', async () => {
  requireTool('tshark', 'tshark');
  const { frames } = await captureDuringPing('underlay');
  const parser = new OuterParser(8472);
  const dg = new DatagramBatch(1);
  const seen: string[] = [];
  for (const f of frames) {
    assert.ok(parser.parse(f, 0, f.length, dg, 0), `unparsable outer frame: ${JSON.stringify(parser.counters())}`);
    const src = [...f.subarray(26, 30)].join('.'), dst = [...f.subarray(30, 34)].join('.');
    const inner = icmp(f, dg.off[0] + 8);
    if (inner) seen.push(`${src}>${dst} vni ${f.readUIntBE(dg.off[0] + 4, 3)} icmp ${inner.type} ${inner.src}>${inner.dst}`);
  }
  assert.is(seen.filter((s) => s === '198.18.0.1>198.18.0.2 vni 1 icmp 8 10.244.0.1>10.244.0.2').length, 3, seen.join('\n'));
  assert.is(seen.filter((s) => s === '198.18.0.2>198.18.0.1 vni 1 icmp 0 10.244.0.2>10.244.0.1').length, 3, seen.join('\n'));
  const t = rig.exec(1, ['tshark', '-r', join(tmp.dir, 'underlay.pcap'), '-d', 'udp.port==8472,vxlan', '-T', 'fields', '-e', 'vxlan.vni', '-e', 'icmp.type']);
  assert.ok(t.split('\n').filter((l) => l === '1\t8').length === 3, t);
});

test('weft capture --count stops after N frames', async () => {
  const file = join(tmp.dir, 'count.pcap');
  const cap = rig.spawn(1, [process.execPath, WEFT, 'capture', '-w', file, '--count', '2']);
  await waitFor(() => (JSON.parse(cli(1, ['stats', '--json']).out) as { capture: unknown }).capture !== null, 5000, 'the capture to start');
  ping(rig, 1, '10.244.0.2', 3);
  assert.is(await cap.exited, 0, cap.stderr());
  assert.is((await readPcapFrames(file)).length, 2);
  assert.match(cap.stderr(), /\(2 frames\)/);
});

test('weft fdb add/del: a static entry redirects the MAC; deleting it restores forwarding', async () => {
  const add = cli(1, ['fdb', 'add', MAC2, 'dst', '198.18.0.3']);
  assert.is(add.status, 0, add.err);
  assert.match(add.out, /^added 02:00:0a:f4:00:02 dst 198\.18\.0\.3 vni 1 static \(was learned dst 198\.18\.0\.2\)$/m);
  assert.match(cli(1, ['fdb', 'show']).out, new RegExp(`^${MAC2} dev weft0 dst 198\\.18\\.0\\.3 vni 1 static$`, 'm'));
  assert.is(ping(rig, 1, '10.244.0.2', 3).received, 0, 'frames for h2 now go to 198.18.0.3, where nobody is');
  const del = cli(1, ['fdb', 'del', MAC2, 'dst', '198.18.0.3']);
  assert.is(del.status, 0, del.err);
  assert.is(ping(rig, 1, '10.244.0.2', 3).received, 3);
  assert.match(cli(1, ['fdb', 'show']).out, new RegExp(`^${MAC2} dev weft0 dst 198\\.18\\.0\\.2 vni 1 learned`, 'm'));
  // The weft logged both changes (read once the event loop has taken in its stderr).
  await waitFor(() => /"msg":"fdb: entry removed"/.test(w1.stderr()), 2000, 'the log lines');
  assert.match(w1.stderr(), /"mac":"02:00:0a:f4:00:02","dst":"198.18.0.3","vni":1,"replaced":"learned 198.18.0.2","msg":"fdb: static entry added"/);
});

test('weft fdb refusals are one line, exit 1; bad usage exit 2', () => {
  for (const a of [['fdb', 'add', 'ff:ff:ff:ff:ff:ff', 'dst', '198.18.0.3'], ['fdb', 'del', '02:00:00:00:00:99'],
    ['fdb', 'add', MAC2, 'dst', 'fd00::1'], ['fdb', 'add', MAC2, 'dst', '198.18.0.3', '--vni', '9']]) {
    const r = cli(1, a);
    assert.is(r.status, 1, `${a.join(' ')}: ${r.err}`);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^weft: fdb (add|del): /);
  }
  assert.is(cli(1, ['fdb', 'add', MAC2]).status, 2);
  assert.is(cli(1, ['capture']).status, 2);
});

test('a command aimed at no weft says so in one line and exits 1', () => {
  for (const a of [['stats', '--tap', 'nosuch0'], ['fdb', 'show', '--socket', '/run/weft/nosuch.sock'], ['peers', '--tap', 'nosuch0'], ['capture', '-w', '/dev/null', '--tap', 'nosuch0']]) {
    const r = cli(1, a);
    assert.is(r.status, 1, r.err);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^weft: no weft is running (on tap nosuch0|at \/run\/weft\/nosuch\.sock)/);
  }
});

test('a second weft never takes over a live control socket', () => {
  const r = rig.try(1, [process.execPath, WEFT, 'run', '--tap', 'weft1', '--port', '4789', '--control-socket', sock(1)], 15_000);
  assert.is(r.status, 1, r.err);
  assert.match(r.err, /^weft: another weft is running with control socket /);
  assert.is(r.err.trim().split('\n').length, 1, r.err);
  assert.ok(existsSync(sock(1)));
  assert.is(cli(1, ['stats']).status, 0, 'the first weft still answers');
});

test('a killed weft leaves a stale socket: commands say so, the next start removes it', async () => {
  process.kill(w2.pid, 'SIGKILL');
  await w2.exited;
  assert.ok(existsSync(sock(2)));
  const r = cli(2, ['stats']);
  assert.is(r.status, 1);
  assert.match(r.err, /left over from one that was killed/);
  w2 = await rig.weft(2, args(2));
  assert.match(w2.stderr(), /"msg":"removed a stale control socket/);
  assert.is(cli(2, ['stats']).status, 0);
  assert.is(ping(rig, 1, '10.244.0.2', 3).received, 3);
});

test('a stopped weft leaves no socket file behind (and stops within 1 s, metrics endpoint and all)', async () => {
  for (const [i, w] of [[1, w1], [2, w2]] as const) {
    const t0 = Date.now();
    assert.is(await stopWeft(w, 1000), 0, w.stderr());
    assert.ok(Date.now() - t0 < 1000);
    assert.not.ok(existsSync(sock(i)), sock(i));
    assert.match(w.stderr(), /"msg":"stopped by SIGTERM; tap weft0 removed"/);
  }
});

test.run();
