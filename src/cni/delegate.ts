// Running a delegate plugin as the CNI spec says (section 4, "Delegated
// plugin execution procedure") and as flannel's plugin does through libcni's
// invoke package: the executable named by the config's "type" is looked up
// in CNI_PATH's directories, run with our environment (CNI_COMMAND and the
// attachment's variables set for this call) and the config on stdin; its
// stderr is ours, its stdout is the result or a CNI error, which we pass on
// with its code unchanged.

import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CniError, CNI_ERR } from './errors.js';
import { PLAIN_NAME } from './netconf.js';

/** A delegate run gives up after this long: a runtime would have given up too, and nothing may hang for ever. */
const DELEGATE_TIMEOUT_MS = 120_000;

export interface CniEnv {
  CNI_COMMAND?: string;
  CNI_CONTAINERID?: string;
  CNI_NETNS?: string;
  CNI_IFNAME?: string;
  CNI_ARGS?: string;
  CNI_PATH?: string;
  [k: string]: string | undefined;
}

/** The executable for plugin `type` in CNI_PATH, first directory first; a CniError if none. */
export function findPlugin(type: string, cniPath: string | undefined): string {
  if (!PLAIN_NAME.test(type)) {
    throw new CniError(CNI_ERR.invalidConfig, `delegate type ${JSON.stringify(type)} is not a plugin name`);
  }
  const dirs = (cniPath ?? '').split(':').filter((d) => d !== '');
  for (const dir of dirs) {
    const p = join(dir, type);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch { /* not here: try the next directory */ }
  }
  throw new CniError(CNI_ERR.delegateNotFound, `no executable "${type}" in CNI_PATH (${dirs.join(':') || 'empty'})`,
    type === 'bridge' || type === 'host-local'
      ? 'the reference plugins: apt-get install containernetworking-plugins (they land in /usr/lib/cni), and put that directory in CNI_PATH'
      : '');
}

/**
 * Runs delegate `type` for `command` with `conf` on stdin and the variables
 * in `vars` over `env`; returns its stdout. A failure becomes a CniError: the
 * delegate's own (code and message kept) or delegateFailed.
 */
export function runDelegate(type: string, command: string, conf: object, env: CniEnv, vars: CniEnv = {}): string {
  const exe = findPlugin(type, env.CNI_PATH);
  const r = spawnSync(exe, [], {
    input: JSON.stringify(conf),
    env: { ...env, ...vars, CNI_COMMAND: command },
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: DELEGATE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (r.error) throw new CniError(CNI_ERR.delegateFailed, `${type} ${command}: ${r.error.message}`);
  if (r.status === 0) return r.stdout;
  const e = cniErrorIn(r.stdout);
  if (e) throw new CniError(e.code, `${type} ${command}: ${e.msg}`, e.details);
  const how = r.signal ? `killed by ${r.signal}` : `exited ${r.status}`;
  throw new CniError(CNI_ERR.delegateFailed, `${type} ${command}: ${how} without a CNI error`, r.stdout.slice(0, 500));
}

/** The spec versions delegate `type` speaks (its VERSION answer); empty if it cannot say. */
export function delegateVersions(type: string, env: CniEnv): string[] {
  try {
    const out = JSON.parse(runDelegate(type, 'VERSION', { cniVersion: '0.4.0' }, env)) as { supportedVersions?: unknown };
    return Array.isArray(out.supportedVersions) ? out.supportedVersions.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/** The CNI error object in a delegate's stdout, or null if there is none. */
function cniErrorIn(stdout: string): { code: number; msg: string; details: string } | null {
  let o: { code?: unknown; msg?: unknown; details?: unknown };
  try {
    o = JSON.parse(stdout) as typeof o;
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || typeof o.code !== 'number' || typeof o.msg !== 'string') return null;
  return { code: o.code, msg: o.msg, details: typeof o.details === 'string' ? o.details : '' };
}
