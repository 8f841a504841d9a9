// Certificates for the TLS tests, made with Debian's openssl in a directory
// of the caller's: two CAs (ours and a stranger's), etcd's server
// certificate naming one IP, a client certificate signed by our CA and one
// signed by the stranger. EC P-256 keys, two days' validity: quick to make.
//
//   ca.crt ─┬─ server.crt (SAN IP:<serverIp>)     ca2.crt ── stranger.crt (a client etcd must refuse)
//           └─ client.crt

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from './require.js';

export interface TestCerts {
  dir: string;
  /** Paths by name: ca, ca2, server, client, stranger (`.crt`) and their keys (`Key`). */
  ca: string; ca2: string; server: string; serverKey: string; client: string; clientKey: string; stranger: string; strangerKey: string;
}

function ssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCerts(dir: string, serverIp: string): TestCerts {
  requireTool('openssl', 'openssl');
  for (const ca of ['ca', 'ca2']) ssl(dir, ['req', '-x509', ...EC, '-keyout', `${ca}.key`, '-subj', `/CN=weft test ${ca}`, '-days', '2', '-out', `${ca}.crt`]);
  const leaf = (name: string, cn: string, san: string, ca: string) => {
    ssl(dir, ['req', '-new', ...EC, '-keyout', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    ssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  leaf('server', 'etcd', `IP:${serverIp}`, 'ca');
  leaf('client', 'weft', 'DNS:weft', 'ca');
  leaf('stranger', 'weft', 'DNS:weft', 'ca2');
  const p = (f: string) => join(dir, f);
  return {
    dir, ca: p('ca.crt'), ca2: p('ca2.crt'), server: p('server.crt'), serverKey: p('server.key'),
    client: p('client.crt'), clientKey: p('client.key'), stranger: p('stranger.crt'), strangerKey: p('stranger.key'),
  };
}
