// `weft run` configuration: a JSON file (--config) with the same names as
// the flags, then flags on top. Every value goes through the parsers in
// values.ts, so a bad value in either place gives the same one-line error.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { UsageError } from './errors.js';
import { CONTROL_FILE_KEYS, type ControlInput } from './control-config.js';
import { OPS_FILE_KEYS, type OpsInput } from './ops-config.js';
import { parseVni, parsePort, parseIp, parseIpPort, parseMacOpt, parseStatic, parseIntIn, DEFAULT_PORT } from './values.js';

export interface RunConfig {
  tap: string;
  vni: number;
  port: number;
  local: string | null;
  family: 4 | 6;
  peers: { ip: string; port: number }[];
  address: { ip: string; prefix: number; family: 4 | 6 } | null;
  mac: number;
  macDerived: boolean;
  mtu: number | null;
  fdbAgeingS: number;
  fdbMax: number;
  statics: { mac: number; ip: string }[];
  ignoreReserved: boolean;
  batch: number;
  noOffload: boolean;
}

/** What a user may set, by flag name (the JSON file uses the same names). */
export interface RunInput extends ControlInput, OpsInput {
  tap?: string; vni?: string; port?: string; local?: string; peer?: string[]; address?: string;
  mac?: string; mtu?: string; 'fdb-ageing'?: string; 'fdb-max'?: string; static?: string[];
  'ignore-reserved'?: boolean; batch?: string; 'no-offload'?: boolean;
}

const FILE_KEYS: Record<string, 'string' | 'number' | 'string[]' | 'boolean'> = {
  tap: 'string', vni: 'number', port: 'number', local: 'string', peer: 'string[]', address: 'string',
  mac: 'string', mtu: 'number', 'fdb-ageing': 'number', 'fdb-max': 'number', static: 'string[]',
  'ignore-reserved': 'boolean', batch: 'number', 'no-offload': 'boolean',
  ...CONTROL_FILE_KEYS,
  ...OPS_FILE_KEYS,
};

/** Reads the JSON config file into flag-shaped strings, checking names and types. */
export function readConfigFile(path: string): RunInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--config ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(`--config ${path}: must hold a JSON object like {"vni": 1, "peer": ["198.18.0.2"]}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    // Own keys only: "constructor" or "__proto__" would find Object.prototype's
    // and be refused with a garbled reason (found by fuzzing the config, issue 7).
    const want = Object.hasOwn(FILE_KEYS, k) ? FILE_KEYS[k] : undefined;
    if (!want) throw new UsageError(`--config ${path}: unknown key "${k}" (known: ${Object.keys(FILE_KEYS).join(', ')})`);
    const ok = want === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string')
      : want === 'number' ? typeof v === 'number' && Number.isFinite(v)
        : typeof v === want;
    if (!ok) throw new UsageError(`--config ${path}: "${k}" must be ${want === 'string[]' ? 'a list of strings' : `a ${want}`}`);
    out[k] = want === 'number' ? String(v) : v;
  }
  return out as RunInput;
}

/** A MAC that stays the same across restarts of the same VTEP: peers' ARP caches stay right. */
export function stableMac(seed: string): number {
  const h = createHash('sha256').update(seed).digest();
  // 02: locally administered, unicast.
  return 0x02 * 2 ** 40 + h.readUIntBE(0, 5);
}

export function resolveRunConfig(input: RunInput): RunConfig {
  const tap = input.tap ?? 'weft0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tap)) throw new UsageError(`--tap: '${tap}' is not a valid interface name (1–15 letters, digits, _ . -)`);
  const vni = input.vni !== undefined ? parseVni(input.vni) : 1;
  const port = input.port !== undefined ? parsePort(input.port) : DEFAULT_PORT;
  const local = input.local !== undefined ? parseIp(input.local, '--local') : null;
  const peers = (input.peer ?? []).map((p) => parseIpPort(p, '--peer', port));
  const family: 4 | 6 = local?.family ?? peers[0]?.family ?? 4;
  for (const p of peers) {
    if (p.family !== family) throw new UsageError(`--peer ${p.ip}: IPv${p.family}, but the underlay is IPv${family}; use one family`);
  }
  let address: RunConfig['address'] = null;
  if (input.address !== undefined) {
    const m = /^([^/]+)\/(\d+)$/.exec(input.address);
    const fam = m ? isIP(m[1]) : 0;
    if (!m || fam === 0) throw new UsageError(`--address: '${input.address}' should be an address with a prefix length, like 10.244.1.1/24`);
    address = { ip: m[1], prefix: parseIntIn('--address prefix', m[2], 0, fam === 4 ? 32 : 128), family: fam as 4 | 6 };
  }
  const statics = (input.static ?? []).map((s) => {
    const st = parseStatic(s);
    if (st.family !== family) throw new UsageError(`--static ${s}: IPv${st.family}, but the underlay is IPv${family}`);
    return { mac: st.mac, ip: st.ip };
  });
  const macDerived = input.mac === undefined;
  const mac = input.mac !== undefined ? parseMacOpt(input.mac, '--mac') : stableMac(`${hostname()}/${local?.ip ?? '*'}/${tap}/${vni}`);
  if (Math.floor(mac / 2 ** 40) & 1) throw new UsageError(`--mac: ${input.mac} is a multicast address; the TAP needs a unicast MAC`);
  if (mac === 0) throw new UsageError('--mac: the all-zero MAC cannot be used');
  return {
    tap, vni, port, local: local?.ip ?? null, family, peers, address, mac, macDerived,
    mtu: input.mtu !== undefined ? parseIntIn('--mtu', input.mtu, 68, 65535 - 70) : null,
    fdbAgeingS: input['fdb-ageing'] !== undefined ? parseIntIn('--fdb-ageing', input['fdb-ageing'], 1, 1_000_000) : 300,
    fdbMax: input['fdb-max'] !== undefined ? parseIntIn('--fdb-max', input['fdb-max'], 1, 16_000_000) : 65536,
    statics,
    ignoreReserved: input['ignore-reserved'] ?? false,
    batch: input.batch !== undefined ? parseIntIn('--batch', input.batch, 1, 1024) : 64,
    noOffload: input['no-offload'] ?? false,
  };
}
