// How weft proves itself to etcd and checks etcd back: flanneld's options
// --etcd-cafile, --etcd-certfile, --etcd-keyfile (TLS, with a client
// certificate) and --etcd-username, --etcd-password (etcd's own users), with
// flanneld's meaning. This file checks that the options make sense together
// (exit 2 otherwise); reading and checking the files themselves, and naming
// what etcd refused, is control/etcd-tls.ts's (exit 1: the files are the
// host's, not the command line's).
//
// The password is a secret: no line weft writes (log, error, `weft peers`,
// status record) holds it; it lives only in this config and the etcd client.

import { UsageError } from './errors.js';

export interface EtcdAuthInput {
  'etcd-cafile'?: string; 'etcd-certfile'?: string; 'etcd-keyfile'?: string; 'etcd-username'?: string; 'etcd-password'?: string;
}

export const ETCD_AUTH_OPTIONS = {
  'etcd-cafile': { type: 'string' }, 'etcd-certfile': { type: 'string' }, 'etcd-keyfile': { type: 'string' },
  'etcd-username': { type: 'string' }, 'etcd-password': { type: 'string' },
} as const;

export const ETCD_AUTH_FILE_KEYS: Record<string, 'string'> = {
  'etcd-cafile': 'string', 'etcd-certfile': 'string', 'etcd-keyfile': 'string', 'etcd-username': 'string', 'etcd-password': 'string',
};

export const ETCD_AUTH_HELP = `  --etcd-cafile FILE      etcd over TLS (https:// endpoints): the CA that
                          signed etcd's certificate, PEM (default: the
                          system's CAs)
  --etcd-certfile FILE    the client certificate weft shows etcd, PEM
  --etcd-keyfile FILE     its private key, PEM (unencrypted)
  --etcd-username NAME    an etcd user (etcd's auth); needs --etcd-password
  --etcd-password PASS    its password; FLANNELD_ETCD_PASSWORD or
                          WEFT_ETCD_PASSWORD keep it off the command line`;

/** What the etcd client needs; paths, not contents (control/etcd-tls.ts reads them). */
export interface EtcdSecurity {
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null } | null;
  auth: { username: string; password: string } | null;
}

/** Checks the options against each other and the endpoints' scheme. */
export function resolveEtcdSecurity(input: EtcdAuthInput, endpoints: string[]): EtcdSecurity {
  const ca = input['etcd-cafile'], cert = input['etcd-certfile'], key = input['etcd-keyfile'];
  const user = input['etcd-username'], pass = input['etcd-password'];
  for (const [flag, v] of [['etcd-cafile', ca], ['etcd-certfile', cert], ['etcd-keyfile', key], ['etcd-username', user]] as const) {
    if (v === '') throw new UsageError(`--${flag}: give a ${flag === 'etcd-username' ? 'user name' : 'file path'}`);
  }
  if (cert !== undefined && key === undefined) throw new UsageError('--etcd-certfile: needs --etcd-keyfile, the key of that certificate');
  if (key !== undefined && cert === undefined) throw new UsageError('--etcd-keyfile: needs --etcd-certfile, the certificate of that key');
  if (user !== undefined && pass === undefined) throw new UsageError('--etcd-username: needs --etcd-password (or FLANNELD_ETCD_PASSWORD in the environment)');
  if (pass !== undefined && user === undefined) throw new UsageError('--etcd-password: needs --etcd-username');
  const https = endpoints.filter((e) => e.startsWith('https:')).length;
  if (https > 0 && https < endpoints.length) throw new UsageError('--etcd-endpoints: mixes http:// and https://; etcd serves its clients one way');
  const tlsGiven = ca !== undefined || cert !== undefined;
  if (tlsGiven && https === 0) {
    throw new UsageError(`--${ca !== undefined ? 'etcd-cafile' : 'etcd-certfile'}: TLS options with http:// endpoints; write the endpoints as https://`);
  }
  return {
    tls: https > 0 ? { caFile: ca ?? null, certFile: cert ?? null, keyFile: key ?? null } : null,
    auth: user !== undefined ? { username: user, password: pass! } : null,
  };
}
