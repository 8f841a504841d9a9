// `weft run`'s control-plane flags: what turns the control plane on, what it
// refuses next to a store, and that a bad net-conf.json exits 2 with the
// field and the reason before any device is touched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseRunArgs } from '../../src/cli/run.js';
import { readConfigFile } from '../../src/config/run-config.js';
import { UsageError } from '../../src/config/errors.js';
import { WEFT, tempDir } from '../helpers/paths.js';

test('no store flag: no control plane, and the plain daemon is unchanged', () => {
  const c = parseRunArgs(['--peer', '198.18.0.2', '--address', '10.244.0.1/24'])!;
  assert.is(c.control, null);
  assert.is(c.peers.length, 1);
});

test('--etcd-endpoints with flanneld\'s defaults', () => {
  const c = parseRunArgs(['--etcd-endpoints', 'http://198.18.0.254:2379,http://198.18.0.253:2379', '--public-ip', '198.18.0.1'])!;
  assert.equal(c.control!.store, { kind: 'etcd', endpoints: ['http://198.18.0.254:2379', 'http://198.18.0.253:2379'], prefix: '/coreos.com/network' });
  assert.is(c.control!.subnetFile, '/run/flannel/subnet.env');
  assert.is(c.control!.renewMarginMs, 3600_000);
  assert.is(c.control!.publicIp, '198.18.0.1');
});

test('--lease-file, and the same names in a --config file', () => {
  const t = tempDir('cfg');
  try {
    const p = join(t.dir, 'weft.json');
    writeFileSync(p, JSON.stringify({ 'lease-file': '/run/weft/leases.json', 'subnet-file': '/tmp/s.env', 'subnet-lease-renew-margin': 30, iface: 'eth0' }));
    const c = parseRunArgs(['--config', p])!;
    assert.equal(c.control!.store, { kind: 'file', path: '/run/weft/leases.json' });
    assert.is(c.control!.subnetFile, '/tmp/s.env');
    assert.is(c.control!.renewMarginMs, 30 * 60_000);
    assert.is(c.control!.iface, 'eth0');
    assert.ok(readConfigFile(p));
  } finally { t.done(); }
});

// rows: argv, expected message
const BAD: [string[], RegExp][] = [
  [['--public-ip', '198.18.0.1'], /--public-ip: needs a lease store: --etcd-endpoints URLS or --lease-file PATH/],
  [['--etcd-endpoints', 'http://a:2379', '--lease-file', '/x'], /pick one lease store/],
  [['--etcd-endpoints', '198.18.0.254:2379'], /'198.18.0.254:2379' is not an endpoint URL/],
  [['--etcd-endpoints', ','], /give at least one URL/],
  [['--lease-file', '/x', '--etcd-prefix', '/a'], /--etcd-prefix: only with --etcd-endpoints/],
  [['--etcd-endpoints', 'http://a:2379', '--etcd-prefix', 'coreos'], /--etcd-prefix: 'coreos' should be a key path/],
  [['--lease-file', '/x', '--vni', '5'], /--vni: not with a lease store; set Backend.VNI in net-conf.json/],
  [['--lease-file', '/x', '--mtu', '1400'], /--mtu: not with a lease store; set Backend.MTU/],
  [['--lease-file', '/x', '--peer', '198.18.0.2'], /--peer: not with a lease store; the leases say/],
  [['--lease-file', '/x', '--address', '10.244.0.1/24'], /--address: not with a lease store/],
  [['--lease-file', '/x', '--public-ip', 'fd00::1'], /--public-ip: fd00::1 is IPv6/],
  [['--lease-file', '/x', '--subnet-lease-renew-margin', '0'], /--subnet-lease-renew-margin: 0 is out of range/],
];

test('bad combinations are UsageErrors that say what to do', () => {
  for (const [argv, re] of BAD) {
    try {
      parseRunArgs(argv);
      assert.unreachable(argv.join(' '));
    } catch (e) {
      assert.instance(e, UsageError, argv.join(' '));
      assert.match((e as Error).message, re, argv.join(' '));
    }
  }
});

test('weft run with a bad net-conf.json exits 2 naming the field, before touching any device', () => {
  const t = tempDir('cfg');
  try {
    const conf = join(t.dir, 'net.json');
    writeFileSync(conf, JSON.stringify({ Network: '10.244.0.0/16', IPv6Network: 'fd00::/56', Backend: { Type: 'vxlan' } }));
    const r = spawnSync(process.execPath, [WEFT, 'run', '--lease-file', join(t.dir, 'l.json'), '--net-config-path', conf, '--public-ip', '198.18.0.1', '--tap', 'weftcfgtest0'], { encoding: 'utf8', timeout: 20_000 });
    assert.is(r.status, 2, r.stderr);
    assert.is(r.stderr, `weft: ${conf}: IPv6Network: given, but EnableIPv6 is not true; add "EnableIPv6": true or remove the IPv6 keys\n`);
    const none = spawnSync(process.execPath, [WEFT, 'run', '--lease-file', join(t.dir, 'l.json'), '--public-ip', '198.18.0.1'], { encoding: 'utf8', timeout: 20_000 });
    assert.is(none.status, 2, none.stderr);
    assert.match(none.stderr, /no network configuration in .*l.json: pass --net-config-path FILE/);
  } finally { t.done(); }
});

test('weft run --help lists the control-plane options', () => {
  const r = spawnSync(process.execPath, [WEFT, 'run', '--help'], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0);
  for (const f of ['--etcd-endpoints', '--lease-file', '--etcd-prefix', '--net-config-path', '--public-ip', '--iface', '--subnet-file']) assert.ok(r.stdout.includes(f), f);
});

test.run();
