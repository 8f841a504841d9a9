// The lease stores against one contract (test/helpers/store-contract.ts): the
// in-memory twin and the file store here, etcd in test/live/control-etcd.test.ts.
// Then what only the file store must do: stay consistent with several weft
// processes writing at once, and keep a readable, flannel-shaped file.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { MemoryStore } from '../../src/control/store.js';
import { FileStore } from '../../src/control/file-store.js';
import { prefixEnd } from '../../src/control/etcd-store.js';
import { CONTRACT } from '../helpers/store-contract.js';
import { ROOT, tempDir } from '../helpers/paths.js';

for (const c of CONTRACT) {
  test(`memory: ${c.name}`, async () => {
    const store = new MemoryStore();
    try { await c.run({ store }); } finally { await store.close(); }
  });
}

for (const c of CONTRACT) {
  test(`file: ${c.name}`, async () => {
    const t = tempDir('store');
    const store = new FileStore(join(t.dir, 'leases.json'), { pollMs: 50 });
    try { await c.run({ store }); } finally { await store.close(); t.done(); }
  });
}

test('file: the file holds flannel\'s lease JSON as objects, readable by people and jq', async () => {
  const t = tempDir('store');
  try {
    const path = join(t.dir, 'leases.json');
    const store = new FileStore(path);
    const value = '{"PublicIP":"198.18.0.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}}';
    await store.create({ ip: 0x0af40100, len: 24 }, value, 60_000);
    const d = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(d.subnets['10.244.1.0-24'].value, JSON.parse(value));
    assert.is((await store.get({ ip: 0x0af40100, len: 24 }))!.value, value, 'the value reads back byte for byte');
  } finally { t.done(); }
});

test('file: six weft processes acquiring at once get six different subnets', async () => {
  const t = tempDir('store');
  try {
    const path = join(t.dir, 'leases.json');
    writeFileSync(join(t.dir, 'net.json'), JSON.stringify({ Network: '10.244.0.0/16', SubnetLen: 24, SubnetMin: '10.244.1.0', SubnetMax: '10.244.8.0', Backend: { Type: 'vxlan' } }));
    const helper = join(ROOT, 'dist/test/helpers/file-acquire.js');
    const runs = [1, 2, 3, 4, 5, 6].map((i) => new Promise<string>((res, rej) => {
      const c = spawn(process.execPath, [helper, path, join(t.dir, 'net.json'), `198.18.0.${i}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      c.stdout.on('data', (d: Buffer) => { out += d; });
      c.stderr.on('data', (d: Buffer) => { err += d; });
      const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
      c.on('exit', (code) => { clearTimeout(timer); if (code === 0) res(out.trim()); else rej(new Error(`helper ${i} exited ${code}: ${err}`)); });
    }));
    const got = await Promise.all(runs);
    assert.is(new Set(got).size, 6, got.join(' '));
    const d = JSON.parse(readFileSync(path, 'utf8'));
    assert.is(Object.keys(d.subnets).length, 6);
  } finally { t.done(); }
});

test('file: a corrupt file is a runtime error that names the file', async () => {
  const t = tempDir('store');
  try {
    const path = join(t.dir, 'leases.json');
    writeFileSync(path, '{"revision": 1, "subn');
    const store = new FileStore(path);
    try {
      await store.list();
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, `lease file ${path}: not valid JSON`);
    }
  } finally { t.done(); }
});

test('etcd: the key range of a prefix ends at the prefix plus one, so a paged list reads every lease and nothing else', () => {
  assert.equal(prefixEnd('/coreos.com/network/subnets/'), Buffer.from('/coreos.com/network/subnets0'));
  assert.equal(prefixEnd(''), Buffer.from([0]));
});

test.run();
