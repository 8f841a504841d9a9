// etcd over TLS and with a password, without an etcd: the files checked
// before the first connection (control/etcd-tls.ts loadEtcdCredentials), and
// the one line for each error the etcd client gives (explainEtcdError), fed
// the messages grpc-js and etcd 3.4 give for each mistake. The live test
// control-etcd-tls drives the same mistakes against a real etcd.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../src/config/errors.js';
import type { EtcdSecurity } from '../../src/config/etcd-auth.js';
import { explainEtcdError, loadEtcdCredentials } from '../../src/control/etcd-tls.js';
import { makeCerts, type TestCerts } from '../helpers/tls-certs.js';
import { tempDir } from '../helpers/paths.js';

let tmp: { dir: string; done: () => void };
let c: TestCerts;
test.before(() => {
  tmp = tempDir('tls-unit');
  c = makeCerts(tmp.dir, '198.18.0.254');
});
test.after(() => tmp?.done());

const tls = (caFile: string | null, certFile: string | null, keyFile: string | null): EtcdSecurity => ({ tls: { caFile, certFile, keyFile }, auth: null });

function fails(sec: EtcdSecurity, re: RegExp, now?: number): void {
  try {
    loadEtcdCredentials(sec, now);
  } catch (e) {
    assert.ok(e instanceof RuntimeError, String(e));
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('loaded');
}

test('good files load: CA, certificate and key as the client takes them', () => {
  const s = loadEtcdCredentials({ ...tls(c.ca, c.client, c.clientKey), auth: { username: 'weft', password: 'pw' } });
  assert.ok(s.credentials!.rootCertificate.toString().includes('BEGIN CERTIFICATE'));
  assert.ok(s.credentials!.privateKey!.toString().includes('PRIVATE KEY'));
  assert.equal(s.auth, { username: 'weft', password: 'pw' });
  // No --etcd-cafile: the system's CAs (grpc takes null for them).
  assert.is(loadEtcdCredentials(tls(null, null, null)).credentials!.rootCertificate, null);
  assert.is(loadEtcdCredentials({ tls: null, auth: null }).credentials, undefined);
});

test('each bad file is named with its flag, in one line', () => {
  const junk = join(tmp.dir, 'junk.pem');
  writeFileSync(junk, 'not pem\n');
  fails(tls(join(tmp.dir, 'missing.crt'), null, null), /^--etcd-cafile \S+missing.crt: cannot read it \(ENOENT\)$/);
  fails(tls(junk, null, null), /^--etcd-cafile \S+junk.pem: not a PEM certificate/);
  fails(tls(c.ca, c.client, join(tmp.dir, 'missing.key')), /^--etcd-keyfile \S+missing.key: cannot read it \(ENOENT\)$/);
  fails(tls(c.ca, junk, c.clientKey), /^--etcd-certfile \S+junk.pem: not a PEM certificate/);
  fails(tls(c.ca, c.client, junk), /^--etcd-keyfile \S+junk.pem: not a PEM private key/);
  fails(tls(c.ca, c.client, c.strangerKey), /^--etcd-keyfile \S+stranger.key: not the key of --etcd-certfile \S+client.crt/);
  fails(tls(c.ca, c.client, c.clientKey), /^--etcd-certfile \S+client.crt: expired /, Date.now() + 10 * 86_400_000);
  // A key copied under another name is still checked by content.
  copyFileSync(c.clientKey, join(tmp.dir, 'k'));
  loadEtcdCredentials(tls(c.ca, c.client, join(tmp.dir, 'k')));
});

const sec = (over: Partial<EtcdSecurity> = {}): { security: EtcdSecurity; prefix: string } =>
  ({ security: { tls: { caFile: '/etc/weft/ca.pem', certFile: '/etc/weft/c.pem', keyFile: '/etc/weft/k.pem' }, auth: { username: 'weft', password: 'pw' }, ...over }, prefix: '/coreos.com/network' });

// Each row: the client's message for one mistake, and the line it becomes.
const ROWS: [string, string, ReturnType<typeof sec>, RegExp][] = [
  ['wrong CA', '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ', sec(),
    /^etcd's certificate is not signed by --etcd-cafile \/etc\/weft\/ca.pem: check --etcd-cafile/],
  ['no CA, self-signed etcd', '14 UNAVAILABLE: No connection established. Last error: Error: self-signed certificate in certificate chain', sec({ tls: { caFile: null, certFile: null, keyFile: null } }),
    /not signed by the system's CAs \(no --etcd-cafile\)/],
  ['name', "14 UNAVAILABLE: No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1. Resolution note: ", sec(),
    /^etcd's certificate does not name the endpoint \(IP: 127.0.0.2 is not in the cert's list: 127.0.0.1\): give --etcd-endpoints a name/],
  ['client certificate refused', '14 UNAVAILABLE: No connection established. Last error: 800C4E0E7D7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-05T12:05:24.172Z). Resolution note: ', sec(),
    /^etcd refused our client certificate --etcd-certfile \/etc\/weft\/c.pem: it is not signed by a CA etcd trusts/],
  ['no client certificate', '14 UNAVAILABLE: No connection established. Last error: …:SSL alert number 42\n', sec({ tls: { caFile: '/ca', certFile: null, keyFile: null } }),
    /^etcd wants a client certificate: give --etcd-certfile and --etcd-keyfile$/],
  ['TLS to a plain etcd', '14 UNAVAILABLE: No connection established. Last error: Error: Client network socket disconnected before secure TLS connection was established. Resolution note: ', sec(),
    /^the endpoint does not speak TLS: write it as http:\/\//],
  ['plain client, TLS etcd', '14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-12-05T12:12:00.297Z)', sec({ tls: null }),
    /^the endpoint did not answer as a plain etcd \(a TLS etcd\?\): write it as https:\/\/ and give --etcd-cafile$/],
  ['wrong password', '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password', sec(),
    /^etcd refused user "weft": wrong --etcd-password, or no such user$/],
  ['no user given', '3 INVALID_ARGUMENT: etcdserver: user name is empty', sec({ auth: null }),
    /^etcd requires a user: give --etcd-username and --etcd-password$/],
  ['role without the prefix', '7 PERMISSION_DENIED: etcdserver: permission denied', sec(),
    /^user "weft" may not read or write \/coreos.com\/network\/: grant its role readwrite on the prefix \(etcdctl role grant-permission ROLE --prefix=true readwrite \/coreos.com\/network\/\)$/],
  ['anything else: its first line', '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 198.18.0.254:2379\nmore', sec(),
    /^14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 198.18.0.254:2379$/],
];

test('each etcd client error becomes the line that names what to fix, never the password', () => {
  for (const [what, msg, ctx, re] of ROWS) {
    const line = explainEtcdError(msg, ctx);
    assert.match(line, re, what);
    assert.not.ok(line.includes('\n'), `${what}: one line`);
    assert.not.ok(line.includes('pw"') || / pw\b/.test(line), `${what}: no password`);
  }
});

test.run();
