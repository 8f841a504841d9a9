// weft-cni as a process, where no network is touched: VERSION, the refusals
// that come before any delegate runs (each the spec's error JSON on stdout,
// exit 1, nothing written), and `--install`'s wrapper, run as a runtime
// would run it. The delegate's part is test/live/cni-plugin.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/paths.js';
import { WEFT_CNI } from '../helpers/pods.js';
import { wrapperScript } from '../../src/cni/install.js';

let tmp: { dir: string; done: () => void };
test.before(() => { tmp = tempDir('cni-unit'); });
test.after(() => tmp.done());

function run(exe: string[], env: Record<string, string>, stdin: string): { status: number; out: string; err: string; json: Record<string, unknown> | null } {
  const r = spawnSync(exe[0], exe.slice(1), { input: stdin, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  let json = null;
  try { json = JSON.parse(r.stdout); } catch { /* json stays null */ }
  return { status: r.status ?? 1, out: r.stdout, err: r.stderr, json };
}
const plugin = (env: Record<string, string>, stdin: string) => run([process.execPath, WEFT_CNI], env, stdin);
const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({
  cniVersion: '1.0.0', name: 'cbr0', type: 'weft-cni', subnetFile: join(tmp.dir, 'subnet.env'), dataDir: join(tmp.dir, 'data'), ...extra,
});
const addEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' };

test('VERSION answers in the version asked, without needing a config', () => {
  const r = plugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  assert.is(r.status, 0, r.err);
  assert.equal(r.json, { cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  assert.is(plugin({ CNI_COMMAND: 'VERSION' }, '').json?.cniVersion, '1.1.0');
});

test('refused before anything runs: the spec\'s code, exit 1, no config kept', () => {
  writeFileSync(join(tmp.dir, 'subnet.env'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  // rows: what, environment, stdin, code, message part
  const rows: [string, Record<string, string>, string, number, string][] = [
    ['an unknown command', { ...addEnv, CNI_COMMAND: 'ATTACH' }, conf(), 4, 'CNI_COMMAND=ATTACH'],
    ['no command', { CNI_CONTAINERID: 'c1' }, conf(), 4, 'CNI_COMMAND is not set'],
    ['no CNI_NETNS, CNI_IFNAME', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_PATH: '/x' }, conf(), 4, 'CNI_NETNS, CNI_IFNAME'],
    ['not JSON', addEnv, 'cniVersion: 1.0.0', 6, 'not JSON'],
    ['a bad config', addEnv, conf({ delegate: { name: 'x' } }), 7, '"name"'],
    ['no subnet.env yet', addEnv, conf({ subnetFile: join(tmp.dir, 'none.env') }), 11, 'does not exist yet'],
    ['a broken subnet.env', addEnv, conf({ subnetFile: tmp.dir }), 5, 'cannot read'],
    ['no bridge in CNI_PATH', addEnv, conf(), 101, 'no executable "bridge"'],
    ['CHECK of a container never added', { ...addEnv, CNI_COMMAND: 'CHECK' }, conf({ dataDir: join(tmp.dir, 'none') }), 103, 'no stored config'],
  ];
  writeFileSync(join(tmp.dir, 'data'), 'a file where the data directory would be');
  for (const [what, env, stdin, code, msg] of rows) {
    const r = plugin(env, stdin);
    assert.is(r.status, 1, `${what}: ${r.out}`);
    assert.is(r.json?.code, code, `${what}: ${r.out}`);
    assert.type(r.json?.cniVersion, 'string', what);
    assert.match(r.json?.msg as string, msg, what);
  }
  assert.ok(statSync(join(tmp.dir, 'data')).isFile(), 'nothing written into the data directory');
});

test('DEL of a container never added succeeds and prints nothing (DEL is idempotent)', () => {
  const r = plugin({ ...addEnv, CNI_COMMAND: 'DEL' }, conf({ dataDir: join(tmp.dir, 'empty') }));
  assert.is(r.status, 0, r.out);
  assert.is(r.out, '');
  assert.not.ok(existsSync(join(tmp.dir, 'empty')));
});

test('--install writes a wrapper a runtime can run with any PATH', () => {
  const r = run([process.execPath, WEFT_CNI, '--install', tmp.dir], {}, '');
  assert.is(r.status, 0, r.err);
  const path = join(tmp.dir, 'weft-cni');
  assert.is(statSync(path).mode & 0o777, 0o755);
  assert.is(readFileSync(path, 'utf8'), wrapperScript(process.execPath, WEFT_CNI));
  const v = run([path], { CNI_COMMAND: 'VERSION', PATH: '/nonexistent' }, '{"cniVersion":"1.0.0"}');
  assert.is(v.status, 0, v.err);
  assert.is(v.json?.cniVersion, '1.0.0');
});

test('wrapperScript quotes paths with spaces and quotes', () => {
  assert.match(wrapperScript('/opt/my node/bin/node', "/srv/it's/main.js"), `exec '/opt/my node/bin/node' '/srv/it'\\''s/main.js' "$@"`);
});

test.run();
