// A TAP that outlives weft, and the handover, without root: the state
// message (export from one Datapath, import into another), its version and
// shape checks, passing descriptors over a unix socket (a plain file's fd
// goes through and reads the same file), the TAP's record, what an existing
// link must be to be reattached, and which `ip` commands a reattach runs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Datapath } from '../../src/datapath/datapath.js';
import { C } from '../../src/datapath/counters.js';
import { exportState, handoverRefusal, importState, parseState, HANDOVER_VERSION, type HandoverShape } from '../../src/persist/state.js';
import { readRecord, recordPath, removeRecord, writeRecord } from '../../src/persist/tap-record.js';
import { FdReceiver, sendFds } from '../../src/io/fd-pass.js';
import { parseLinkState, tapConfigCommands, tapReuseProblem, type LinkState } from '../../src/io/link.js';
import { parseRequest } from '../../src/admin/protocol.js';
import { native } from '../../src/io/native.js';
import { parseMac, writeMac } from '../../src/wire/mac.js';
import { tempDir } from '../helpers/paths.js';
import { spawn } from 'node:child_process';
import { notifySystemd } from '../../src/persist/systemd.js';
import { createLogger } from '../../src/log/logger.js';
import { waitFor } from '../helpers/rig.js';

const SHAPE: HandoverShape = { overlays: [{ vni: 1, tap: 'weft0', address: '10.244.1.0/32' }], family: 4, port: 8472, local: '198.18.0.1' };

function learnAt(dp: Datapath, mac: string, ip: string, nowMs: number): void {
  const b = Buffer.alloc(6);
  writeMac(b, 0, parseMac(mac));
  dp.fdb.learn(1, b, 0, dp.peers.internIp(ip, 8472), nowMs);
}

test('state: learned entries keep their ages, statics and flood peers come along, counters add up', () => {
  const a = new Datapath({ fdbAgeingMs: 300_000 });
  const va = a.addVni(1, { port: 8472, mtu: 1450 });
  a.addFloodPeer(va, '198.18.0.2');
  a.addStatic(va, parseMac('02:00:00:00:00:09'), '198.18.0.9');
  learnAt(a, '02:00:00:00:00:01', '198.18.0.2', 1_000);
  learnAt(a, '02:00:00:00:00:02', '198.18.0.3', 250_000);
  a.counters.v[C.rx_frames] = 41;
  const s = exportState(a, 300_000, { pid: 7, fds: ['udp', 'tap:weft0'], lease: null, handovers: 2, crashReattaches: 1 });
  // Through JSON, as it travels.
  const back = parseState(JSON.parse(JSON.stringify(s)));
  assert.is(back.version, HANDOVER_VERSION);

  const b = new Datapath({ fdbAgeingMs: 300_000 });
  const vb = b.addVni(1, { port: 8472, mtu: 1450 });
  b.counters.v[C.rx_frames] = 1;
  const got = importState(b, back, 10_000);
  assert.equal({ learned: got.learned, statics: got.statics, flood: got.flood, refused: got.refused }, { learned: 2, statics: 1, flood: 1, refused: [] });
  assert.is(b.counters.v[C.rx_frames], 42);
  assert.is(vb.flood.count, 1);
  assert.is(b.peers.ipString(b.fdb.lookupMac(1, parseMac('02:00:00:00:00:09'))), '198.18.0.9');
  // The entry last seen 299 s before the export ages out 1 s after the import; the other does not.
  assert.is(b.fdb.age(10_000 + 999), 0);
  assert.is(b.fdb.age(10_000 + 1_000), 1);
  assert.is(b.fdb.lookupMac(1, parseMac('02:00:00:00:00:01')), -1);
  assert.ok(b.fdb.lookupMac(1, parseMac('02:00:00:00:00:02')) >= 0);
});

test('state with an overlap: the snapshot brings no counters; the final state adds them and leaves the entries the successor saw itself', () => {
  const a = new Datapath({ fdbAgeingMs: 300_000 });
  a.addVni(1, { port: 8472, mtu: 1450 });
  learnAt(a, '02:00:00:00:00:01', '198.18.0.2', 1_000);
  a.counters.v[C.rx_frames] = 40;
  const b = new Datapath({ fdbAgeingMs: 300_000 });
  b.addVni(1, { port: 8472, mtu: 1450 });
  const snap = importState(b, exportState(a, 2_000, { pid: 1, fds: [], lease: null, handovers: 0, crashReattaches: 0 }), 2_000, { counters: false, keepOwn: false });
  assert.is(snap.learned, 1);
  assert.is(b.counters.v[C.rx_frames], 0);
  // Both forward for a while: each counts its own frames; the successor sees 01 move, the running weft learns 02.
  b.counters.v[C.rx_frames] = 5;
  learnAt(b, '02:00:00:00:00:01', '198.18.0.3', 2_100);
  learnAt(a, '02:00:00:00:00:02', '198.18.0.4', 2_150);
  a.counters.v[C.rx_frames] += 7;
  const fin = importState(b, exportState(a, 2_200, { pid: 1, fds: [], lease: null, handovers: 0, crashReattaches: 0 }), 2_200, { counters: true, keepOwn: true });
  assert.is(fin.learned, 1);
  assert.is(b.counters.v[C.rx_frames], 52, 'every frame counted once');
  assert.is(b.peers.ipString(b.fdb.lookupMac(1, parseMac('02:00:00:00:00:01'))), '198.18.0.3', 'its own, fresher view kept');
  assert.is(b.peers.ipString(b.fdb.lookupMac(1, parseMac('02:00:00:00:00:02'))), '198.18.0.4');
});

test('state: a full table takes what fits and lists the rest', () => {
  const a = new Datapath();
  a.addVni(1, { port: 8472, mtu: 1450 });
  for (let k = 1; k <= 3; k++) learnAt(a, `02:00:00:00:00:0${k}`, `198.18.0.${k}`, 0);
  const b = new Datapath({ peerCapacity: 2 });
  b.addVni(1, { port: 8472, mtu: 1450 });
  const got = importState(b, exportState(a, 0, { pid: 1, fds: [], lease: null, handovers: 0, crashReattaches: 0 }), 0);
  assert.is(got.learned, 2);
  assert.is(got.refused.length, 1);
  assert.match(got.refused[0], /peer table is full/);
});

test('state: another version or another shape is refused before anything is paused', () => {
  assert.is(handoverRefusal({ version: HANDOVER_VERSION, path: '/x', pid: 1, shape: SHAPE }, SHAPE), null);
  assert.match(handoverRefusal({ version: HANDOVER_VERSION + 1, path: '/x', pid: 1, shape: SHAPE }, SHAPE)!, /speaks handover version 1, this one 2/);
  const other = { ...SHAPE, port: 4789 };
  assert.match(handoverRefusal({ version: HANDOVER_VERSION, path: '/x', pid: 1, shape: other }, SHAPE)!, /differ .*udp 198\.18\.0\.1:4789.* vs .*:8472/);
  assert.throws(() => parseState({ version: 99 }), /state version 99/);
  assert.throws(() => parseState({ version: HANDOVER_VERSION, pid: 1 }), /lacks a field/);
});

test('protocol: handover, handover-state and handover-done parse; a handover without a shape does not', () => {
  assert.equal(parseRequest({ cmd: 'handover', version: 1, path: '/p', pid: 5, shape: SHAPE }), { cmd: 'handover', version: 1, path: '/p', pid: 5, shape: SHAPE });
  assert.equal(parseRequest({ cmd: 'handover-done' }), { cmd: 'handover-done' });
  assert.equal(parseRequest({ cmd: 'handover-state' }), { cmd: 'handover-state' });
  assert.throws(() => parseRequest({ cmd: 'handover', version: 1, path: '/p', pid: 5 }), /"shape" must be an object/);
});

test('fd passing: a descriptor sent over the unix socket reads the same open file', () => {
  const { dir, done } = tempDir('persist-fds');
  const file = join(dir, 'data');
  writeFileSync(file, 'handed over');
  const fd = openSync(file, 'r');
  const rx = new FdReceiver(join(dir, 'rx.sock'));
  try {
    assert.is(rx.take(), null, 'nothing sent yet');
    sendFds(rx.path, [fd], Buffer.from('{"fds":["file"]}'));
    const got = rx.take();
    assert.ok(got);
    assert.is(got.header.toString(), '{"fds":["file"]}');
    assert.is(got.fds.length, 1);
    assert.is.not(got.fds[0], fd, 'a new descriptor number in the receiver');
    const buf = Buffer.alloc(32);
    const n = readSync(got.fds[0], buf, 0, 32, 0);
    assert.is(buf.subarray(0, n).toString(), 'handed over');
    native().close(got.fds[0]);
  } finally {
    closeSync(fd);
    rx.close();
  }
  assert.throws(() => sendFds(rx.path, [], Buffer.from('x')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT', 'the path goes at close');
  done();
});

test('record: counts survive a rewrite, a bad file counts from zero, it goes with the TAP', () => {
  const { dir, done } = tempDir('persist-record');
  const p = recordPath(join(dir, 'weft0.sock'));
  assert.is(p, join(dir, 'weft0.tap.json'));
  assert.equal(readRecord(p), { handovers: 0, crashReattaches: 0, kept: false });
  writeRecord(p, { handovers: 3, crashReattaches: 1, kept: true });
  assert.equal(readRecord(p), { handovers: 3, crashReattaches: 1, kept: true });
  assert.equal(JSON.parse(readFileSync(p, 'utf8')), { handovers: 3, crashReattaches: 1, kept: true });
  writeFileSync(p, '{"handovers": -2, "crashReattaches": "x"');
  assert.equal(readRecord(p), { handovers: 0, crashReattaches: 0, kept: false });
  removeRecord(p);
  removeRecord(p);
  assert.is(readRecord(p).handovers, 0);
  done();
});

// `ip -j -d addr show dev NAME` as iproute2 prints it for a TAP made by weft.
const TAP_JSON = JSON.stringify([{
  ifname: 'weft0', flags: ['BROADCAST', 'MULTICAST', 'UP'], mtu: 1450, txqlen: 10000, address: '02:cc:82:92:51:0a',
  linkinfo: { info_kind: 'tun', info_data: { type: 'tap', pi: false, vnet_hdr: true, multi_queue: false, persist: true } },
  addr_info: [{ family: 'inet', local: '10.244.1.0', prefixlen: 32 }, { family: 'inet6', local: 'fe80::cc:82ff:fe92:510a', prefixlen: 64 }],
}]);

test('reattach: only a TAP made as weft makes them is taken, and the line says what is wrong', () => {
  const s = parseLinkState(TAP_JSON);
  assert.equal(s.tun, { type: 'tap', pi: false, vnetHdr: true, multiQueue: false, persist: true });
  assert.equal(s.addrs, ['10.244.1.0/32', 'fe80::cc:82ff:fe92:510a/64']);
  assert.is(tapReuseProblem('weft0', s), null);
  const tun: LinkState = { ...s, tun: { ...s.tun!, type: 'tun', vnetHdr: false } };
  assert.match(tapReuseProblem('weft0', tun)!, /^TAP 'weft0' exists with other flags than weft's \(it has: tun; weft needs: tap vnet_hdr, one queue\)/);
  assert.match(tapReuseProblem('weft0', { ...s, tun: { ...s.tun!, multiQueue: true } })!, /multi_queue/);
  assert.match(tapReuseProblem('weft0', { ...s, kind: 'veth', tun: null })!, /^'weft0' exists and is not a TAP \(veth\): pick another --tap/);
});

test('reattach: nothing is changed on a TAP that is as wanted; a new one gets everything', () => {
  const s = parseLinkState(TAP_JSON);
  const mac = parseMac('02:cc:82:92:51:0a');
  const addr = { ip: '10.244.1.0', prefix: 32 };
  assert.equal(tapConfigCommands('weft0', s, mac, 1450, 10000, addr), []);
  assert.equal(tapConfigCommands('weft0', { ...s, mtu: 1400, up: false }, mac, 1450, 10000, addr), [
    ['link', 'set', 'dev', 'weft0', 'mtu', '1450'],
    ['link', 'set', 'dev', 'weft0', 'up'],
  ]);
  assert.equal(tapConfigCommands('weft0', null, mac, 1450, 10000, addr), [
    ['link', 'set', 'dev', 'weft0', 'address', '02:cc:82:92:51:0a', 'mtu', '1450', 'txqueuelen', '10000'],
    ['addr', 'add', '10.244.1.0/32', 'dev', 'weft0'],
    ['link', 'set', 'dev', 'weft0', 'up'],
  ]);
});

test('systemd: READY=1 and MAINPID go to $NOTIFY_SOCKET as one datagram each; without it nothing is sent', async () => {
  const { dir, done } = tempDir('persist-notify');
  const path = join(dir, 'notify.sock');
  // A stand-in for systemd's end: python3 (node-gyp's, so present) prints what arrives.
  const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\n' +
    'for _ in range(2): print(repr(s.recv(512).decode()),flush=True)';
  const p = spawn('python3', ['-c', py, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    await waitFor(() => out.includes('bound'), 5000, 'the listener');
    const log = createLogger({ format: 'json', level: 'silent' });
    const saved = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = path;
    notifySystemd('READY=1', log);
    notifySystemd(`MAINPID=${process.pid}`, log);
    delete process.env.NOTIFY_SOCKET;
    notifySystemd('READY=1', log);
    if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
    await waitFor(() => out.split('\n').length >= 4, 5000, 'both datagrams');
    assert.equal(out.trim().split('\n').slice(1), ["'READY=1'", `'MAINPID=${process.pid}'`]);
  } finally {
    p.kill();
    done();
  }
});

test.run();
