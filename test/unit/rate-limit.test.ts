import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../../src/log/rate-limit.js';

test('one event per key per window; the next one says how many were held back', () => {
  const r = new RateLimiter(1000);
  assert.is(r.allow('a', 0), 0);
  assert.is(r.allow('a', 10), -1);
  assert.is(r.allow('a', 999), -1);
  assert.is(r.allow('b', 500), 0, 'keys are independent');
  assert.is(r.allow('a', 1000), 2);
  assert.is(r.allow('a', 1500), -1);
  assert.is(r.allow('a', 5000), 1);
  assert.is(r.allow('a', 9000), 0);
});

test('the table of keys is bounded: the longest-quiet key goes first', () => {
  const r = new RateLimiter(1000, 3);
  for (const k of ['a', 'b', 'c']) r.allow(k, 0);
  r.allow('a', 2000); // a logged again: now the newest
  r.allow('d', 2000); // evicts b, the oldest
  assert.is(r.size, 3);
  assert.is(r.allow('c', 2100), 0);
  assert.is(r.allow('a', 2100), -1, 'a is still limited');
  assert.is(r.allow('b', 2100), 0, 'b was forgotten, so it logs at once');
});

test.run();
