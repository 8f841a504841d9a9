// `weft run`'s options against hostile input: several VNIs
// (`--vni N:TAP[:CIDR]`, repeatable, or a list in the config file), the
// source allow-list switch, the BUM and ICMP budgets. One plain --vni must
// give exactly what it gave before.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { resolveRunConfig, DEFAULT_BUM_RATE } from '../../src/config/run-config.js';
import { parseRunArgs } from '../../src/cli/run.js';
import { UsageError } from '../../src/config/errors.js';
import { parseMac } from '../../src/wire/mac.js';
import { tempDir } from '../helpers/paths.js';

test('one VNI: the overlay is --tap, --vni, --address as before', () => {
  const c = parseRunArgs(['--vni', '7', '--tap', 'w7', '--address', '10.244.0.1/24', '--peer', '198.18.0.2'])!;
  assert.is(c.vni, 7);
  assert.is(c.tap, 'w7');
  assert.equal(c.overlays, [{ vni: 7, tap: 'w7', address: { ip: '10.244.0.1', prefix: 24, family: 4 }, mac: c.mac }]);
  const d = parseRunArgs(['--peer', '198.18.0.2'])!;
  assert.equal(d.overlays.map((o) => [o.vni, o.tap, o.address]), [[1, 'weft0', null]]);
});

test('several VNIs: N:TAP:CIDR, the first may use --tap/--address; IPv6 CIDRs keep their colons', () => {
  const c = parseRunArgs(['--vni', '10', '--address', '10.244.10.1/24', '--vni', '20:weft20:10.244.20.1/24', '--vni', '30:weft30:fd00:30::1/64', '--vni', '40:weft40'])!;
  assert.equal(c.overlays.map((o) => [o.vni, o.tap, o.address && `${o.address.ip}/${o.address.prefix}`]), [
    [10, 'weft0', '10.244.10.1/24'], [20, 'weft20', '10.244.20.1/24'], [30, 'weft30', 'fd00:30::1/64'], [40, 'weft40', null],
  ]);
  // Each TAP's derived MAC differs, and is stable.
  assert.is(new Set(c.overlays.map((o) => o.mac)).size, 4);
  assert.equal(parseRunArgs(['--vni', '10', '--vni', '20:weft20'])!.overlays[1].mac, parseRunArgs(['--vni', '10', '--vni', '20:weft20'])!.overlays[1].mac);
});

test('several VNIs: --mac goes on every TAP', () => {
  const c = resolveRunConfig({ vni: ['10:a', '20:b'], mac: '02:00:0a:f4:00:01' });
  assert.equal(c.overlays.map((o) => o.mac), [parseMac('02:00:0a:f4:00:01'), parseMac('02:00:0a:f4:00:01')]);
});

test('static entries go in the first VNI, or the one after @', () => {
  const c = resolveRunConfig({ vni: ['10', '20:weft20'], static: ['02:00:00:00:00:01=198.18.0.2', '02:00:00:00:00:02=198.18.0.3@20'] });
  assert.equal(c.statics.map((s) => s.vni), [10, 20]);
  assert.throws(() => resolveRunConfig({ vni: ['10'], static: ['02:00:00:00:00:02=198.18.0.3@20'] }), /VNI 20 is not one of the --vni given/);
});

test('the config file takes "vni" as a number or a list', () => {
  const t = tempDir('cfg-vni');
  try {
    const f = join(t.dir, 'weft.json');
    writeFileSync(f, JSON.stringify({ vni: [10, '20:weft20:10.244.20.1/24'], peer: ['198.18.0.2'], 'allow-any-source': true, 'bum-rate': 50, 'icmp-rate': 0 }));
    const c = parseRunArgs(['--config', f])!;
    assert.equal(c.overlays.map((o) => o.vni), [10, 20]);
    assert.equal([c.allowAnySource, c.bumRate, c.bumBurst, c.icmpRate], [true, 50, 50, 0]);
    // A flag replaces the file's list.
    assert.equal(parseRunArgs(['--config', f, '--vni', '5'])!.overlays.map((o) => o.vni), [5]);
    writeFileSync(f, JSON.stringify({ vni: [] }));
    assert.throws(() => parseRunArgs(['--config', f]), /"vni" must be a number, or a list of VNIs/);
    writeFileSync(f, JSON.stringify({ vni: [true] }));
    assert.throws(() => parseRunArgs(['--config', f]), /"vni" must be a number, or a list of VNIs/);
  } finally { t.done(); }
});

test('defaults: allow-list on (decided at start), BUM 1000/s with a second\'s burst, ICMP 100/s', () => {
  const c = resolveRunConfig({ peer: ['198.18.0.2'] });
  assert.equal([c.allowAnySource, c.bumRate, c.bumBurst, c.icmpRate], [false, DEFAULT_BUM_RATE, DEFAULT_BUM_RATE, 100]);
  const d = resolveRunConfig({ 'bum-rate': '0' });
  assert.equal([d.bumRate, d.bumBurst], [0, 1]);
  assert.is(resolveRunConfig({ 'bum-rate': '10', 'bum-burst': '3' }).bumBurst, 3);
});

const BAD: [string, string[], RegExp][] = [
  ['VNI given twice', ['--vni', '10', '--vni', '10:weft10'], /VNI 10 is given twice/],
  ['one TAP for two VNIs', ['--vni', '10:weft1', '--vni', '20:weft1'], /TAP weft1 carries VNI 10 already/],
  ['a later VNI without its TAP', ['--vni', '10', '--vni', '20'], /each after the first needs its own TAP: --vni 20:TAP/],
  ['--tap and a first TAP that differ', ['--tap', 'a', '--vni', '10:b'], /name two TAPs/],
  ['--address and a first CIDR', ['--address', '10.0.0.1/24', '--vni', '10:a:10.0.0.2/24'], /two addresses/],
  ['bad TAP name', ['--vni', '10:bad name'], /not a valid interface name/],
  ['bad CIDR', ['--vni', '10:a:10.0.0.1'], /should be an address with a prefix length/],
  ['VNI not a number', ['--vni', 'x:a'], /--vni: 'x' is not a whole number/],
  ['empty VNI', ['--vni', ''], /--vni: '' is not a whole number/],
  ['a newline in a spec', ['--vni', '1\n0:a'], /not a whole number/],
  ['bum-rate negative', ['--bum-rate=-1'], /--bum-rate: '-1' is not a whole number/],
  ['bum-burst zero', ['--bum-burst', '0'], /--bum-burst: 0 is out of range/],
  ['icmp-rate too big', ['--icmp-rate', '1000000'], /--icmp-rate: 1000000 is out of range/],
  // The lease store's net-conf.json names the one VNI (control-config.ts refuses --vni).
  ['several VNIs with a lease store', ['--lease-file', '/tmp/x.json', '--vni', '1', '--vni', '2:w2'], /--vni: not with a lease store/],
];

for (const [name, argv, re] of BAD) {
  test(`refused: ${name}`, () => {
    assert.throws(() => parseRunArgs(argv), (e: Error) => e instanceof UsageError && re.test(e.message));
  });
}

test.run();
