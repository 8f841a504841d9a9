// The source allow-list on live wefts: a third host that is nobody's peer
// sends valid VXLAN datagrams at h1's port.
//
//   h3: mac-flood.js ──────────────┐  valid VXLAN, VNI 1, new source MACs
//                                  ▼
//   h1: weft0 10.244.0.1/24 ── weft :8472 ══ switch ══ weft ── weft0 10.244.0.2/24 :h2
//       --peer 198.18.0.2, --metrics 127.0.0.1:9108
//
// With static peers: dropped and counted (rx_drop_unknown_source, in
// /metrics as weft_drops_total{direction="rx",reason="unknown_source"}),
// nothing learned; `weft fdb add` naming h3 makes it known at runtime and
// `weft fdb del` unknown again. With --allow-any-source, and with learning
// only, h3 is taken. With leases (the file store): h3 is a stranger until
// its own weft takes a lease, known while the lease is programmed, and a
// stranger again once the lease is deleted.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Rig, ping, waitFor, type Proc } from '../helpers/rig.js';
import { ROOT, WEFT, tempDir } from '../helpers/paths.js';
import { ask } from '../../src/admin/client.js';
import type { StatsResult } from '../../src/admin/commands.js';
import { FileStore } from '../../src/control/file-store.js';
import { parseCidr4 } from '../../src/control/ip4.js';

const FLOOD = join(ROOT, 'dist/test/helpers/mac-flood.js');
const N = 500;

const stats = (rig: Rig, i: number) => ask({ path: `/run/weft/netns/${rig.ns(i)}/weft0.sock`, what: `on h${i}` }, { cmd: 'stats' }) as Promise<StatsResult>;
const cli = (rig: Rig, i: number, a: string[]) => rig.try(i, [process.execPath, WEFT, ...a]);

/** Sends N valid datagrams (each from a new inner MAC) from host `from` to h1; resolves when they are out and h1 has had 300 ms to read them. */
async function strangerSends(rig: Rig, from = 3): Promise<void> {
  const f = rig.spawn(from, [process.execPath, FLOOD, '198.18.0.1', '8472', '1', String(N), '5000', '10']);
  await f.exited;
  assert.match(f.stdout(), new RegExp(`"sent":${N}`));
  await new Promise((r) => setTimeout(r, 300));
}

/** What moved in h1's counters while `fn` ran. */
async function delta(rig: Rig, fn: () => Promise<void>): Promise<{ dgrams: number; unknown: number; frames: number; learned: number }> {
  const a = await stats(rig, 1);
  await fn();
  const b = await stats(rig, 1);
  return {
    dgrams: b.counters.rx_datagrams - a.counters.rx_datagrams,
    unknown: b.counters.rx_drop_unknown_source - a.counters.rx_drop_unknown_source,
    frames: b.counters.rx_frames - a.counters.rx_frames,
    learned: b.fdb.learned - a.fdb.learned,
  };
}

function metric(rig: Rig, name: string): number {
  const js = `fetch('http://127.0.0.1:9108/metrics').then(async (r) => process.stdout.write(await r.text()), (e) => { console.error(e.message); process.exit(1); })`;
  const line = rig.exec(1, [process.execPath, '-e', js]).split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

test('static peers: a stranger\'s datagrams are dropped, counted, exported, and teach nothing; fdb add/del change that at runtime', async () => {
  const rig = Rig.up(3);
  try {
    // Two forwarding workers: the allow-list and the table are shared, the counters summed.
    const w1 = await rig.weft(1, ['--workers', '2', '--local', '198.18.0.1', '--peer', '198.18.0.2', '--address', '10.244.0.1/24', '--metrics', '127.0.0.1:9108']);
    await rig.weft(2, ['--local', '198.18.0.2', '--peer', '198.18.0.1', '--address', '10.244.0.2/24']);
    assert.match(w1.stderr(), /"sources":"known VTEPs only"/);
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    const entries = (await stats(rig, 1)).fdb.entries;

    const d = await delta(rig, () => strangerSends(rig));
    // (h2's own traffic, an ARP refresh, may arrive meanwhile: it is the difference.)
    assert.ok(d.unknown > N * 0.9 && d.unknown <= N, `h1 dropped ${d.unknown} of ${N}`);
    assert.equal([d.dgrams - d.unknown, d.learned], [d.frames, 0]);
    assert.is((await stats(rig, 1)).fdb.entries, entries);
    assert.is(metric(rig, 'weft_drops_total{direction="rx",reason="unknown_source"}'), (await stats(rig, 1)).counters.rx_drop_unknown_source);
    // The peer is still heard.
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);

    // An operator names a MAC behind h3: h3 is a known VTEP from then on …
    assert.is(cli(rig, 1, ['fdb', 'add', '02:f1:ff:00:00:01', 'dst', '198.18.0.3']).status, 0);
    const known = await delta(rig, () => strangerSends(rig));
    assert.is(known.unknown, 0);
    assert.ok(known.learned > N * 0.9 && known.learned <= N && known.frames >= known.learned, JSON.stringify(known));
    // … and a stranger again once the entry goes.
    assert.is(cli(rig, 1, ['fdb', 'del', '02:f1:ff:00:00:01']).status, 0);
    const again = await delta(rig, () => strangerSends(rig));
    assert.ok(again.unknown > N * 0.9 && again.learned === 0, JSON.stringify(again));
    // The drop warning names the stranger.
    await waitFor(() => /"reason":"rx_drop_unknown_source".*"lastFrom":"198\.18\.0\.3:/.test(w1.stderr()), 3000, 'the drop warning');
  } finally {
    rig.down();
  }
});

test('--allow-any-source, and learning only (no peers): the stranger is taken', async () => {
  for (const extra of [['--peer', '198.18.0.2', '--allow-any-source'], []]) {
    const rig = Rig.up(3);
    try {
      const w1 = await rig.weft(1, ['--local', '198.18.0.1', '--address', '10.244.0.1/24', ...extra]);
      assert.match(w1.stderr(), /"sources":"any"/);
      const d = await delta(rig, () => strangerSends(rig));
      assert.is(d.unknown, 0, extra.join(' '));
      assert.ok(d.learned > N * 0.9 && d.learned <= N && d.frames >= d.learned, JSON.stringify(d));
    } finally {
      rig.down();
    }
  }
});

test('leases: a host is a stranger until its lease is programmed, known while it is, a stranger once it is deleted', async () => {
  const rig = Rig.up(3);
  const tmp = tempDir('hostile-leases');
  try {
    writeFileSync(join(tmp.dir, 'net-conf.json'), '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}}');
    const leases = join(tmp.dir, 'leases.json');
    const args = (i: number) => ['--lease-file', leases, '--net-config-path', join(tmp.dir, 'net-conf.json'), '--local', rig.underlay(i), '--subnet-file', join(tmp.dir, `h${i}.env`)];
    const w: Proc[] = [];
    for (const i of [1, 2]) w[i] = await rig.weft(i, args(i), 20_000);
    assert.match(w[1].stderr(), /"sources":"known VTEPs only"/);

    const before = await delta(rig, () => strangerSends(rig));
    assert.ok(before.unknown > N * 0.9 && before.learned === 0, JSON.stringify(before));

    w[3] = await rig.weft(3, args(3), 20_000);
    const sub3 = /"msg":"lease (\S+) in /.exec(w[3].stderr())![1];
    const gw3 = sub3.replace(/\/\d+$/, '');
    await waitFor(() => rig.exec(1, ['ip', 'route', 'show', 'dev', 'weft0']).includes(sub3), 10_000, 'h1 to route to h3');
    // h1 takes h3's datagrams now: the ping's replies come from h3.
    assert.is(ping(rig, 1, gw3, 3).received, 3);
    const during = await delta(rig, () => strangerSends(rig));
    assert.is(during.unknown, 0);

    // The lease deleted from the store: h1 removes it, and h3 (whose lease it was) stops.
    const c = parseCidr4(sub3)!;
    await new FileStore(leases).delete({ ip: c.ip, len: c.len });
    await waitFor(() => !rig.exec(1, ['ip', 'route', 'show', 'dev', 'weft0']).includes(sub3), 10_000, 'h1 to drop h3\'s lease');
    await w[3].exited;
    const after = await delta(rig, () => strangerSends(rig));
    assert.ok(after.unknown > N * 0.9 && after.learned === 0, JSON.stringify(after));
  } finally {
    rig.down();
    tmp.done();
  }
});

test.run();
