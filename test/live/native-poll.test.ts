// The native addon's readable-fd watcher (pollStart / pollStop): it stops
// when told, hands exceptions to the process, reports a device that goes
// away, and lets a worker end. Children run in the same private network
// namespace test/run.ts made (unshare --net). Needs root; never skips.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { inNetns, ip, WAIT_MS } from '../helpers/native-io.js';

const TAP = 'wt0';

/** Runs an ES module in a child node (same namespace) and returns its output; fails on timeout. */
function child(code: string): { status: number | null; signal: string | null; out: string; err: string } {
  const url = new URL('../../src/io/native.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { native } from ${JSON.stringify(url)};\n${code}`], {
    encoding: 'utf8',
    timeout: 10_000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const CHILD_UDP = `
const n = native();
const rx = n.udpOpen(4, '127.0.0.1', 0, {});
const tx = n.udpOpen(4, '127.0.0.1', 0, {});
const slab = Buffer.alloc(64);
const send = () => n.udpSend(tx.fd, 4, slab, new Int32Array([0]), new Int32Array([8]),
  new Uint32Array([0, 0, 0xffff, 0x7f000001]), new Uint16Array([rx.port]), 1, new Int32Array(1));
`;

test('pollStop is idempotent, ends the callbacks, and lets the process exit', () => {
  inNetns();
  const r = child(`${CHILD_UDP}
let calls = 0;
const h = n.pollStart(rx.fd, () => {
  calls++;
  n.pollStop(h);
  n.pollStop(h);
  // Readable again, and never drained: a live watcher would fire at once.
  send();
  setTimeout(() => { n.pollStop(h); n.close(rx.fd); n.close(tx.fd); console.log('calls', calls); }, 200);
});
send();
`);
  assert.is(r.signal, null, `the child exited by itself (stderr: ${r.err})`);
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), 'calls 1');
});

test('an exception thrown by the poll callback reaches uncaughtException', () => {
  inNetns();
  const r = child(`${CHILD_UDP}
let h;
process.on('uncaughtException', (e) => {
  console.log('caught', e.message);
  n.pollStop(h); n.close(rx.fd); n.close(tx.fd);
});
h = n.pollStart(rx.fd, () => { throw new Error('boom from the callback'); });
send();
`);
  assert.is(r.signal, null, r.err);
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), 'caught boom from the callback');
});

test('without a handler, an exception from the poll callback ends the process with it', () => {
  inNetns();
  const r = child(`${CHILD_UDP}
n.pollStart(rx.fd, () => { throw new Error('unhandled boom'); });
send();
`);
  assert.is(r.signal, null);
  assert.is(r.status, 1);
  assert.match(r.err, 'unhandled boom');
});

test('the watcher calls back once with an error when its TAP is deleted', async () => {
  const n = inNetns();
  const t = n.tapOpen(TAP, 0);
  try {
    const gotErr = new Promise<Error>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no error callback')), WAIT_MS);
      const h = n.pollStart(t.fd, (err) => {
        clearTimeout(timer);
        n.pollStop(h);
        if (err) resolve(err); else reject(new Error('called without an error'));
      });
    });
    ip('link', 'del', TAP);
    const err = await gotErr;
    assert.is((err as Error & { code?: string }).code, 'EBADF');
    assert.match(err.message, `watching fd ${t.fd} stopped`);
  } finally {
    n.close(t.fd);
  }
});

test('a worker that ends with its watcher running is cleaned up', () => {
  inNetns();
  const url = new URL('../../src/io/native.js', import.meta.url).href;
  const r = child(`
import { Worker } from 'node:worker_threads';
const w = new Worker(\`
  (async () => {
    const { native } = await import(${JSON.stringify(url)});
    const { parentPort } = await import('node:worker_threads');
    const n = native();
    const s = n.udpOpen(4, '127.0.0.1', 0, {});
    n.pollStart(s.fd, () => {});
    parentPort.postMessage('polling');
  })();
\`, { eval: true });
w.on('message', (m) => { console.log(m); w.terminate(); });
w.on('exit', () => console.log('worker gone'));
`);
  assert.is(r.signal, null, r.err);
  assert.is(r.status, 0, r.err);
  assert.is(r.out.trim(), 'polling\nworker gone');
});

test.run();
