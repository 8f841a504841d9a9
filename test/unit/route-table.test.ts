// The udp backend's route table: longest prefix first, replace, remove
// (backward shift keeps every other entry findable), a fixed capacity.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RouteTable, ROUTE_TABLE_FULL } from '../../src/fdb/route-table.js';
import { ipv4ToNumber as ip } from '../../src/wire/ipv4.js';
import { rng } from '../helpers/rng.js';

test('the longest prefix holding the address wins; none: -1', () => {
  const t = new RouteTable(8);
  assert.is(t.set(ip('10.244.0.0'), 16, 1), -1);
  assert.is(t.set(ip('10.244.7.0'), 24, 2), -1);
  assert.is(t.set(ip('10.244.7.128'), 25, 3), -1);
  assert.is(t.lookup(ip('10.244.9.9')), 1);
  assert.is(t.lookup(ip('10.244.7.9')), 2);
  assert.is(t.lookup(ip('10.244.7.200')), 3);
  assert.is(t.lookup(ip('10.245.0.1')), -1);
  assert.equal(t.entries().map((e) => e.len), [25, 24, 16]);
});

test('host bits are cleared; setting a route again replaces its peer and says which', () => {
  const t = new RouteTable(4);
  t.set(ip('10.244.3.77'), 24, 5);
  assert.is(t.get(ip('10.244.3.0'), 24), 5);
  assert.is(t.set(ip('10.244.3.0'), 24, 6), 5);
  assert.is(t.count, 1);
  assert.is(t.lookup(ip('10.244.3.1')), 6);
});

test('a full table refuses a new route and changes nothing; a replacement still fits', () => {
  const t = new RouteTable(2);
  t.set(ip('10.244.1.0'), 24, 1);
  t.set(ip('10.244.2.0'), 24, 2);
  assert.is(t.set(ip('10.244.3.0'), 24, 3), ROUTE_TABLE_FULL);
  assert.is(t.lookup(ip('10.244.3.1')), -1);
  assert.is(t.set(ip('10.244.2.0'), 24, 9), 2);
  assert.is(t.remove(ip('10.244.1.0'), 24), 1);
  assert.is(t.set(ip('10.244.3.0'), 24, 3), -1);
});

test('removing a length\'s last route stops its probe; the others stay', () => {
  const t = new RouteTable(4);
  t.set(ip('10.244.0.0'), 16, 1);
  t.set(ip('10.244.5.0'), 24, 2);
  assert.is(t.remove(ip('10.244.5.0'), 24), 2);
  assert.is(t.remove(ip('10.244.5.0'), 24), -1);
  assert.is(t.lookup(ip('10.244.5.1')), 1);
});

test('churn: thousands of adds and removes against a Map agree, every entry findable after each step', () => {
  const r = rng(7);
  const t = new RouteTable(300);
  const m = new Map<number, number>();
  for (let step = 0; step < 20_000; step++) {
    const net = (ip('10.0.0.0') + (Math.floor(r() * 512) << 8)) >>> 0;
    if (r() < 0.55 && (m.size < 300 || m.has(net))) {
      const old = t.set(net, 24, step);
      assert.is(old, m.get(net) ?? -1);
      m.set(net, step);
    } else {
      assert.is(t.remove(net, 24), m.get(net) ?? -1);
      m.delete(net);
    }
    if (step % 997 === 0) for (const [n, p] of m) assert.is(t.lookup(n + 1), p);
  }
  assert.is(t.count, m.size);
});

test.run();
