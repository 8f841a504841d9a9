// weft over an IPv6 underlay, against the kernel vxlan device on the other
// side: the TAP's MTU is the underlay's minus 70, and traffic flows both ways.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rig, ping, weftStatus } from '../helpers/rig.js';

test('weft ↔ kernel vxlan over IPv6: MTU underlay−70, ping both ways, learning', async () => {
  const rig = Rig.up(2);
  try {
    rig.exec(2, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '5', 'dstport', '8472', 'local', 'fd00:198:18::2', 'remote', 'fd00:198:18::1', 'dev', 'eth0']);
    rig.exec(2, ['ip', 'link', 'set', 'vx0', 'address', '02:00:0a:f4:00:02', 'up']);
    rig.exec(2, ['ip', 'addr', 'add', '10.244.0.2/24', 'dev', 'vx0']);
    const w = await rig.weft(1, ['--vni', '5', '--local', 'fd00:198:18::1', '--peer', 'fd00:198:18::2', '--address', '10.244.0.1/24']);
    assert.match(w.stderr(), /listening on udp \[fd00:198:18::1\]:8472/);
    const link = JSON.parse(rig.exec(1, ['ip', '-j', 'link', 'show', 'weft0']))[0];
    assert.is(link.mtu, 1430);
    assert.is(ping(rig, 1, '10.244.0.2').received, 3);
    assert.is(ping(rig, 2, '10.244.0.1').received, 3);
    // Full-size frames too: 1430-byte IP packets with DF.
    assert.is(ping(rig, 1, '10.244.0.2', 3, ['-s', '1402', '-M', 'do']).received, 3);
    const s = await weftStatus(w);
    assert.ok(s.fdb.some((e) => e.mac === '02:00:0a:f4:00:02' && e.dst === 'fd00:198:18::2'), JSON.stringify(s.fdb));
    assert.match(rig.exec(2, ['bridge', 'fdb', 'show', 'dev', 'vx0']), /dst fd00:198:18::1/);
  } finally {
    rig.down();
  }
});

test.run();
