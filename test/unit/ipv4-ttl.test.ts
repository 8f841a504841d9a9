// TTL − 1 with the header checksum patched by RFC 1624 eqn. 3: the result is
// the checksum a full recomputation gives, for every TTL and many headers;
// a wrong checksum stays wrong; TTL 1 and 0 are not forwarded.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ipv4View } from '../../src/wire/ipv4.js';
import { ipv4 } from '../helpers/packets.js';
import { rng } from '../helpers/rng.js';

const v = new Ipv4View();

test('for every TTL 2–255 and random headers the patched checksum equals a recomputed one', () => {
  const r = rng(1624);
  for (let k = 0; k < 2000; k++) {
    const ttl = 2 + (k % 254);
    const p = ipv4(Math.floor(r() * 256), Buffer.alloc(4), { ttl, id: Math.floor(r() * 65536), src: `10.${Math.floor(r() * 256)}.0.1`, df: r() < 0.5 });
    v.bind(p, 0);
    assert.ok(v.checksumOk());
    assert.is(v.decrementTtl(), ttl - 1);
    assert.is(v.ttl(), ttl - 1);
    assert.is(v.checksum(), v.computeChecksum(), `ttl ${ttl}`);
    assert.ok(v.checksumOk());
  }
});

test('the checksum 0xffff edge (RFC 1624 §3: eqn. 3, not eqn. 2) comes out as a recomputation does', () => {
  // Search for headers whose checksum, before or after, sits at the ends of the one's-complement range.
  let seen = 0;
  for (let id = 0; id < 65536 && seen < 4; id++) {
    const p = ipv4(17, Buffer.alloc(0), { ttl: 65, id });
    v.bind(p, 0);
    const before = v.checksum();
    v.decrementTtl();
    if (before === 0x0000 || before === 0xffff || v.checksum() === 0 || v.checksum() === 0xffff) {
      seen++;
      assert.is(v.checksum(), v.computeChecksum(), `id ${id}`);
    }
  }
  assert.ok(seen > 0, 'an edge header was found');
});

test('a wrong checksum stays wrong by the same amount', () => {
  const p = ipv4(6, Buffer.alloc(0), { ttl: 30 });
  v.bind(p, 0);
  v.setChecksum(v.checksum() ^ 0x0101);
  v.decrementTtl();
  assert.not.ok(v.checksumOk());
});

test('TTL 1 and 0: not forwarded (0), the header left as it was', () => {
  for (const ttl of [1, 0]) {
    const p = ipv4(6, Buffer.alloc(0), { ttl });
    const copy = Buffer.from(p);
    v.bind(p, 0);
    assert.is(v.decrementTtl(), 0);
    assert.equal(p, copy);
  }
});

test.run();
