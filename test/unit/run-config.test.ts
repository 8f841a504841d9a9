// `weft run` configuration: defaults, the JSON file, flags over the file,
// and one clear UsageError for every kind of bad input.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { resolveRunConfig, readConfigFile } from '../../src/config/run-config.js';
import { parseRunArgs } from '../../src/cli/run.js';
import { UsageError } from '../../src/config/errors.js';
import { formatMac, stableMac } from '../../src/wire/mac.js';
import { tempDir } from '../helpers/paths.js';

test('defaults: weft0, VNI 1, port 8472, IPv4, 300 s ageing, a stable derived MAC', () => {
  const c = resolveRunConfig({ peer: ['198.18.0.2'] });
  assert.is(c.tap, 'weft0');
  assert.is(c.vni, 1);
  assert.is(c.port, 8472);
  assert.is(c.family, 4);
  assert.is(c.fdbAgeingS, 300);
  assert.equal(c.peers, [{ ip: '198.18.0.2', port: 8472, family: 4 }]);
  assert.is(c.mac, resolveRunConfig({ peer: ['198.18.0.2'] }).mac);
  // Locally administered unicast.
  assert.match(formatMac(c.mac), /^02:/);
  assert.is.not(stableMac('a'), stableMac('b'));
  assert.is(c.tapQueue, 10000);
});

test('--tap-queue sets the TAP queue; out of range is a usage error', () => {
  assert.is(resolveRunConfig({ peer: ['198.18.0.2'], 'tap-queue': '2500' }).tapQueue, 2500);
  assert.is(parseRunArgs(['--peer', '198.18.0.2', '--tap-queue', '500'])!.tapQueue, 500);
  assert.throws(() => resolveRunConfig({ 'tap-queue': '0' }), (e: Error) => e instanceof UsageError && /--tap-queue/.test(e.message));
  assert.throws(() => resolveRunConfig({ 'tap-queue': 'deep' }), (e: Error) => e instanceof UsageError && /--tap-queue/.test(e.message));
});

test('peers take a port; IPv6 peers in brackets; the family follows --local', () => {
  const c = resolveRunConfig({ local: 'fd00:198:18::1', peer: ['[fd00:198:18::2]:4789', 'fd00:198:18::3'], port: '4789' });
  assert.is(c.family, 6);
  assert.equal(c.peers.map((p) => `${p.ip}/${p.port}`), ['fd00:198:18::2/4789', 'fd00:198:18::3/4789']);
});

test('flags override the JSON file, which overrides defaults', () => {
  const t = tempDir('cfg');
  try {
    const f = join(t.dir, 'weft.json');
    writeFileSync(f, JSON.stringify({ vni: 7, port: 4789, peer: ['198.18.0.2'], address: '10.244.0.1/24', 'fdb-ageing': 60 }));
    const c = parseRunArgs(['--config', f, '--vni', '9'])!;
    assert.is(c.vni, 9);
    assert.is(c.port, 4789);
    assert.is(c.fdbAgeingS, 60);
    assert.equal(c.address, { ip: '10.244.0.1', prefix: 24, family: 4 });
  } finally { t.done(); }
});

const BAD_FLAGS: [string, Record<string, unknown>, RegExp][] = [
  ['VNI too big', { vni: '16777216' }, /--vni: 16777216 is out of range/],
  ['port zero', { port: '0' }, /--port: 0 is out of range/],
  ['port not a number', { port: 'http' }, /not a whole number/],
  ['bad peer', { peer: ['198.18.0.300'] }, /--peer: '198\.18\.0\.300' is not an IPv4 or IPv6 address/],
  ['mixed families', { local: '198.18.0.1', peer: ['fd00::2'] }, /one family/],
  ['address without prefix', { address: '10.244.0.1' }, /--address: .* prefix length/],
  ['prefix too long', { address: '10.244.0.1/33' }, /out of range/],
  ['multicast MAC', { mac: '01:00:5e:00:00:01' }, /multicast/],
  ['bad MAC', { mac: 'zz:00:00:00:00:01' }, /not a MAC address/],
  ['tap name too long', { tap: 'abcdefghijklmnop' }, /not a valid interface name/],
  ['mtu too small', { mtu: '10' }, /--mtu: 10 is out of range/],
  ['static without =', { static: ['02:00:00:00:00:01'] }, /MAC=IP/],
  ['static multicast', { static: ['ff:ff:ff:ff:ff:ff=198.18.0.2'] }, /multicast/],
];
for (const [name, input, re] of BAD_FLAGS) {
  test(`bad flag: ${name}`, () => {
    try {
      resolveRunConfig(input as never);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, UsageError);
      assert.match((e as Error).message, re);
    }
  });
}

const BAD_FILES: [string, string, RegExp][] = [
  ['not JSON', '{vni: 1', /not valid JSON/],
  ['an array', '[1]', /must hold a JSON object/],
  ['unknown key', '{"vnid": 1}', /unknown key "vnid"/],
  ['wrong type', '{"vni": "1"}', /"vni" must be a number/],
  ['peer not a list', '{"peer": "198.18.0.2"}', /"peer" must be a list of strings/],
  ['out of range', '{"vni": -1}', /--vni/],
];
for (const [name, text, re] of BAD_FILES) {
  test(`bad config file: ${name}`, () => {
    const t = tempDir('cfg');
    try {
      const f = join(t.dir, 'bad.json');
      writeFileSync(f, text);
      try {
        resolveRunConfig(readConfigFile(f));
        assert.unreachable('accepted');
      } catch (e) {
        assert.instance(e, UsageError);
        assert.match((e as Error).message, re);
      }
    } finally { t.done(); }
  });
}

test('a missing config file is a usage error naming the file', () => {
  assert.throws(() => readConfigFile('/nonexistent/weft.json'), (e: Error) => e instanceof UsageError && /\/nonexistent\/weft\.json: cannot read it \(ENOENT\)/.test(e.message));
});

test.run();
