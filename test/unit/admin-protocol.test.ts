// The control socket's wire protocol: JSON lines, data chunks, and the
// request checks, with the stream cut at every possible place.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamDecoder, ProtocolError, parseRequest, encodeLine, encodeData } from '../../src/admin/protocol.js';

function decodeAll(bytes: Buffer, cut: number[]): { lines: unknown[]; data: string[] } {
  const d = new StreamDecoder(1024);
  const lines: unknown[] = [], data: string[] = [];
  let at = 0;
  for (const c of [...cut, bytes.length]) {
    d.push(bytes.subarray(at, c), (o) => lines.push(o), (b) => data.push(b.toString('hex')));
    at = c;
  }
  return { lines, data };
}

const stream = Buffer.concat([
  Buffer.from(encodeLine({ ok: true, result: { side: 'overlay' } })),
  encodeData(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 0x0a])),
  encodeData(Buffer.from([0x0a, 0x0a])), // newlines inside data are data
  encodeData(Buffer.alloc(0)),
  Buffer.from(encodeLine({ end: { frames: 2, dropped: 0, reason: 'count' } })),
]);
const want = {
  lines: [{ ok: true, result: { side: 'overlay' } }, { end: { frames: 2, dropped: 0, reason: 'count' } }],
  data: ['d4c3b2a10a', '0a0a', ''],
};

test('lines and data chunks come out whole, wherever the stream is cut', () => {
  assert.equal(decodeAll(stream, []), want);
  for (let i = 1; i < stream.length; i++) assert.equal(decodeAll(stream, [i]), want, `cut at ${i}`);
  // One byte at a time.
  assert.equal(decodeAll(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1)), want);
});

test('blank lines are skipped; bad lines and over-long lines are ProtocolErrors', () => {
  assert.equal(decodeAll(Buffer.from('\n\n{"cmd":"stats"}\n'), []).lines, [{ cmd: 'stats' }]);
  const d = () => new StreamDecoder(16);
  assert.throws(() => d().push(Buffer.from('not json\n'), () => {}), (e: Error) => e instanceof ProtocolError && /not JSON/.test(e.message));
  assert.throws(() => d().push(Buffer.from('[1,2]\n'), () => {}), /JSON object/);
  assert.throws(() => d().push(Buffer.from('{"cmd":"stats",   "x": 1}\n'), () => {}), /longer than 16/);
  const long = d();
  long.push(Buffer.from('{"cmd":'), () => {});
  assert.throws(() => long.push(Buffer.from('"0123456789"'), () => {}), /longer than 16/);
  assert.throws(() => d().push(Buffer.from('{"data":-1}\n'), () => {}), /bad data length/);
  // Data where none is expected (the server's side): refused.
  assert.throws(() => d().push(Buffer.from('{"data":2}\nab'), () => {}), /unexpected data/);
});

test('parseRequest: every command, its fields and their ranges', () => {
  assert.equal(parseRequest({ cmd: 'stats' }), { cmd: 'stats' });
  assert.equal(parseRequest({ cmd: 'fdb-add', mac: '02:00:00:00:00:01', dst: '198.18.0.2' }), { cmd: 'fdb-add', mac: '02:00:00:00:00:01', dst: '198.18.0.2', vni: undefined });
  assert.equal(parseRequest({ cmd: 'fdb-del', mac: 'm', vni: 7 }), { cmd: 'fdb-del', mac: 'm', dst: undefined, vni: 7 });
  assert.equal(parseRequest({ cmd: 'capture', side: 'underlay', count: 5, durationS: 2 }), { cmd: 'capture', side: 'underlay', count: 5, durationS: 2 });
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ cmd: 'reboot' }, /unknown command "reboot" \(known: stats, fdb-show/],
    [{}, /unknown command undefined/],
    [{ cmd: 'fdb-add', mac: '02:00:00:00:00:01' }, /fdb-add: "dst" must be a string/],
    [{ cmd: 'fdb-add', mac: 'x', dst: 'y', vni: 1 << 24 }, /"vni" must be a whole number 0–16777215/],
    [{ cmd: 'capture', side: 'both', count: 1, durationS: 1 }, /overlay or underlay/],
    [{ cmd: 'capture', side: 'overlay', count: 0, durationS: 1 }, /"count" must be/],
    [{ cmd: 'capture', side: 'overlay', count: 1, durationS: 1.5 }, /"durationS" must be/],
  ];
  for (const [req, re] of bad) assert.throws(() => parseRequest(req), (e: Error) => e instanceof ProtocolError && re.test(e.message), JSON.stringify(req));
});

test.run();
