// weft-cni's kept delegate configs: flannel's layout (<dataDir>/<container
// id>, the delegate's JSON), read back with the interface weft adds, and
// flannel's own files taken as they are.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/paths.js';
import * as store from '../../src/cni/store.js';

let tmp: { dir: string; done: () => void };
test.before(() => { tmp = tempDir('cni-store'); });
test.after(() => tmp.done());

const conf = { cniVersion: '1.0.0', name: 'cbr0', type: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.5.0/24' }]] } };

test('save, load, list, remove: the delegate config back as it was sent, with its interface', () => {
  const dir = join(tmp.dir, 'a');
  store.save(dir, 'ctr-1', 'net1', conf);
  assert.is(statSync(join(dir, 'ctr-1')).mode & 0o777, 0o600);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  assert.equal(store.load(dir, 'ctr-1'), { conf, ifname: 'net1' });
  assert.equal(store.list(dir), ['ctr-1']);
  store.remove(dir, 'ctr-1');
  assert.is(store.load(dir, 'ctr-1'), null);
  assert.equal(store.list(dir), []);
  assert.equal(store.list(join(tmp.dir, 'never')), [], 'no directory: nothing kept');
});

test('a file flannel\'s plugin wrote (no interface key) is used, as eth0', () => {
  const dir = join(tmp.dir, 'b');
  store.save(dir, 'x', 'eth0', {});
  writeFileSync(join(dir, 'flannel-ctr'), JSON.stringify(conf));
  assert.equal(store.load(dir, 'flannel-ctr'), { conf, ifname: 'eth0' });
});

test('what is not a kept config: a half-written temporary file is not listed; a corrupt file loads as nothing', () => {
  const dir = join(tmp.dir, 'c');
  store.save(dir, 'ok.1', 'eth0', conf);
  writeFileSync(join(dir, 'ok.1.4242.tmp'), '{"na');
  writeFileSync(join(dir, 'bad'), '{"na');
  assert.equal(store.list(dir).sort(), ['bad', 'ok.1']);
  assert.is(store.load(dir, 'bad'), null);
  assert.match(readFileSync(join(dir, 'ok.1'), 'utf8'), '"cni.weft.dev/ifname":"eth0"');
});

test.run();
