// `weft run`'s operating options and the log they set up.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { parseListenAddr, resolveOpsConfig } from '../../src/config/ops-config.js';
import { UsageError } from '../../src/config/errors.js';
import { createLogger, lineLogger } from '../../src/log/logger.js';

test('--metrics ADDR:PORT', () => {
  const rows: [string, { host: string; port: number } | RegExp][] = [
    ['127.0.0.1:9108', { host: '127.0.0.1', port: 9108 }],
    ['[::1]:9108', { host: '::1', port: 9108 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['9108', /should be ADDR:PORT/],
    [':9108', /should be ADDR:PORT/],
    ['localhost:9108', /should be ADDR:PORT/],
    ['::1:9108', /should be ADDR:PORT/],
    ['127.0.0.1:70000', /port: 70000 is out of range/],
  ];
  for (const [s, want] of rows) {
    if (want instanceof RegExp) assert.throws(() => parseListenAddr(s), (e: Error) => e instanceof UsageError && want.test(e.message), s);
    else assert.equal(parseListenAddr(s), want, s);
  }
});

test('defaults, and each option checked', () => {
  assert.equal(resolveOpsConfig({}), { metrics: null, logFormat: null, logLevel: 'info', controlSocket: null });
  assert.equal(resolveOpsConfig({ 'log-format': 'pretty', 'log-level': 'debug', 'control-socket': '/run/x.sock' }),
    { metrics: null, logFormat: 'pretty', logLevel: 'debug', controlSocket: '/run/x.sock' });
  assert.throws(() => resolveOpsConfig({ 'log-format': 'xml' }), /--log-format: 'xml' is not json or pretty/);
  assert.throws(() => resolveOpsConfig({ 'log-level': 'loud' }), /--log-level: 'loud' is not one of fatal, error, warn, info, debug, trace, silent/);
  assert.throws(() => resolveOpsConfig({ 'control-socket': 'weft.sock' }), /should be an absolute path/);
});

function capture(format: 'json' | 'pretty', level: 'info' | 'warn' = 'info') {
  const out: string[] = [];
  const dest = new Writable({ write(c, _e, cb) { out.push(String(c)); cb(); } });
  return { log: createLogger({ format, level, dest }), out };
}

test('JSON: one object per line with level names, ISO time, pid and the fields', () => {
  const { log, out } = capture('json');
  log.info({ tap: 'weft0' }, 'listening');
  log.debug('not at info');
  const o = JSON.parse(out.join(''));
  assert.equal([o.level, o.name, o.pid, o.tap, o.msg], ['info', 'weft', process.pid, 'weft0', 'listening']);
  assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.is(out.length, 1);
});

test('pretty: one readable line, fields inline', () => {
  const { log, out } = capture('pretty');
  log.warn({ reason: 'rx_drop_unknown_vni' }, 'dropping');
  assert.match(out.join(''), /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: dropping \{"reason":"rx_drop_unknown_vni"\}\n$/);
});

test('lineLogger: "weft: " dropped, trouble at warn, repeats held back for a minute', () => {
  const { log, out } = capture('json');
  let now = 0;
  const line = lineLogger(log, () => now);
  line('weft: lease 10.244.5.0/24 in 10.244.0.0/16 from file x');
  line('weft: lease store unreachable (ECONNREFUSED); retrying');
  line('weft: lease store unreachable (ECONNREFUSED); retrying');
  now = 61_000;
  line('weft: lease store unreachable (ECONNREFUSED); retrying');
  const got = out.map((l) => JSON.parse(l) as { level: string; msg: string; repeated?: number });
  assert.equal(got.map((o) => [o.level, o.msg, o.repeated]), [
    ['info', 'lease 10.244.5.0/24 in 10.244.0.0/16 from file x', undefined],
    ['warn', 'lease store unreachable (ECONNREFUSED); retrying', undefined],
    ['warn', 'lease store unreachable (ECONNREFUSED); retrying', 1],
  ]);
});

test.run();
