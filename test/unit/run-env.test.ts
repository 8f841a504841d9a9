// `weft run`'s options from the environment: WEFT_<FLAG> for every flag,
// FLANNELD_<FLAG> for flanneld's; flags > WEFT_ > FLANNELD_ > --config; an
// empty variable is unset; a bad value names the variable.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { parseRunArgs } from '../../src/cli/run.js';
import { UsageError } from '../../src/config/errors.js';
import { envName, FLANNELD_FLAGS } from '../../src/config/env.js';
import { CONTROL_OPTIONS } from '../../src/config/control-config.js';
import { tempDir } from '../helpers/paths.js';

const ETCD = 'http://198.18.0.254:2379';

function refused(argv: string[], env: NodeJS.ProcessEnv, re: RegExp): void {
  try {
    parseRunArgs(argv, env);
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(env)}`);
}

test('names: upper case, dashes to underscores', () => {
  assert.is(envName('FLANNELD', 'etcd-endpoints'), 'FLANNELD_ETCD_ENDPOINTS');
  assert.is(envName('WEFT', 'subnet-lease-renew-margin'), 'WEFT_SUBNET_LEASE_RENEW_MARGIN');
});

test('every flanneld flag named is a weft control-plane flag', () => {
  for (const f of FLANNELD_FLAGS) assert.ok(Object.hasOwn(CONTROL_OPTIONS, f), f);
});

test('FLANNELD_* alone turns the control plane on, as a flanneld unit file would', () => {
  const c = parseRunArgs([], { FLANNELD_ETCD_ENDPOINTS: ETCD, FLANNELD_ETCD_PREFIX: '/my/net', FLANNELD_PUBLIC_IP: '198.18.0.7', FLANNELD_SUBNET_LEASE_RENEW_MARGIN: '30' })!;
  assert.equal(c.control!.store, { kind: 'etcd', endpoints: [ETCD], prefix: '/my/net', security: { tls: null, auth: null } });
  assert.is(c.control!.publicIp, '198.18.0.7');
  assert.is(c.control!.renewMarginMs, 30 * 60_000);
});

test('WEFT_* for every weft flag: strings, booleans, repeatable lists', () => {
  const c = parseRunArgs([], { WEFT_PEER: '198.18.0.2, 198.18.0.3', WEFT_BUM_RATE: '500', WEFT_NO_OFFLOAD: 'true', WEFT_ALLOW_ANY_SOURCE: '0', WEFT_TAP: 'wx0' })!;
  assert.equal(c.peers.map((p) => p.ip), ['198.18.0.2', '198.18.0.3']);
  assert.is(c.bumRate, 500);
  assert.is(c.noOffload, true);
  assert.is(c.allowAnySource, false);
  assert.is(c.tap, 'wx0');
});

test('precedence: flag over WEFT_ over FLANNELD_ over --config', () => {
  const t = tempDir('env');
  try {
    const p = join(t.dir, 'weft.json');
    writeFileSync(p, JSON.stringify({ 'etcd-endpoints': 'http://198.18.0.1:2379', 'etcd-prefix': '/from/file', iface: 'file0', 'subnet-file': '/from/file.env' }));
    const env = { FLANNELD_ETCD_PREFIX: '/from/flanneld', FLANNELD_IFACE: 'fl0', WEFT_IFACE: 'wf0', FLANNELD_SUBNET_FILE: '/from/flanneld.env' };
    const c = parseRunArgs(['--config', p, '--subnet-file', '/from/flag.env'], env)!;
    assert.is(c.control!.store.kind === 'etcd' && c.control!.store.endpoints[0], 'http://198.18.0.1:2379', 'only the file set it');
    assert.is(c.control!.store.kind === 'etcd' && c.control!.store.prefix, '/from/flanneld', 'environment over file');
    assert.is(c.control!.iface, 'wf0', 'WEFT_ over FLANNELD_');
    assert.is(c.control!.subnetFile, '/from/flag.env', 'flag over environment');
    // WEFT_CONFIG names the file when --config does not.
    const d = parseRunArgs([], { WEFT_CONFIG: p })!;
    assert.is(d.control!.iface, 'file0');
  } finally {
    t.done();
  }
});

test('an empty variable is unset (flanneld\'s rule), and other names are ignored', () => {
  const c = parseRunArgs(['--peer', '198.18.0.2'], { FLANNELD_ETCD_ENDPOINTS: '', WEFT_TAP: '', FLANNELD_IP_MASQ: 'true', WEFT_NOT_A_FLAG: 'x', FLANNELD_BUM_RATE: '5' })!;
  assert.is(c.control, null);
  assert.is(c.tap, 'weft0');
  assert.is(c.bumRate, 1000, 'FLANNELD_ sets only flanneld\'s flags');
});

test('a bad value names the variable it came from', () => {
  refused([], { FLANNELD_ETCD_ENDPOINTS: ETCD, FLANNELD_ETCD_PREFIX: 'no-slash' }, /^FLANNELD_ETCD_PREFIX \(--etcd-prefix\): 'no-slash'/);
  refused([], { WEFT_BUM_RATE: 'lots' }, /^WEFT_BUM_RATE \(--bum-rate\): 'lots' is not a whole number/);
  refused([], { WEFT_NO_OFFLOAD: 'maybe' }, /^WEFT_NO_OFFLOAD: 'maybe' is not true or false/);
  // The same mistake as a flag is the flag's.
  refused(['--bum-rate', 'lots'], { WEFT_BUM_RATE: '5' }, /^--bum-rate: 'lots'/);
});

test('etcd user and TLS options: pairs, schemes, and no password in any line', () => {
  const c = parseRunArgs([], { FLANNELD_ETCD_ENDPOINTS: 'https://198.18.0.254:2379', FLANNELD_ETCD_CAFILE: '/ca.pem', FLANNELD_ETCD_CERTFILE: '/c.pem', FLANNELD_ETCD_KEYFILE: '/k.pem', FLANNELD_ETCD_USERNAME: 'weft', FLANNELD_ETCD_PASSWORD: 's3cret' })!;
  assert.equal(c.control!.store.kind === 'etcd' && c.control!.store.security, { tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' }, auth: { username: 'weft', password: 's3cret' } });
  const https = { FLANNELD_ETCD_ENDPOINTS: 'https://198.18.0.254:2379' };
  refused([], { ...https, FLANNELD_ETCD_CERTFILE: '/c.pem' }, /--etcd-certfile\): needs --etcd-keyfile/);
  refused([], { ...https, FLANNELD_ETCD_KEYFILE: '/k.pem' }, /--etcd-keyfile\): needs --etcd-certfile/);
  refused([], { ...https, FLANNELD_ETCD_USERNAME: 'weft' }, /--etcd-username\): needs --etcd-password/);
  refused(['--etcd-password', 's3cret'], https, /^--etcd-password: needs --etcd-username$/);
  refused([], { FLANNELD_ETCD_ENDPOINTS: ETCD, FLANNELD_ETCD_CAFILE: '/ca.pem' }, /TLS options with http:\/\/ endpoints; write the endpoints as https:\/\//);
  refused([], { FLANNELD_ETCD_ENDPOINTS: `${ETCD},https://198.18.0.253:2379` }, /mixes http:\/\/ and https:\/\//);
  refused([], { FLANNELD_ETCD_ENDPOINTS: 'https://weft:s3cret@198.18.0.254:2379' }, /^FLANNELD_ETCD_ENDPOINTS \(--etcd-endpoints\): a user or password in the URL; give --etcd-username/);
  refused(['--lease-file', '/tmp/l.json', '--etcd-cafile', '/ca.pem'], {}, /^--etcd-cafile: only with --etcd-endpoints/);
  for (const env of [{ FLANNELD_ETCD_ENDPOINTS: 'https://weft:s3cret@198.18.0.254:2379' }, { ...https, FLANNELD_ETCD_PASSWORD: 's3cret' }]) {
    try { parseRunArgs([], env); } catch (e) { assert.not.match((e as Error).message, /s3cret/); }
  }
});

test.run();
