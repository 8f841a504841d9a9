// net-conf.json: flannel's defaults, and one UsageError naming the field and
// the reason for every way it can be wrong (IPv6 keys included).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseNetConf } from '../../src/control/net-conf.js';
import { formatSubnet } from '../../src/control/ip4.js';
import { numberToIpv4 } from '../../src/wire/ipv4.js';
import { UsageError } from '../../src/config/errors.js';

const parse = (o: unknown) => parseNetConf(JSON.stringify(o), 'net-conf.json');
const vx = { Type: 'vxlan' };

test('defaults: /24 subnets from the second to the last, VNI 1, port 8472, MTU from the underlay', () => {
  const c = parse({ Network: '10.244.0.0/16', Backend: vx });
  assert.is(formatSubnet(c.network), '10.244.0.0/16');
  assert.is(c.subnetLen, 24);
  assert.is(numberToIpv4(c.subnetMin), '10.244.1.0');
  assert.is(numberToIpv4(c.subnetMax), '10.244.255.0');
  assert.is(c.vni, 1);
  assert.is(c.port, 8472);
  assert.is(c.mtu, null);
});

test('small networks: SubnetLen defaults to prefix + 2 (four subnets)', () => {
  // rows: Network → default SubnetLen
  for (const [net, len] of [['10.244.0.0/22', 24], ['10.244.0.0/23', 25], ['10.244.0.0/26', 28], ['10.244.0.0/28', 30]] as const) {
    assert.is(parse({ Network: net, Backend: vx }).subnetLen, len, net);
  }
});

test('everything given is used', () => {
  const c = parse({ Network: '10.244.0.0/16', SubnetLen: 26, SubnetMin: '10.244.4.0', SubnetMax: '10.244.8.64', EnableIPv4: true, EnableIPv6: false,
    Backend: { Type: 'vxlan', VNI: 42, Port: 4789, MTU: 1400, GBP: false, DirectRouting: false } });
  assert.equal([c.subnetLen, numberToIpv4(c.subnetMin), numberToIpv4(c.subnetMax), c.vni, c.port, c.mtu], [26, '10.244.4.0', '10.244.8.64', 42, 4789, 1400]);
});

// rows: configuration, expected message (field and reason)
const BAD: [unknown, RegExp][] = [
  ['"x"', /must be a JSON object/],
  [{ Backend: vx }, /Network: missing/],
  [{ Network: 10, Backend: vx }, /Network: must be a string/],
  [{ Network: '10.244.0.0', Backend: vx }, /Network: '10.244.0.0' is not an IPv4 network/],
  [{ Network: '10.244.1.0/16', Backend: vx }, /Network: .*bits set past the \/16 prefix \(did you mean 10.244.0.0\/16\?\)/],
  [{ Network: '10.244.0.0/29', Backend: vx }, /Network: \/29 is too small/],
  [{ Network: '10.244.0.0/16', SubnetLen: 31, Backend: vx }, /SubnetLen: \/31 leaves no room/],
  [{ Network: '10.244.0.0/16', SubnetLen: 17, Backend: vx }, /SubnetLen: \/17 must be at least \/18/],
  [{ Network: '10.244.0.0/16', SubnetLen: '24', Backend: vx }, /SubnetLen: must be a whole number/],
  [{ Network: '10.244.0.0/16', SubnetMin: '10.245.0.0', Backend: vx }, /SubnetMin: 10.245.0.0 is outside Network 10.244.0.0\/16/],
  [{ Network: '10.244.0.0/16', SubnetMax: '10.244.3.7', Backend: vx }, /SubnetMax: 10.244.3.7 is not on a \/24 boundary/],
  [{ Network: '10.244.0.0/16', SubnetMin: '10.244.9.0', SubnetMax: '10.244.3.0', Backend: vx }, /SubnetMin: .* is above SubnetMax/],
  [{ Network: '10.244.0.0/16' }, /Backend: missing/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'ipip' } }, /Backend.Type: "ipip": weft implements "vxlan", "udp" and "host-gw"/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'host-gw', Port: 1 } }, /Backend.Port: not a key of the host-gw backend/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 16777216 } }, /Backend.VNI: 16777216 is out of range/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', Port: 0 } }, /Backend.Port: 0 is out of range/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', MTU: 1.5 } }, /Backend.MTU: must be a whole number/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', DirectRouting: 'yes' } }, /Backend.DirectRouting: must be true or false/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', GBP: true } }, /Backend.GBP: not supported/],
  [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', Vni: 1 } }, /Backend.Vni: unknown key/],
  [{ Network: '10.244.0.0/16', Subnetlen: 24, Backend: vx }, /Subnetlen: unknown key \(known: Network, SubnetLen/],
  [{ Network: '10.244.0.0/16', EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:244::/48', Backend: vx }, /Network: given, but EnableIPv4 is false/],
  [{ EnableIPv4: false, Backend: vx }, /EnableIPv4: false, and EnableIPv6 is not true/],
  [{ Network: '10.244.0.0/16', EnableIPv6: 'yes', Backend: vx }, /EnableIPv6: must be true or false/],
  [{ Network: '10.244.0.0/16', EnableIPv6: true, Backend: vx }, /IPv6Network: missing \(EnableIPv6 is true\)/],
  [{ Network: '10.244.0.0/16', IPv6Network: 'fd00:10:244::/56', Backend: vx }, /IPv6Network: given, but EnableIPv6 is not true/],
  [{ Network: '10.244.0.0/16', IPv6SubnetLen: 64, Backend: vx }, /IPv6SubnetLen: given, but EnableIPv6 is not true/],
  [{ EnableIPv6: true, IPv6Network: '10.244.0.0/16', Backend: vx, EnableIPv4: false }, /IPv6Network: "10.244.0.0\/16" is not an IPv6 network/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::1/48', Backend: vx, EnableIPv4: false }, /IPv6Network: .*bits set past the \/48 prefix \(did you mean fd00:244::\/48\?\)/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/125', Backend: vx, EnableIPv4: false }, /IPv6Network: \/125 is too small; the smallest useful IPv6 network is \/124/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetLen: 127, Backend: vx, EnableIPv4: false }, /IPv6SubnetLen: \/127 leaves no room/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetLen: 49, Backend: vx, EnableIPv4: false }, /IPv6SubnetLen: \/49 must be at least \/50/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetMin: 'fd00:245::', Backend: vx, EnableIPv4: false }, /IPv6SubnetMin: fd00:245:: is outside IPv6Network fd00:244::\/48/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetMax: 'fd00:244:0:5::1', Backend: vx, EnableIPv4: false }, /IPv6SubnetMax: fd00:244:0:5::1 is not on a \/64 boundary/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetMin: 'fd00:244:0:9::', IPv6SubnetMax: 'fd00:244:0:3::', Backend: vx, EnableIPv4: false }, /IPv6SubnetMin: .* is above IPv6SubnetMax/],
  [{ EnableIPv6: true, IPv6Network: 'fd00:244::/48', IPv6SubnetMin: 7, Backend: vx, EnableIPv4: false }, /IPv6SubnetMin: must be an IPv6 address string/],
];

test('every bad configuration is a UsageError naming the field and the reason', () => {
  for (const [conf, re] of BAD) {
    try {
      parseNetConf(typeof conf === 'string' ? conf : JSON.stringify(conf), 'net-conf.json');
      assert.unreachable(JSON.stringify(conf));
    } catch (e) {
      assert.instance(e, UsageError, JSON.stringify(conf));
      assert.match((e as Error).message, /^net-conf.json: /);
      assert.match((e as Error).message, re, JSON.stringify(conf));
    }
  }
});

test('not JSON at all', () => {
  assert.throws(() => parseNetConf('{Network:', '/coreos.com/network/config'), /\/coreos.com\/network\/config: not valid JSON/);
});

test.run();
