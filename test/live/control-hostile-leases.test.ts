// Bad leases in a real store while two hosts keep reaching each other:
// first a real etcd, then the lease file. Each case is written into the
// store as an operator's broken tooling would (the broadcast VTEP MAC, the
// unspecified, loopback and multicast PublicIPs, h1's own address, another
// VNI, junk text, a key of the wrong length, a value too big, a number for
// an address); h1 refuses every one (one log line each, counted in `weft
// stats`, listed by `weft peers`), programs nothing of them (no route, no
// forwarding entry), and pings between h1 and h2 lose nothing throughout.
// A refused lease fixed in place is taken; the `config` key turned to junk is
// said and ignored.
//
//   h1, h2: weft ── 198.18.0.0/24 ── etcd 198.18.0.254 (switch namespace) | the lease file (shared filesystem)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Rig, stopWeft, waitFor, type Proc } from '../helpers/rig.js';
import { Etcd, routesConverged } from '../helpers/etcd.js';
import { FileStore } from '../../src/control/file-store.js';
import { parseCidr4 } from '../../src/control/ip4.js';
import { WEFT, tempDir } from '../helpers/paths.js';

const PREFIX = '/coreos.com/network';
const CONF = '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}';
let rig: Rig;
let etcd: Etcd;
let tmp: { dir: string; done: () => void };
const cli = (i: number, a: string[]) => rig.try(i, [process.execPath, WEFT, ...a]);
const routes = (i: number) => rig.exec(i, ['ip', 'route', 'show', 'dev', 'weft0']);
const value = (ip: unknown, mac = '02:00:00:00:00:99', vni = 1) => JSON.stringify({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: mac } });

/** [key, value, the reason h1 gives]; `json` false: a value only etcd can hold (the file stores JSON). */
const CASES: { key: string; value: string; why: RegExp; json?: false }[] = [
  { key: '10.244.200.0-24', value: value('198.18.0.50', 'ff:ff:ff:ff:ff:ff'), why: /VtepMAC ff:ff:ff:ff:ff:ff is broadcast/ },
  { key: '10.244.201.0-24', value: value('0.0.0.0'), why: /PublicIP 0\.0\.0\.0 is unspecified/ },
  { key: '10.244.202.0-24', value: value('127.0.0.1'), why: /PublicIP 127\.0\.0\.1 is loopback/ },
  { key: '10.244.203.0-24', value: value('224.0.0.1'), why: /PublicIP 224\.0\.0\.1 is multicast/ },
  { key: '10.244.204.0-24', value: value('198.18.0.1'), why: /PublicIP 198\.18\.0\.1 is ours/ },
  { key: '10.244.205.0-24', value: value('198.18.0.55', '02:00:00:00:00:55', 7), why: /VNI 7; the network's is 1/ },
  { key: '10.244.206.0-25', value: value('198.18.0.56'), why: /the subnet is a \/25; the network's SubnetLen is 24/ },
  { key: '10.244.207.0-24', value: JSON.stringify({ PublicIP: '198.18.0.57', BackendType: 'vxlan', BackendData: { VtepMAC: '02:00:00:00:00:57' }, Pad: 'x'.repeat(5000) }), why: /the value is \d+ bytes, more than 4096/ },
  { key: '10.244.208.0-24', value: value(3323068472), why: /PublicIP 3323068472 is not a string/ },
  { key: '10.244.209.0-24', value: '{"PublicIP": "198.18.0.59", ', why: /the value is not JSON/, json: false },
];
const FIXED = value('198.18.0.51', '02:00:00:00:00:51');

/** What the test writes with: etcdctl, or weft's own FileStore as another host's tooling would. */
interface Writer { name: string; args: (i: number) => string[]; put(key: string, v: string): Promise<void>; setConfig(text: string): Promise<void> }

test.before(async () => {
  rig = Rig.up(2);
  tmp = tempDir('hostile');
  etcd = await Etcd.start(rig);
});
test.after(async () => {
  rig.down();
  await etcd?.done();
  tmp?.done();
});

async function run(wr: Writer): Promise<void> {
  const w: Proc[] = [];
  try {
    await cases(wr, w);
  } finally {
    // A failed case must not leave this phase's wefts holding the port for the next.
    for (const p of w) if (p && p.child.exitCode === null) await stopWeft(p, 5000).catch(() => process.kill(p.pid, 'SIGKILL'));
  }
}

async function cases(wr: Writer, w: Proc[]): Promise<void> {
  const subnet: string[] = [];
  for (const i of [1, 2]) {
    w[i] = await rig.weft(i, wr.args(i), 20_000);
    subnet[i] = /"msg":"lease (\S+) in /.exec(w[i].stderr())![1];
  }
  await routesConverged(rig, [1, 2], subnet);
  // Pings both ways the whole time: 5 a second, bounded.
  const pingers = [rig.spawn(1, ['ping', '-c', '75', '-i', '0.2', '-W', '1', subnet[2].split('/')[0]]),
    rig.spawn(2, ['ping', '-c', '75', '-i', '0.2', '-W', '1', subnet[1].split('/')[0]])];
  const bad = CASES.filter((c) => wr.name === 'etcd' || c.json !== false);
  for (const c of bad) await wr.put(c.key, c.value);
  const dash = (k: string) => k.replace('-', '/');
  await waitFor(() => bad.every((c) => w[1].stderr().includes(`lease ${dash(c.key)} refused:`)), 10_000, `h1 to refuse every bad lease (${wr.name})`);
  for (const c of bad) {
    const lines = w[1].stderr().split('\n').filter((l) => l.includes(`lease ${dash(c.key)} refused:`));
    assert.is(lines.length, 1, `${c.key}: said once`);
    assert.match(lines[0], c.why, c.key);
  }
  // Nothing of them programmed: no route, no forwarding entry; counted and listed.
  const r = routes(1);
  for (const c of bad) assert.not.ok(r.includes(dash(c.key)), `${c.key} routed: ${r}`);
  const fdb = cli(1, ['fdb', 'show']).out;
  assert.not.match(fdb, /ff:ff:ff:ff:ff:ff|02:00:00:00:00:99/);
  const n = bad.length;
  assert.match(cli(1, ['stats']).out, new RegExp(`leases: programmed 1 refused ${n} \\(now: invalid ${n}; since start: invalid ${n}\\)`));
  const peers = cli(1, ['peers']).out;
  assert.is(peers.split('\n').filter((l) => / REFUSED invalid: /.test(l)).length, n, peers);
  assert.match(peers, /^lease 10\.244\.201\.0\/24 public-ip - vtep-mac - REFUSED invalid: PublicIP 0\.0\.0\.0 is unspecified$/m);
  // Fixed in place: taken.
  await wr.put('10.244.201.0-24', FIXED);
  await waitFor(() => routes(1).includes('10.244.201.0/24'), 10_000, `h1 to take the fixed lease (${wr.name})`);
  // The log is written asynchronously: the route can be in before the line is out.
  await waitFor(() => /lease 10\.244\.201\.0\/24 is valid now: taken/.test(w[1].stderr()), 5000, 'the line saying the fixed lease is taken');
  assert.match(cli(1, ['stats']).out, new RegExp(`leases: programmed 2 refused ${n - 1} `));
  // The config key turned to junk: said by both, ignored.
  await wr.setConfig('{"Network": 7}');
  for (const i of [1, 2]) {
    await waitFor(() => /network configuration .* changed to one weft cannot use, ignored: .*weft keeps the network it started with \(10\.244\.0\.0\/16/.test(w[i].stderr()), 10_000, `h${i} to say the config is junk`);
  }
  await wr.setConfig(CONF);
  for (const p of pingers) await p.exited;
  for (const p of pingers) {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(p.stdout());
    assert.ok(m, p.stdout());
    assert.is(Number(m![2]), Number(m![1]), `${wr.name}: pings lost while bad leases came: ${m![0]}`);
  }
  for (const i of [1, 2]) {
    assert.not.match(w[i].stderr(), /internal error/);
    assert.is(await stopWeft(w[i], 5000), 0, w[i].stderr().slice(-2000));
  }
}

test('etcd: every bad lease refused, none programmed, pings intact; a fixed one taken; junk config ignored', async () => {
  etcd.put(`${PREFIX}/config`, CONF);
  await run({
    name: 'etcd',
    args: (i) => ['--etcd-endpoints', etcd.endpoint, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `e${i}.env`)],
    put: async (key, v) => { etcd.put(`${PREFIX}/subnets/${key}`, v); },
    setConfig: async (text) => { etcd.put(`${PREFIX}/config`, text); },
  });
});

test('the lease file: the same', async () => {
  const path = join(tmp.dir, 'leases.json');
  const store = new FileStore(path);
  await store.setConfig(CONF);
  await run({
    name: 'file',
    args: (i) => ['--lease-file', path, '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `f${i}.env`)],
    put: async (key, v) => {
      const [ip, len] = key.split('-');
      const c = parseCidr4(`${ip}/${len}`)!;
      const sub = { ip: c.ip, len: c.len };
      const old = await store.get(sub);
      const r = old ? await store.update(sub, v, 3600_000, old.revision) : await store.create(sub, v, 3600_000);
      assert.ok(r, `wrote ${key}`);
    },
    setConfig: (text) => store.setConfig(text),
  });
});

test.run();
