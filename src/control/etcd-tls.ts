// TLS and passwords towards etcd: the files behind --etcd-cafile,
// --etcd-certfile and --etcd-keyfile read and checked before the first
// connection, and the errors etcd or the TLS handshake give turned into one
// line that says which part was wrong and what fixes it.
//
// Contract:
// - `loadEtcdCredentials` reads the files and checks what can be checked
//   without etcd: each parses as PEM, the key belongs to the certificate, the
//   certificate is within its dates. A failure is a RuntimeError (exit 1)
//   naming the flag and the file.
// - `explainEtcdError` is pure: the etcd client's message (gRPC status text
//   with the TLS or etcd error inside) and what weft was configured with in,
//   one line out. The categories: the CA (etcd's certificate not signed by
//   it), the name (etcd's certificate does not name the endpoint), the client
//   certificate (etcd refused it, or wanted one), the key, the user or
//   password, the role's permissions, the scheme (TLS to a plain etcd and the
//   reverse). Anything else keeps the message's first line.
// - Neither ever puts the password in a line: it is not an input to either.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { RuntimeError } from '../config/errors.js';
import type { EtcdSecurity } from '../config/etcd-auth.js';

/** What the etcd3 client takes (its `credentials` and `auth` options). */
export interface EtcdClientSecurity {
  credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  auth?: { username: string; password: string };
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new RuntimeError(`--${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function certificate(flag: string, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new RuntimeError(`--${flag} ${path}: not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
}

/** Reads and checks the TLS files; `now` is the wall clock in ms (certificate dates). */
export function loadEtcdCredentials(sec: EtcdSecurity, now = Date.now()): EtcdClientSecurity {
  const out: EtcdClientSecurity = {};
  if (sec.auth) out.auth = { username: sec.auth.username, password: sec.auth.password };
  if (!sec.tls) return out;
  const { caFile, certFile, keyFile } = sec.tls;
  // rootCertificate null: the system's CAs (grpc's createSsl), as with no --etcd-cafile in flanneld.
  const creds = { rootCertificate: null as unknown as Buffer } as NonNullable<EtcdClientSecurity['credentials']>;
  if (caFile !== null) {
    creds.rootCertificate = readPem('etcd-cafile', caFile);
    certificate('etcd-cafile', caFile, creds.rootCertificate);
  }
  if (certFile !== null && keyFile !== null) {
    const certPem = readPem('etcd-certfile', certFile), keyPem = readPem('etcd-keyfile', keyFile);
    const cert = certificate('etcd-certfile', certFile, certPem);
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (e) {
      const encrypted = /passphrase|encrypted/i.test((e as Error).message) || keyPem.includes('ENCRYPTED');
      throw new RuntimeError(`--etcd-keyfile ${keyFile}: ${encrypted ? 'the key is encrypted; give it unencrypted (openssl pkey -in KEY -out KEY.plain)' : 'not a PEM private key (-----BEGIN PRIVATE KEY-----)'}`);
    }
    if (!cert.checkPrivateKey(key)) throw new RuntimeError(`--etcd-keyfile ${keyFile}: not the key of --etcd-certfile ${certFile}; give the pair that belongs together`);
    const notAfter = Date.parse(cert.validTo), notBefore = Date.parse(cert.validFrom);
    if (now > notAfter) throw new RuntimeError(`--etcd-certfile ${certFile}: expired ${new Date(notAfter).toISOString()}; renew the client certificate`);
    if (now < notBefore) throw new RuntimeError(`--etcd-certfile ${certFile}: not valid before ${new Date(notBefore).toISOString()}; check the clock`);
    creds.certChain = certPem;
    creds.privateKey = keyPem;
  }
  out.credentials = creds;
  return out;
}

/**
 * grpc-js names an IP endpoint as the TLS server name, which Node answers
 * with a one-time deprecation warning on stderr (RFC 6066 allows only host
 * names there). The check of etcd's certificate against the IP is unchanged
 * and right; the warning is grpc's to fix and would be the one line on
 * weft's stderr that is not JSON, so it is silenced when an endpoint is an IP.
 */
export function quietIpServerName(endpoints: string[]): void {
  if (endpoints.some((e) => e.startsWith('https:') && isIP(new URL(e).hostname.replace(/^\[|\]$/g, '')) !== 0)) process.noDeprecation = true;
}

/** What weft was configured with, for naming the flag to fix. */
export interface EtcdErrorContext { security: EtcdSecurity; prefix: string }

export function explainEtcdError(message: string, ctx: EtcdErrorContext): string {
  const tls = ctx.security.tls, auth = ctx.security.auth;
  const ca = tls?.caFile ? `--etcd-cafile ${tls.caFile}` : "the system's CAs (no --etcd-cafile)";
  const m = message;
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i.test(m)) {
    const detail = /altnames: (.*?)(?:\. Resolution note|$)/.exec(m)?.[1] ?? '';
    return `etcd's certificate does not name the endpoint${detail ? ` (${detail.replace(/\.$/, '')})` : ''}: give --etcd-endpoints a name or address the certificate holds, or reissue it with that one`;
  }
  if (/unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate signature failure/i.test(m)) {
    return `etcd's certificate is not signed by ${ca}: check --etcd-cafile (the CA that signed etcd's server certificate)`;
  }
  if (/certificate has expired/i.test(m)) return 'etcd\'s certificate has expired: renew etcd\'s server certificate';
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown)|alert number (42|116|48|46)/i.test(m)) {
    return tls?.certFile
      ? `etcd refused our client certificate --etcd-certfile ${tls.certFile}: it is not signed by a CA etcd trusts (etcd's --trusted-ca-file)`
      : 'etcd wants a client certificate: give --etcd-certfile and --etcd-keyfile';
  }
  if (/wrong version number|packet length too long|disconnected before secure TLS connection/i.test(m)) {
    return tls ? 'the endpoint does not speak TLS: write it as http://, or start etcd with TLS' : 'the endpoint speaks TLS: write it as https:// (and give --etcd-cafile)';
  }
  // A plain HTTP/2 client against a TLS port: the handshake bytes make no sense to it.
  if (!tls && /Last error: Failed to connect\b/.test(m)) return 'the endpoint did not answer as a plain etcd (a TLS etcd?): write it as https:// and give --etcd-cafile';
  if (/authentication failed|invalid user ID or password/i.test(m)) {
    return `etcd refused user ${JSON.stringify(auth?.username ?? '')}: wrong --etcd-password, or no such user`;
  }
  if (/user name is empty|token is not provided|invalid auth token/i.test(m)) {
    return 'etcd requires a user: give --etcd-username and --etcd-password';
  }
  if (/authentication is not enabled/i.test(m)) {
    return 'etcd has authentication off, yet --etcd-username was given: drop --etcd-username and --etcd-password, or enable it (etcdctl auth enable)';
  }
  if (/permission denied/i.test(m)) {
    return `${auth ? `user ${JSON.stringify(auth.username)}` : 'this client'} may not read or write ${ctx.prefix}/: grant its role readwrite on the prefix (etcdctl role grant-permission ROLE --prefix=true readwrite ${ctx.prefix}/)`;
  }
  return m.split('\n')[0].replace(/ \(\d{4}-\d\d-\d\dT[^)]*\)/, '').replace(/\. Resolution note: ?$/, '');
}
