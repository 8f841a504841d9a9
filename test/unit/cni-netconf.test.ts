// weft-cni's pure parts: subnet.env read as flannel's plugin reads it, the
// plugin's config checked, and the delegate's config built as flannel builds
// it (flannel_linux.go doCmdAdd, getDelegateIPAM).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSubnetEnv, network6 } from '../../src/cni/subnet-env.js';
import { delegateConf, parsePluginConf, withRouteGateways, DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE } from '../../src/cni/netconf.js';
import { CniError, CNI_ERR } from '../../src/cni/errors.js';

const V4 = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.58.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
const DUAL = V4 + 'FLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=fd00:244:0:3a::1/64\n';

function codeOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof CniError) return e.code;
    throw e;
  }
  return -1;
}

test('subnet.env as weft and flanneld write it: each subnet becomes its network', () => {
  assert.equal(parseSubnetEnv(V4, 'x'), { networks4: ['10.244.0.0/16'], subnet4: '10.244.58.0/24', networks6: [], subnet6: null, mtu: 1450, ipMasq: false });
  const d = parseSubnetEnv(DUAL, 'x');
  assert.equal([d.networks6, d.subnet6], [['fd00:244::/48'], 'fd00:244:0:3a::/64']);
});

test('subnet.env: IPv6 only, several networks (deduplicated), IPMASQ true only when it says true', () => {
  const e = parseSubnetEnv('FLANNEL_IPV6_NETWORK=fd00:244::/48,fd00:245::/48,fd00:244::1/48\nFLANNEL_IPV6_SUBNET=fd00:244:0:5::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n', 'x');
  assert.equal([e.networks4, e.subnet4, e.networks6, e.subnet6, e.mtu, e.ipMasq], [[], null, ['fd00:244::/48', 'fd00:245::/48'], 'fd00:244:0:5::/64', 1430, true]);
  assert.is(parseSubnetEnv(V4.replace('false', 'yes'), 'x').ipMasq, false);
});

test('network6: host bits cleared at any prefix length', () => {
  // rows: CIDR, its network
  for (const [c, n] of [['fd00:244:0:5::1/64', 'fd00:244:0:5::/64'], ['fd00:244:ffff::1/45', 'fd00:244:fff8::/45'], ['::1/0', '::/0'], ['2001:2::1/128', '2001:2::1/128']]) {
    assert.is(network6(c), n, c);
  }
  for (const bad of ['10.0.0.0/8', 'fd00::/129', 'fd00::', 'zz::/64']) assert.is(network6(bad), null, bad);
});

// rows: subnet.env text, what the message names
const BAD_ENV: [string, RegExp][] = [
  ['FLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n', /missing FLANNEL_NETWORK or FLANNEL_IPV6_NETWORK/],
  ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n', /missing FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET/],
  [V4.replace('FLANNEL_MTU=1450\n', ''), /missing FLANNEL_MTU/],
  [V4.replace('FLANNEL_IPMASQ=false\n', ''), /missing FLANNEL_IPMASQ/],
  [V4.replace('1450', '14x0'), /FLANNEL_MTU=14x0/],
  [V4.replace('10.244.58.1/24', 'fd00::1/64'), /FLANNEL_SUBNET=fd00::1\/64 is not an IPv4 CIDR/],
  [V4 + 'FLANNEL_IPV6_SUBNET=10.1.0.0/16\n', /FLANNEL_IPV6_SUBNET/],
  [V4.replace('10.244.0.0/16', '10.244.0.0/16,nonsense'), /"nonsense" is not a CIDR/],
  ['', /missing FLANNEL_NETWORK/],
];

test('subnet.env that cannot be used: code 100, naming the file and the key', () => {
  for (const [text, msg] of BAD_ENV) {
    try {
      parseSubnetEnv(text, '/run/flannel/subnet.env');
      assert.unreachable(text);
    } catch (e) {
      assert.instance(e, CniError);
      assert.is((e as CniError).code, CNI_ERR.badSubnetEnv);
      assert.match((e as Error).message, '/run/flannel/subnet.env');
      assert.match((e as Error).message, msg);
    }
  }
});

test('plugin config: flannel\'s defaults for subnetFile and dataDir', () => {
  const c = parsePluginConf('{"cniVersion":"1.0.0","name":"cbr0","type":"weft-cni"}');
  assert.equal([c.name, c.cniVersion, c.subnetFile, c.dataDir, c.delegate, c.ipam], ['cbr0', '1.0.0', DEFAULT_SUBNET_FILE, DEFAULT_DATA_DIR, null, null]);
  assert.is(parsePluginConf('{"name":"n","type":"weft-cni"}').cniVersion, '0.1.0', 'no cniVersion: 0.1.0, as the spec says');
});

// rows: config, the spec's code
const BAD_CONF: [string, number][] = [
  ['{"name": "n",', CNI_ERR.decode],
  ['[1]', CNI_ERR.decode],
  ['{"type":"weft-cni"}', CNI_ERR.invalidConfig],
  ['{"name":"n","cniVersion":"2.0.0"}', CNI_ERR.incompatibleVersion],
  ['{"name":"n","cniVersion":1}', CNI_ERR.invalidConfig],
  ['{"name":"n","subnetFile":""}', CNI_ERR.invalidConfig],
  ['{"name":"n","dataDir":3}', CNI_ERR.invalidConfig],
  ['{"name":"n","delegate":[]}', CNI_ERR.invalidConfig],
  ['{"name":"n","delegate":{"type":7}}', CNI_ERR.invalidConfig],
  ['{"name":"n","delegate":{"type":"../../bin/sh"}}', CNI_ERR.invalidConfig],
  ['{"name":"n","delegate":{"name":"x"}}', CNI_ERR.invalidConfig],
  ['{"name":"n","delegate":{"ipam":{}}}', CNI_ERR.invalidConfig],
  ['{"name":"n","ipam":{"routes":[{"gw":"1.2.3.4"}]}}', CNI_ERR.invalidConfig],
  ['{"name":"n","ipam":{"type":1}}', CNI_ERR.invalidConfig],
];

test('plugin config refused with the spec\'s code', () => {
  for (const [text, code] of BAD_CONF) assert.is(codeOf(() => parsePluginConf(text)), code, text);
});

test('the delegate: bridge, ipMasq inverted, the MTU, isGateway, host-local with a range per family and routes to both networks', () => {
  const d = delegateConf(parsePluginConf('{"cniVersion":"1.0.0","name":"cbr0","type":"weft-cni"}'), parseSubnetEnv(DUAL, 'x'));
  assert.equal(d, {
    name: 'cbr0', type: 'bridge', ipMasq: true, mtu: 1450, isGateway: true, cniVersion: '1.0.0',
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: '10.244.58.0/24' }], [{ subnet: 'fd00:244:0:3a::/64' }]],
      routes: [{ dst: '10.244.0.0/16' }, { dst: 'fd00:244::/48' }],
    },
  });
});

test('the delegate: the config\'s delegate keys and ipam win; its routes come first; runtimeConfig passed', () => {
  const c = parsePluginConf(JSON.stringify({
    cniVersion: '0.4.0', name: 'n', type: 'weft-cni',
    delegate: { hairpinMode: true, isDefaultGateway: true, ipMasq: false, mtu: 1400, isGateway: false },
    ipam: { dataDir: '/tmp/x', routes: [{ dst: '192.168.0.0/16' }] },
    runtimeConfig: { portMappings: [] },
  }));
  const d = delegateConf(c, parseSubnetEnv(V4, 'x'));
  assert.equal([d.hairpinMode, d.isDefaultGateway, d.ipMasq, d.mtu, d.isGateway, d.cniVersion, d.runtimeConfig], [true, true, false, 1400, false, '0.4.0', { portMappings: [] }]);
  assert.equal(d.ipam, { dataDir: '/tmp/x', type: 'host-local', ranges: [[{ subnet: '10.244.58.0/24' }]], routes: [{ dst: '192.168.0.0/16' }, { dst: '10.244.0.0/16' }] });
});

test('the delegate: another type gets no isGateway; an IPv6-only host one range; no cniVersion in, none out', () => {
  const c = parsePluginConf('{"name":"n","delegate":{"type":"ipvlan","master":"eth0"}}');
  const d = delegateConf(c, parseSubnetEnv('FLANNEL_IPV6_NETWORK=fd00:244::/48\nFLANNEL_IPV6_SUBNET=fd00:244:0:5::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n', 'x'));
  assert.equal([d.type, 'isGateway' in d, d.ipMasq, 'cniVersion' in d], ['ipvlan', false, false, false]);
  assert.equal((d.ipam as { ranges: unknown }).ranges, [[{ subnet: 'fd00:244:0:5::/64' }]]);
});

test('withRouteGateways: a route without gw gets its family\'s gateway; a route with one, or no gateway, is left', () => {
  const prev = {
    cniVersion: '1.0.0',
    ips: [{ address: '10.244.7.2/24', gateway: '10.244.7.1' }, { address: 'fd00:244:0:7::2/64', gateway: 'fd00:244:0:7::1' }],
    routes: [{ dst: '10.244.0.0/16' }, { dst: 'fd00:244::/48' }, { dst: '0.0.0.0/0', gw: '10.244.7.254' }],
  };
  assert.equal((withRouteGateways(prev) as typeof prev).routes, [
    { dst: '10.244.0.0/16', gw: '10.244.7.1' }, { dst: 'fd00:244::/48', gw: 'fd00:244:0:7::1' }, { dst: '0.0.0.0/0', gw: '10.244.7.254' },
  ]);
  const v4only = { ips: [{ address: '10.244.7.2/24', gateway: '10.244.7.1' }], routes: [{ dst: 'fd00::/8' }] };
  assert.equal(withRouteGateways(v4only), v4only);
  assert.is(withRouteGateways(undefined), undefined);
});

test.run();
