import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BatchSizes, BATCH_BUCKETS, TAP_TO_WIRE, WIRE_TO_TAP } from '../../src/datapath/batch-sizes.js';

test('each batch lands in the smallest power-of-two bucket that holds it', () => {
  // [batch size, bucket upper bound (le)]
  const rows: [number, number][] = [[1, 1], [2, 2], [3, 4], [4, 4], [5, 8], [63, 64], [64, 64], [65, 128], [2048, 2048], [2049, Infinity], [100000, Infinity]];
  for (const [n, le] of rows) {
    const b = new BatchSizes();
    b.observe(WIRE_TO_TAP, n);
    const cum = b.cumulative(WIRE_TO_TAP);
    const first = cum.findIndex((c) => c === 1);
    assert.is(first === BATCH_BUCKETS.length ? Infinity : BATCH_BUCKETS[first], le, `n=${n}`);
    assert.equal(b.cumulative(TAP_TO_WIRE).at(-1), 0, 'the other direction is untouched');
  }
});

test('cumulative counts, sum and count per direction', () => {
  const b = new BatchSizes();
  for (const n of [1, 1, 3, 64, 70]) b.observe(TAP_TO_WIRE, n);
  const cum = b.cumulative(TAP_TO_WIRE);
  assert.is(cum.length, BATCH_BUCKETS.length + 1);
  assert.equal(cum.slice(0, 8), [2, 2, 3, 3, 3, 3, 4, 5]);
  assert.is(cum.at(-1), 5);
  assert.is(b.count[TAP_TO_WIRE], 5);
  assert.is(b.sum[TAP_TO_WIRE], 139);
});

test.run();
