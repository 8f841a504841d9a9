// Allocation policy against the in-memory store twin: which subnet a host
// takes (ours from before, the subnet file's, else random among free ones),
// lost races, a full network, and renewal timing with time as an argument.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryStore, type LeaseStore, type StoredLease } from '../../src/control/store.js';
import { acquireLease, freeSubnets, renewDelayMs, renewLease } from '../../src/control/allocate.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { formatSubnet, parseCidr4 } from '../../src/control/ip4.js';
import { encodeAttrs, decodeAttrs, type LeaseAttrs } from '../../src/control/lease.js';

const conf = parseNetConf(JSON.stringify({ Network: '10.244.0.0/16', SubnetMin: '10.244.1.0', SubnetMax: '10.244.4.0', Backend: { Type: 'vxlan' } }), 'test');
const attrs = (ip: string, mac = 0x020000000001): LeaseAttrs => ({ publicIp: ip, backendType: 'vxlan', vni: 1, vtepMac: mac });
const sn = (s: string) => { const c = parseCidr4(s)!; return { ip: c.ip, len: c.len }; };
const HOUR = 3600_000;

test('the lease value is flannel\'s JSON, key for key', () => {
  assert.is(encodeAttrs(attrs('198.18.0.1', 0x02cc829251a0)),
    '{"PublicIP":"198.18.0.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:cc:82:92:51:a0"}}');
  assert.equal(decodeAttrs('{"PublicIP":"198.18.0.1","BackendType":"vxlan","BackendData":{"VtepMAC":"02:cc:82:92:51:a0","VNI":7}}'), { ...attrs('198.18.0.1', 0x02cc829251a0), vni: 7 });
  assert.match(String(decodeAttrs('{"PublicIP":"x"}')), /PublicIP "x" is not an IPv4 address/);
  assert.match(String(decodeAttrs('{"PublicIP":"198.18.0.1","BackendType":"vxlan","BackendData":{"VtepMAC":"zz"}}')), /VtepMAC "zz" is not a MAC/);
});

test('a random free subnet in [SubnetMin, SubnetMax], chosen by the random source', async () => {
  const store = new MemoryStore();
  const picks: number[] = [];
  const l = await acquireLease(store, { conf, attrs: attrs('198.18.0.1'), random: (n) => { picks.push(n); return n - 1; } });
  assert.equal(picks, [4]); // 10.244.1.0 … 10.244.4.0
  assert.is(formatSubnet(l.subnet), '10.244.4.0/24');
});

test('free subnets skip taken ones, and ones an odd-sized lease overlaps', () => {
  const taken = [sn('10.244.2.0/24'), sn('10.244.3.128/25')].map((subnet, i): StoredLease => ({ subnet, value: '', revision: i + 1, expiresMs: 0 }));
  assert.equal(freeSubnets(conf, taken, 100).map(formatSubnet), ['10.244.1.0/24', '10.244.4.0/24']);
  assert.equal(freeSubnets(conf, taken, 1).map(formatSubnet), ['10.244.1.0/24']);
});

test('a restart keeps the lease with our PublicIP, rewritten with our current attributes', async () => {
  const store = new MemoryStore();
  const first = await acquireLease(store, { conf, attrs: attrs('198.18.0.1', 0x020000000001) });
  const again = await acquireLease(store, { conf, attrs: attrs('198.18.0.1', 0x020000000002) });
  assert.is(formatSubnet(again.subnet), formatSubnet(first.subnet));
  assert.ok(again.revision > first.revision);
  assert.is((decodeAttrs(again.value) as LeaseAttrs).vtepMac, 0x020000000002);
  assert.is((await store.list()).leases.length, 1);
});

test('else the subnet from the subnet file, when it is free and in range', async () => {
  const store = new MemoryStore();
  const l = await acquireLease(store, { conf, attrs: attrs('198.18.0.1'), previous: sn('10.244.3.0/24'), random: () => 0 });
  assert.is(formatSubnet(l.subnet), '10.244.3.0/24');
  // Taken by someone else, or out of range: a free one instead.
  const m = await acquireLease(store, { conf, attrs: attrs('198.18.0.2'), previous: sn('10.244.3.0/24'), random: () => 0 });
  assert.is(formatSubnet(m.subnet), '10.244.1.0/24');
  const o = await acquireLease(store, { conf, attrs: attrs('198.18.0.3'), previous: sn('10.244.9.0/24'), random: () => 0 });
  assert.is(formatSubnet(o.subnet), '10.244.2.0/24');
});

test('our old lease outside the current configuration is deleted, and a new one taken', async () => {
  const store = new MemoryStore();
  await store.create(sn('10.244.200.0/24'), encodeAttrs(attrs('198.18.0.1')), HOUR);
  const log: string[] = [];
  const l = await acquireLease(store, { conf, attrs: attrs('198.18.0.1'), random: () => 0, log: (s) => log.push(s) });
  assert.is(formatSubnet(l.subnet), '10.244.1.0/24');
  assert.is(await store.get(sn('10.244.200.0/24')), null);
  assert.match(log.join('\n'), /deleting our old lease 10.244.200.0\/24/);
});

test('a lost race (the subnet taken between list and create) is retried with a fresh list', async () => {
  const inner = new MemoryStore();
  let raced = false;
  // A store that lets another host take the subnet just before our first create.
  const store: LeaseStore = Object.assign(Object.create(inner) as LeaseStore, {
    create: async (s: StoredLease['subnet'], v: string, t: number) => {
      if (!raced) { raced = true; await inner.create(s, encodeAttrs(attrs('198.18.0.9')), t); }
      return inner.create(s, v, t);
    },
  });
  const log: string[] = [];
  const l = await acquireLease(store, { conf, attrs: attrs('198.18.0.1'), random: () => 0, log: (s) => log.push(s) });
  assert.is(formatSubnet(l.subnet), '10.244.2.0/24');
  assert.match(log.join('\n'), /10.244.1.0\/24 was taken by another host/);
});

test('a full network is a runtime error that says so', async () => {
  const store = new MemoryStore();
  for (let i = 1; i <= 4; i++) await acquireLease(store, { conf, attrs: attrs(`198.18.0.${i}`) });
  try {
    await acquireLease(store, { conf, attrs: attrs('198.18.0.5') });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /no free subnet left in 10.244.0.0\/16/);
  }
});

test('renewal: 24 h TTL, renewed 1 h before it lapses; a lapsed lease frees the subnet', async () => {
  let now = 1_000_000;
  const store = new MemoryStore({ now: () => now });
  const l = await acquireLease(store, { conf, attrs: attrs('198.18.0.1'), random: () => 0 });
  assert.is(l.expiresMs, now + 24 * HOUR);
  assert.is(renewDelayMs(l.expiresMs, now), 23 * HOUR);
  assert.is(renewDelayMs(l.expiresMs, now + 23.5 * HOUR), 0);
  now += 23 * HOUR;
  const r = (await renewLease(store, l))!;
  assert.is(r.expiresMs, now + 24 * HOUR);
  now += 25 * HOUR; // never renewed again
  assert.is((await store.list()).leases.length, 0);
  assert.is(await renewLease(store, r), null, 'a lapsed lease cannot be renewed');
});

test('renewal survives someone re-putting our value, but not another host taking the subnet', async () => {
  const store = new MemoryStore();
  const l = await acquireLease(store, { conf, attrs: attrs('198.18.0.1'), random: () => 0 });
  const cur = (await store.get(l.subnet))!;
  await store.update(l.subnet, l.value, HOUR, cur.revision); // an operator touched it
  assert.ok(await renewLease(store, l));
  const now = (await store.get(l.subnet))!;
  await store.update(l.subnet, encodeAttrs(attrs('198.18.0.7')), HOUR, now.revision);
  assert.is(await renewLease(store, l), null);
});

test.run();
