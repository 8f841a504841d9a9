// The CNI plugin's commands (CNI spec 1.0, with 1.1's GC and STATUS): the
// environment and stdin in, what to print on stdout and the exit status out.
// What flannel's plugin does, and the spec's rules it leaves out:
//
//   ADD     subnet.env + config → the delegate's config (netconf.ts), kept per
//           container (store.ts), run; if the delegate fails, it is run again
//           with DEL and the kept config removed, so nothing is left half-made
//           (spec section 4). Every check that can fail is made before
//           anything is written, CNI_IFNAME already in the container among
//           them (netns.ts): that DEL would delete it.
//   DEL     the kept config, run with DEL, then forgotten; nothing kept is
//           success (DEL is idempotent).
//   CHECK   the kept config with the runtime's prevResult, run with CHECK;
//           fails if nothing is kept or the host's subnet has changed since
//           ADD (the pod's address is then in no lease).
//   GC      every kept config of this network whose container is not in
//           cni.dev/valid-attachments is run with DEL and forgotten; then GC
//           goes to the delegate if it speaks 1.1.0.
//   STATUS  subnet.env must be usable; then STATUS to the delegate likewise.
//   VERSION the versions we take.
//
// Any failure is a CniError, printed as the spec's error JSON (errors.ts).

import { readFileSync } from 'node:fs';
import { CniError, CNI_ERR, errorJson } from './errors.js';
import { delegateConf, delegateType, parseJsonObject, parsePluginConf, SUPPORTED_VERSIONS, withRouteGateways, type PluginConf } from './netconf.js';
import { parseSubnetEnv, type FlannelEnv } from './subnet-env.js';
import { delegateVersions, findPlugin, runDelegate, type CniEnv } from './delegate.js';
import { interfaceExists } from './netns.js';
import * as store from './store.js';

export interface Outcome {
  stdout: string;
  exitCode: number;
}

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

/** Runs one plugin invocation. Never throws: a failure is the error JSON and exit 1. */
export function runCni(env: CniEnv, stdin: string): Outcome {
  let version = '1.0.0';
  try {
    const cmd = env.CNI_COMMAND;
    if (cmd === 'VERSION') return { stdout: versionAnswer(stdin), exitCode: 0 };
    if (!cmd || !COMMANDS.includes(cmd)) {
      throw new CniError(CNI_ERR.invalidEnv, cmd ? `CNI_COMMAND=${cmd} is not a command` : 'CNI_COMMAND is not set',
        `expected one of ${COMMANDS.join(', ')}`);
    }
    const c = parsePluginConf(stdin);
    version = c.cniVersion;
    switch (cmd) {
      case 'ADD': return { stdout: add(env, c), exitCode: 0 };
      case 'DEL': del(env, c); break;
      case 'CHECK': check(env, c); break;
      case 'GC': gc(env, c); break;
      case 'STATUS': status(env, c); break;
    }
    return { stdout: '', exitCode: 0 };
  } catch (e) {
    const err = e instanceof CniError ? e : new CniError(CNI_ERR.internal, `internal error: ${(e as Error).message}`, (e as Error).stack ?? '');
    return { stdout: errorJson(err, version), exitCode: 1 };
  }
}

function versionAnswer(stdin: string): string {
  let v = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];
  try {
    const o = parseJsonObject(stdin, 'stdin');
    if (typeof o.cniVersion === 'string') v = o.cniVersion;
  } catch { /* VERSION needs no config: answer in our newest version */ }
  return JSON.stringify({ cniVersion: v, supportedVersions: SUPPORTED_VERSIONS }) + '\n';
}

/** The variables a command needs, each checked (the spec: the error names them). */
function need(env: CniEnv, names: string[]): void {
  const missing = names.filter((n) => !env[n]);
  if (missing.length) throw new CniError(CNI_ERR.invalidEnv, `${missing.join(', ')} not set`);
  if (names.includes('CNI_CONTAINERID') && !store.CONTAINER_ID.test(env.CNI_CONTAINERID!)) {
    throw new CniError(CNI_ERR.invalidEnv, `CNI_CONTAINERID=${JSON.stringify(env.CNI_CONTAINERID)} is not a container id`,
      'a letter or digit, then letters, digits, _ . or -');
  }
}

/** This host's subnet.env: missing is "try again later" (the daemon has not leased a subnet yet). */
function readFlannelEnv(path: string): FlannelEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CniError(CNI_ERR.tryAgainLater, `${path} does not exist yet`,
        'weft (or flanneld) writes it when it has leased this host\'s subnet: start it, or set "subnetFile" to where it writes');
    }
    throw new CniError(CNI_ERR.io, `cannot read ${path}: ${code ?? (e as Error).message}`);
  }
  return parseSubnetEnv(text, path);
}

function add(env: CniEnv, c: PluginConf): string {
  need(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
  const d = delegateConf(c, readFlannelEnv(c.subnetFile));
  const type = delegateType(d);
  findPlugin(type, env.CNI_PATH);
  if (interfaceExists(env.CNI_NETNS!, env.CNI_IFNAME!)) {
    throw new CniError(CNI_ERR.interfaceExists, `${env.CNI_IFNAME} already exists in ${env.CNI_NETNS}`,
      'ADD was called twice without a DEL, or another network uses that interface name: give this attachment another CNI_IFNAME');
  }
  const id = env.CNI_CONTAINERID!;
  store.save(c.dataDir, id, env.CNI_IFNAME!, d);
  try {
    return runDelegate(type, 'ADD', d, env);
  } catch (e) {
    try {
      runDelegate(type, 'DEL', d, env);
    } catch (e2) {
      process.stderr.write(`weft-cni: ADD failed, and so did the DEL that undoes it: ${(e2 as Error).message}\n`);
    }
    store.remove(c.dataDir, id);
    throw e;
  }
}

function del(env: CniEnv, c: PluginConf): void {
  need(env, ['CNI_CONTAINERID', 'CNI_IFNAME']);
  const id = env.CNI_CONTAINERID!;
  const s = store.load(c.dataDir, id);
  if (s) {
    need(env, ['CNI_PATH']);
    runDelegate(delegateType(s.conf), 'DEL', s.conf, env);
  }
  // Also when unreadable: a config that is not JSON can never be used again.
  store.remove(c.dataDir, id);
}

function check(env: CniEnv, c: PluginConf): void {
  need(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
  const id = env.CNI_CONTAINERID!;
  const s = store.load(c.dataDir, id);
  if (!s) throw new CniError(CNI_ERR.checkFailed, `no stored config for container ${id} in ${c.dataDir}: it was not added by this plugin, or was deleted`);
  const now = JSON.stringify((delegateConf(c, readFlannelEnv(c.subnetFile)).ipam as { ranges: unknown }).ranges);
  const then = JSON.stringify((s.conf.ipam as { ranges?: unknown } | undefined)?.ranges);
  if (now !== then) {
    throw new CniError(CNI_ERR.checkFailed, `this host's subnets changed since the container was added (then ${then}, now ${now})`,
      'its addresses are in no lease of this host any more: re-create the container');
  }
  runDelegate(delegateType(s.conf), 'CHECK', { ...s.conf, prevResult: withRouteGateways(c.raw.prevResult) }, env);
}

function validAttachments(c: PluginConf): Set<string> {
  const v = c.raw['cni.dev/valid-attachments'] ?? [];
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'object' && a !== null && typeof (a as { containerID?: unknown }).containerID === 'string')) {
    throw new CniError(CNI_ERR.invalidConfig, '"cni.dev/valid-attachments" must be a list of {"containerID", "ifname"}');
  }
  return new Set(v.map((a) => (a as { containerID: string }).containerID));
}

function gc(env: CniEnv, c: PluginConf): void {
  need(env, ['CNI_PATH']);
  const valid = validAttachments(c);
  const errors: CniError[] = [];
  const attempt = (f: () => void) => {
    try { f(); } catch (e) { errors.push(e instanceof CniError ? e : new CniError(CNI_ERR.io, (e as Error).message)); }
  };
  for (const id of store.list(c.dataDir)) {
    attempt(() => {
      const s = store.load(c.dataDir, id);
      // Only this network's: the data directory may be shared by several.
      if (!s || s.conf.name !== c.name || valid.has(id)) return;
      runDelegate(delegateType(s.conf), 'DEL', s.conf, env, { CNI_CONTAINERID: id, CNI_IFNAME: s.ifname, CNI_NETNS: '' });
      store.remove(c.dataDir, id);
    });
  }
  forward11(env, c, 'GC', { 'cni.dev/valid-attachments': c.raw['cni.dev/valid-attachments'] ?? [] }, attempt);
  if (errors.length) throw new CniError(errors[0].code, errors[0].message, `${errors.length} of the clean-ups failed; the first is shown`);
}

function status(env: CniEnv, c: PluginConf): void {
  try {
    readFlannelEnv(c.subnetFile);
  } catch (e) {
    throw new CniError(CNI_ERR.notAvailable, (e as Error).message, (e as CniError).details);
  }
  forward11(env, c, 'STATUS', {}, (f) => f());
}

/** Sends a 1.1.0-only command to the delegate when it speaks 1.1.0 (the reference plugins before 1.4 do not). */
function forward11(env: CniEnv, c: PluginConf, cmd: string, extra: Record<string, unknown>, attempt: (f: () => void) => void): void {
  const type = delegateType(c.delegate ?? {});
  if (!env.CNI_PATH || !delegateVersions(type, env).includes('1.1.0')) return;
  attempt(() => {
    const d = delegateConf(c, readFlannelEnv(c.subnetFile));
    runDelegate(type, cmd, { ...d, cniVersion: '1.1.0', ...extra }, env);
  });
}
