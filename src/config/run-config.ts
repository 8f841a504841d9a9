// `weft run` configuration: a JSON file (--config) with the same names as
// the flags, then flags on top. Every value goes through the parsers in
// values.ts, so a bad value in either place gives the same one-line error.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { UsageError } from './errors.js';
import { isMulticastMac, stableMac } from '../wire/mac.js';
import { IP_LEN_MAX, VXLAN_OVERHEAD_V6 } from '../wire/vxlan.js';
import { CONTROL_FILE_KEYS, type ControlInput } from './control-config.js';
import { parseSrcPortRange, type PortRange } from './src-ports.js';
import { OPS_FILE_KEYS, type OpsInput } from './ops-config.js';
import { PERSIST_FILE_KEYS, type PersistInput } from './persist-config.js';
import { DEFAULT_ICMP_RATE, DEFAULT_PEER_CAPACITY } from '../datapath/datapath.js';
import { parseVni, parsePort, parseIp, parseIpPort, parseMacOpt, parseStatic, parseIntIn, DEFAULT_PORT } from './values.js';

/** One overlay: a VNI and the TAP that carries it, with the TAP's MAC and address. */
export interface Overlay {
  vni: number;
  tap: string;
  address: { ip: string; prefix: number; family: 4 | 6 } | null;
  mac: number;
}

export interface RunConfig {
  /** The first overlay's TAP, VNI, address and MAC (the only one unless --vni is repeated). */
  tap: string;
  vni: number;
  port: number;
  local: string | null;
  family: 4 | 6;
  peers: { ip: string; port: number }[];
  address: { ip: string; prefix: number; family: 4 | 6 } | null;
  mac: number;
  macDerived: boolean;
  /** Every overlay, the first one first; one per --vni. */
  overlays: Overlay[];
  mtu: number | null;
  fdbAgeingS: number;
  fdbMax: number;
  /** --peer-capacity: most distinct remote VTEPs, or null to size it from the lease store's network (else DEFAULT_PEER_CAPACITY). */
  peerCapacity: number | null;
  /** Static entries and the VNI each goes in (`MAC=IP@VNI`; the first overlay's without). */
  statics: { mac: number; ip: string; vni: number }[];
  ignoreReserved: boolean;
  batch: number;
  /** Frames the TAP holds for weft before the kernel drops (its txqueuelen). */
  tapQueue: number;
  noOffload: boolean;
  /** Take datagrams from any underlay address even when the peers are known. */
  allowAnySource: boolean;
  /** Flooded frames a second per source MAC (0: no limit), and the burst. */
  bumRate: number;
  bumBurst: number;
  /** ICMP too-big answers a second (0: none). */
  icmpRate: number;
  /** --src-port-range: the per-flow UDP source ports; null: the namespace's local port range (config/src-ports.ts). */
  srcPortRange: PortRange | null;
  /** Forwarding threads, each with its own TAP queue and socket (workers/pool.ts); 1: the loop on the main thread. */
  workers: number;
}

/** Most --workers: a TAP has at most 256 queues; more threads than cores only wait on each other. */
export const WORKERS_MAX = 64;

/**
 * Flooded frames a second per source MAC by default: a host's ARP and
 * neighbour discovery are a few a second, so a thousand never holds them
 * back, while a storm from one MAC is cut to it (docs/hostile-input.md).
 */
export const DEFAULT_BUM_RATE = 1000;

/**
 * The TAP's queue (txqueuelen) by default: ten times the kernel's 1000. The
 * kernel drops at the TAP when weft has not read for a while, and on a busy
 * host weft waits for a CPU for milliseconds at a time: 1000 frames is 3 ms
 * of a small-packet flood. A deeper queue lets the next batch take them
 * instead (64-byte UDP delivered: 84 → 105 k packets/s on the benchmark
 * rig). TCP never fills it (the sender's own queue limit stops it first).
 */
export const DEFAULT_TAP_QUEUE = 10_000;

/** The largest --peer-capacity: the peer table's own limit (fdb/addr-table.ts). */
export const PEER_CAPACITY_MAX = 0x1000000;

/** What a user may set, by flag name (the JSON file uses the same names). */
export interface RunInput extends ControlInput, OpsInput, PersistInput {
  /** One VNI, or several as `N[:TAP[:CIDR]]` (the flag is repeatable). */
  tap?: string; vni?: string | string[]; port?: string; local?: string; peer?: string[]; address?: string;
  mac?: string; mtu?: string; 'fdb-ageing'?: string; 'fdb-max'?: string; 'peer-capacity'?: string; static?: string[];
  'ignore-reserved'?: boolean; batch?: string; 'tap-queue'?: string; 'no-offload'?: boolean;
  'allow-any-source'?: boolean; 'bum-rate'?: string; 'bum-burst'?: string; 'icmp-rate'?: string;
  'src-port-range'?: string; workers?: string;
  /** The udp backend's TUN (cli/run-udp.ts). */
  tun?: string;
}

/** 'vnis': a number (one VNI) or a list of VNIs as numbers or `N:TAP:CIDR` strings. */
const FILE_KEYS: Record<string, 'string' | 'number' | 'string[]' | 'boolean' | 'vnis'> = {
  tap: 'string', vni: 'vnis', port: 'number', local: 'string', peer: 'string[]', address: 'string',
  mac: 'string', mtu: 'number', 'fdb-ageing': 'number', 'fdb-max': 'number', 'peer-capacity': 'number', static: 'string[]',
  'ignore-reserved': 'boolean', batch: 'number', 'tap-queue': 'number', 'no-offload': 'boolean',
  'allow-any-source': 'boolean', 'bum-rate': 'number', 'bum-burst': 'number', 'icmp-rate': 'number',
  'src-port-range': 'string', workers: 'number', tun: 'string',
  ...CONTROL_FILE_KEYS,
  ...OPS_FILE_KEYS,
  ...PERSIST_FILE_KEYS,
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
    // and be refused with a garbled reason (found by fuzzing the config).
    const want = Object.hasOwn(FILE_KEYS, k) ? FILE_KEYS[k] : undefined;
    if (!want) throw new UsageError(`--config ${path}: unknown key "${k}" (known: ${Object.keys(FILE_KEYS).join(', ')})`);
    const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    const ok = want === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string')
      : want === 'number' ? num(v)
        : want === 'vnis' ? num(v) || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || num(x)))
          : typeof v === want;
    if (!ok) {
      const what = want === 'string[]' ? 'a list of strings'
        : want === 'vnis' ? 'a number, or a list of VNIs like [1, "2:weft2:10.245.0.1/24"]' : `a ${want}`;
      throw new UsageError(`--config ${path}: "${k}" must be ${what}`);
    }
    out[k] = want === 'number' ? String(v) : want === 'vnis' ? (Array.isArray(v) ? v.map(String) : String(v)) : v;
  }
  return out as RunInput;
}

const TAP_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function parseTap(s: string, option: string): string {
  if (!TAP_NAME.test(s)) throw new UsageError(`${option}: '${s}' is not a valid interface name (1–15 letters, digits, _ . -)`);
  return s;
}

function parseCidr(s: string, option: string): NonNullable<RunConfig['address']> {
  const m = /^([^/]+)\/(\d+)$/.exec(s);
  const fam = m ? isIP(m[1]) : 0;
  if (!m || fam === 0) throw new UsageError(`${option}: '${s}' should be an address with a prefix length, like 10.244.1.1/24`);
  return { ip: m[1], prefix: parseIntIn(`${option} prefix`, m[2], 0, fam === 4 ? 32 : 128), family: fam as 4 | 6 };
}

/**
 * `--vni N[:TAP[:CIDR]]`, repeatable: the overlays. One plain `--vni N` is
 * today's single overlay on --tap with --address; with several, each after
 * the first names its TAP (and may give the TAP an address).
 */
function parseOverlays(input: RunInput): { vni: number; tap: string; address: RunConfig['address'] }[] {
  const specs = input.vni === undefined ? ['1'] : Array.isArray(input.vni) ? input.vni : [input.vni];
  if (specs.length === 0) throw new UsageError('--vni: give at least one VNI');
  const out = specs.map((s, k) => {
    // N, then TAP up to the second colon, then the CIDR (which may hold colons: IPv6).
    const c1 = s.indexOf(':'), c2 = c1 < 0 ? -1 : s.indexOf(':', c1 + 1);
    const vni = parseVni(c1 < 0 ? s : s.slice(0, c1));
    let tap = c1 < 0 ? null : parseTap(c2 < 0 ? s.slice(c1 + 1) : s.slice(c1 + 1, c2), `--vni ${s}`);
    let address = c2 < 0 ? null : parseCidr(s.slice(c2 + 1), `--vni ${s}`);
    if (k === 0) {
      if (tap !== null && input.tap !== undefined && input.tap !== tap) throw new UsageError(`--vni ${s} and --tap ${input.tap} name two TAPs for one VNI; give one`);
      if (address !== null && input.address !== undefined) throw new UsageError(`--vni ${s} and --address ${input.address} give the TAP two addresses; give one`);
      tap ??= parseTap(input.tap ?? 'weft0', '--tap');
      address ??= input.address !== undefined ? parseCidr(input.address, '--address') : null;
    } else if (tap === null) {
      throw new UsageError(`--vni ${s}: with several VNIs, each after the first needs its own TAP: --vni ${vni}:TAP[:CIDR]`);
    }
    return { vni, tap, address };
  });
  for (let k = 1; k < out.length; k++) {
    for (let j = 0; j < k; j++) {
      if (out[k].vni === out[j].vni) throw new UsageError(`--vni: VNI ${out[k].vni} is given twice`);
      if (out[k].tap === out[j].tap) throw new UsageError(`--vni: TAP ${out[k].tap} carries VNI ${out[j].vni} already; one TAP per VNI`);
    }
  }
  return out;
}

/**
 * What the operator lists at start must fit the tables: a VTEP per distinct
 * address and port (--peer, --static's at the VNI's port), a forwarding
 * entry per static MAC. Too many is their setting to change (exit 2), not a
 * refusal to live with as a lease's is.
 */
function checkFits(peers: { ip: string; port: number }[], statics: { mac: number; ip: string; vni: number }[], port: number, peerCapacity: number, fdbMax: number): void {
  const vteps = new Set([...peers.map((p) => `${p.ip} ${p.port}`), ...statics.map((st) => `${st.ip} ${port}`)]);
  if (vteps.size > peerCapacity) throw new UsageError(`--peer, --static: ${vteps.size} VTEPs, more than the peer table holds (${peerCapacity}); raise --peer-capacity`);
  const entries = new Set(statics.map((st) => `${st.vni}/${st.mac}`));
  if (entries.size > fdbMax) throw new UsageError(`--static: ${entries.size} entries, more than the forwarding table holds (${fdbMax}); raise --fdb-max`);
}

export function resolveRunConfig(input: RunInput): RunConfig {
  const overlaySpecs = parseOverlays(input);
  const { tap, vni } = overlaySpecs[0];
  const port = input.port !== undefined ? parsePort(input.port) : DEFAULT_PORT;
  const local = input.local !== undefined ? parseIp(input.local, '--local') : null;
  const peers = (input.peer ?? []).map((p) => parseIpPort(p, '--peer', port));
  const family: 4 | 6 = local?.family ?? peers[0]?.family ?? 4;
  for (const p of peers) {
    if (p.family !== family) throw new UsageError(`--peer ${p.ip}: IPv${p.family}, but the underlay is IPv${family}; use one family`);
  }
  const address = overlaySpecs[0].address;
  const statics = (input.static ?? []).map((s) => {
    // MAC=IP, or MAC=IP@VNI for an overlay after the first.
    const at = s.lastIndexOf('@');
    const st = parseStatic(at < 0 ? s : s.slice(0, at));
    const sv = at < 0 ? vni : parseVni(s.slice(at + 1), `--static ${s}`);
    if (!overlaySpecs.some((o) => o.vni === sv)) throw new UsageError(`--static ${s}: VNI ${sv} is not one of the --vni given`);
    if (st.family !== family) throw new UsageError(`--static ${s}: IPv${st.family}, but the underlay is IPv${family}`);
    return { mac: st.mac, ip: st.ip, vni: sv };
  });
  const macDerived = input.mac === undefined;
  const given = input.mac !== undefined ? parseMacOpt(input.mac, '--mac') : null;
  if (given !== null && isMulticastMac(given)) throw new UsageError(`--mac: ${input.mac} is a multicast address; the TAP needs a unicast MAC`);
  if (given === 0) throw new UsageError('--mac: the all-zero MAC cannot be used');
  // --mac goes on every TAP (a MAC need only be unique within its VNI); else each TAP's is derived.
  const overlays = overlaySpecs.map((o) => ({ ...o, mac: given ?? stableMac(`${hostname()}/${local?.ip ?? '*'}/${o.tap}/${o.vni}`) }));
  const mac = overlays[0].mac;
  const bumRate = input['bum-rate'] !== undefined ? parseIntIn('--bum-rate', input['bum-rate'], 0, 100_000_000) : DEFAULT_BUM_RATE;
  const peerCapacity = input['peer-capacity'] !== undefined ? parseIntIn('--peer-capacity', input['peer-capacity'], 1, PEER_CAPACITY_MAX) : null;
  const fdbMax = input['fdb-max'] !== undefined ? parseIntIn('--fdb-max', input['fdb-max'], 1, 16_000_000) : 65536;
  checkFits(peers, statics, port, peerCapacity ?? DEFAULT_PEER_CAPACITY, fdbMax);
  return {
    tap, vni, port, local: local?.ip ?? null, family, peers, address, mac, macDerived, overlays,
    mtu: input.mtu !== undefined ? parseIntIn('--mtu', input.mtu, 68, IP_LEN_MAX - VXLAN_OVERHEAD_V6) : null,
    fdbAgeingS: input['fdb-ageing'] !== undefined ? parseIntIn('--fdb-ageing', input['fdb-ageing'], 1, 1_000_000) : 300,
    fdbMax,
    peerCapacity,
    statics,
    ignoreReserved: input['ignore-reserved'] ?? false,
    batch: input.batch !== undefined ? parseIntIn('--batch', input.batch, 1, 1024) : 64,
    tapQueue: input['tap-queue'] !== undefined ? parseIntIn('--tap-queue', input['tap-queue'], 1, 1_000_000) : DEFAULT_TAP_QUEUE,
    noOffload: input['no-offload'] ?? false,
    allowAnySource: input['allow-any-source'] ?? false,
    bumRate,
    bumBurst: input['bum-burst'] !== undefined ? parseIntIn('--bum-burst', input['bum-burst'], 1, 100_000_000) : Math.max(1, bumRate),
    icmpRate: input['icmp-rate'] !== undefined ? parseIntIn('--icmp-rate', input['icmp-rate'], 0, 100_000) : DEFAULT_ICMP_RATE,
    srcPortRange: input['src-port-range'] !== undefined ? parseSrcPortRange(input['src-port-range']) : null,
    workers: input.workers !== undefined ? parseIntIn('--workers', input.workers, 1, WORKERS_MAX) : 1,
  };
}
