// --src-port-range and the flow hash's range: parsing, the namespace's
// default as Linux reads it, and every flow's port inside the range.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { parseSrcPortRange, parseLocalPortRange, localPortRange, sourcePortsFor } from '../../src/config/src-ports.js';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { UsageError } from '../../src/config/errors.js';
import { flowSourcePort, SRC_PORT_MIN, SRC_PORT_MAX } from '../../src/datapath/flowhash.js';
import { ether, udp4 } from '../helpers/packets.js';
import { tempDir } from '../helpers/paths.js';

test('--src-port-range MIN-MAX parses; anything else is a usage error naming the flag', () => {
  assert.equal(parseSrcPortRange('40000-40099'), { min: 40000, max: 40099 });
  assert.equal(parseSrcPortRange('5000-5000'), { min: 5000, max: 5000 });
  for (const bad of ['40000', '40099-40000', '0-10', '1-65536', 'a-b', '1-2-3', '']) {
    assert.throws(() => parseSrcPortRange(bad), (e: Error) => e instanceof UsageError && e.message.startsWith('--src-port-range:'), bad);
  }
  assert.equal(resolveRunConfig({ peer: ['198.18.0.2'], 'src-port-range': '50000-50015' }).srcPortRange, { min: 50000, max: 50015 });
  assert.is(resolveRunConfig({ peer: ['198.18.0.2'] }).srcPortRange, null);
});

test('the default is ip_local_port_range as the kernel writes it; Linux\'s own when unreadable', () => {
  assert.equal(parseLocalPortRange('32768\t60999\n'), { min: 32768, max: 60999 });
  assert.is(parseLocalPortRange('garbage'), null);
  assert.is(parseLocalPortRange('9 3\n'), null);
  const tmp = tempDir('src-ports');
  try {
    const p = join(tmp.dir, 'range');
    writeFileSync(p, '20000\t20999\n');
    assert.equal(localPortRange(p), { min: 20000, max: 20999 });
    assert.equal(localPortRange(p + '-missing'), { min: SRC_PORT_MIN, max: SRC_PORT_MAX });
  } finally {
    tmp.done();
  }
  // The range given wins; the VXLAN port alone means one socket for all.
  assert.equal(sourcePortsFor({ min: 100, max: 200 }, 8472), { min: 100, max: 200 });
  assert.is(sourcePortsFor({ min: 8472, max: 8472 }, 8472), undefined);
});

test('flowSourcePort stays inside the range it is given, and a flow keeps its port', () => {
  const seen = new Set<number>();
  for (let s = 1000; s < 1400; s++) {
    const f = ether(0x0800, udp4(s, 53, Buffer.alloc(8)));
    const p = flowSourcePort(f, 0, f.length, 50000, 50015);
    assert.ok(p >= 50000 && p <= 50015, `port ${p}`);
    assert.is(flowSourcePort(f, 0, f.length, 50000, 50015), p);
    seen.add(p);
  }
  assert.is(seen.size, 16, 'every port of a 16-port range is used by 400 flows');
  // The default range is Linux's: replay's captures keep their ports.
  const f = ether(0x0800, udp4(1234, 53, Buffer.alloc(8)));
  assert.is(flowSourcePort(f, 0, f.length), flowSourcePort(f, 0, f.length, SRC_PORT_MIN, SRC_PORT_MAX));
});

test.run();
