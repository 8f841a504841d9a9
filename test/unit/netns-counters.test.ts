// The bench's and the live tests' readers of where a namespace loses
// packets, on this namespace's own text: /proc/net/snmp and `ip -s -j link`.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseLinkCounters, parseSnmp } from '../../bench/live/netns-counters.js';

test('parseSnmp: every table by name, every counter a number, UdpRcvbufErrors among them', () => {
  const t = parseSnmp(readFileSync('/proc/net/snmp', 'utf8'));
  for (const name of ['Ip', 'Icmp', 'Tcp', 'Udp']) assert.ok(t[name], `table ${name} in ${Object.keys(t).join(' ')}`);
  assert.type(t.Udp.RcvbufErrors, 'number');
  assert.ok(Object.values(t.Udp).every((n) => Number.isInteger(n) && n >= 0), JSON.stringify(t.Udp));
  assert.equal(parseSnmp('Udp: InDatagrams RcvbufErrors\nUdp: 7 3\n'), { Udp: { InDatagrams: 7, RcvbufErrors: 3 } });
});

test('parseLinkCounters: stats64 of a real link; a reply without them is an error', () => {
  const c = parseLinkCounters(execFileSync('ip', ['-s', '-j', 'link', 'show', 'lo'], { encoding: 'utf8' }));
  for (const k of ['rxPackets', 'rxDropped', 'txPackets', 'txDropped'] as const) assert.ok(Number.isInteger(c[k]) && c[k] >= 0, `${k} ${c[k]}`);
  assert.throws(() => parseLinkCounters('[{"ifname":"lo"}]'), /no stats64/);
});

test.run();
