// Config and command-line input fuzzed: `weft run` and `weft
// replay` with bad JSON, wrong types, out-of-range numbers, unknown keys and
// random strings in every flag must exit 2 with exactly one line on stderr,
// and never a stack trace.
//
// Two halves:
//   in process  thousands of random argument lists and --config files through
//               parseRunArgs (what `weft run` does before touching anything),
//               mutated net-conf.json through parseNetConf, mutated lease
//               values through decodeAttrs: each returns or throws the one
//               error type that becomes exit 2 — nothing else escapes.
//   the binary  a sample of the failing inputs run as `node
//               dist/src/cli/main.js …`: exit 2, one line, no stack.
//
// No device is ever made: only inputs that parseRunArgs has just refused
// are run, and every run is inside `unshare --net` (a private, empty network
// namespace) in case one got further after all. Replay's inputs are wrong by
// construction, their paths are in a temporary directory, and an input that
// got through would fail the exit-status check.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { parseRunArgs } from '../../src/cli/run.js';
import { UsageError } from '../../src/config/errors.js';
import { parseNetConf } from '../../src/control/net-conf.js';
import { decodeAttrs } from '../../src/control/lease.js';
import { checkLease } from '../../src/control/lease-check.js';

/** What checkLease checks the fuzzed values against: a /16 of /24s, VNI 1, and a host that is none of theirs. */
const LEASE_SUBNET = { ip: 0x0af40200, len: 24 };
const LEASE_CTX = { network: { ip: 0x0af40000, len: 16 }, subnetLen: 24, backendType: 'vxlan', vni: 1, ownIps: ['198.18.0.1'], ownMac: 0x020000000001 };
import { Rand } from '../helpers/fuzz-inputs.js';
import { WEFT, tempDir } from '../helpers/paths.js';

const r = new Rand(Number(process.env.FUZZ_SEED ?? 11));
const tmp = tempDir('fuzz-cli');
test.after(() => tmp.done());

// ---------------------------------------------------------------------------
// What users type.

const NASTY = [
  '', ' ', '-', '--', '-1', '0', '1.5', '1e3', '0x10', '+5', ' 7 ', '99999999999999999999', 'NaN', 'Infinity', '٣', '１',
  'abc', 'true', 'null', '[]', '{}', '10.244.0.1/33', '10.244.0.1/', '/24', '::1', '::1/129', 'fe80::1%eth0', '198.18.0.1:0',
  '198.18.0.1:65536', '[::1]:99999', '[198.18.0.2]:8472', '256.1.1.1', '1.2.3', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01',
  '00:00:00:00:00:00', '02:00:0a:f4:0e:0e', '02-00-0a-f4-0e-0e', '02:00:0a:f4:0e:0e=', '=198.18.0.2', '02:00:0a:f4:0e:0e=::1',
  'http://', 'http://[::1', 'ftp://198.18.0.254:2379', 'http://198.18.0.254:2379/path', 'relative/path', '/', 'x'.repeat(300),
  '\n', 'a\nb', '\r\n', '\t', '\u001b[31mred', '\u0000', '\u0085', '\u2028', '%s%n', '${HOME}', '$(id)', '`id`', '"', "'", '\\',
  '--vni', '-h', 'weft0 weft1', 'ü', '😀', '\ud800',
];

function randomString(): string {
  if (r.chance(0.5)) return r.pick(NASTY);
  const n = r.int(r.chance(0.9) ? 20 : 200);
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r.float();
    s += k < 0.5 ? String.fromCharCode(0x20 + r.int(95)) : k < 0.8 ? '0123456789.:/=-[]'[r.int(17)] : k < 0.9 ? String.fromCharCode(r.int(32)) : String.fromCharCode(0x80 + r.int(0x2000));
  }
  return s;
}

/** Values that pass, per flag, so that a bad one elsewhere is what fails. */
const GOOD: Record<string, string[]> = {
  tap: ['weft0', 'w1'], vni: ['1', '16777215'], port: ['8472', '4789'], local: ['198.18.0.1'], peer: ['198.18.0.2', '198.18.0.3:4789'],
  address: ['10.244.0.1/24'], mac: ['02:00:0a:f4:00:01'], mtu: ['1450'], 'fdb-ageing': ['300'], 'fdb-max': ['1000'],
  static: ['02:00:0a:f4:0e:0e=198.18.0.2'], batch: ['64'], metrics: ['127.0.0.1:9108'], 'log-format': ['json'], 'log-level': ['warn'],
  'control-socket': ['/run/weft/fuzz.sock'], 'etcd-endpoints': ['http://198.18.0.254:2379'], 'etcd-prefix': ['/coreos.com/network'],
  'lease-file': ['/nonexistent/leases.json'], 'net-config-path': ['/nonexistent/net-conf.json'], 'public-ip': ['198.18.0.1'],
  iface: ['eth0'], 'subnet-file': ['/nonexistent/subnet.env'], 'subnet-lease-renew-margin': ['60'],
};
const VALUE_FLAGS = Object.keys(GOOD);
const BOOL_FLAGS = ['ignore-reserved', 'no-offload'];
/** Out of range by one, per numeric flag. */
const EDGES: Record<string, string[]> = {
  vni: ['16777216', '-0'], port: ['0', '65536'], mtu: ['67', '65466'], 'fdb-ageing': ['0', '1000001'], 'fdb-max': ['0', '16000001'],
  batch: ['0', '1025'], 'subnet-lease-renew-margin': ['0', '1440'], address: ['10.244.0.1/33', '::1/129'],
};

function randomRunArgv(): string[] {
  const a: string[] = [];
  const n = 1 + r.int(5);
  for (let i = 0; i < n; i++) {
    const x = r.float();
    if (x < 0.08) { a.push(`--${r.pick(BOOL_FLAGS)}`); if (r.chance(0.2)) a.push(randomString()); continue; }
    if (x < 0.14) { a.push(`--${randomString()}`); continue; }                 // unknown flag
    if (x < 0.17) { a.push(randomString()); continue; }                         // stray positional
    if (x < 0.2) { a.push(`--config=${r.pick(configs)}`); continue; }
    const f = r.pick(VALUE_FLAGS);
    const y = r.float();
    const v = y < 0.35 ? r.pick(GOOD[f]) : y < 0.55 && EDGES[f] ? r.pick(EDGES[f]) : randomString();
    if (r.chance(0.3)) a.push(`--${f}=${v}`); else a.push(`--${f}`, v);
  }
  return a;
}

// ---------------------------------------------------------------------------
// --config files: bad JSON, wrong types, out-of-range numbers, unknown keys.

const FILE_KEYS = [...VALUE_FLAGS, ...BOOL_FLAGS];
const NUMERIC = new Set(['vni', 'port', 'mtu', 'fdb-ageing', 'fdb-max', 'batch', 'subnet-lease-renew-margin']);

function randomJsonValue(depth = 0): unknown {
  const k = r.int(depth > 2 ? 6 : 8);
  switch (k) {
    case 0: return r.pick([0, -1, 1.5, 1e21, -0, 16777216, 65536, Number.MAX_SAFE_INTEGER + 2, 2 ** 53]);
    case 1: return randomString();
    case 2: return r.chance(0.5);
    case 3: return null;
    case 4: return r.pick([[], ['198.18.0.2'], [1, 2], [null]]);
    case 5: return r.pick(['1', '8472', '198.18.0.2', '02:00:0a:f4:00:01']);
    case 6: return Array.from({ length: r.int(3) }, () => randomJsonValue(depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(3) }, () => [randomString(), randomJsonValue(depth + 1)]));
  }
}

function randomConfigText(): string {
  const x = r.float();
  const base: Record<string, unknown> = { vni: 1, peer: ['198.18.0.2'], address: '10.244.0.1/24' };
  if (x < 0.15) {
    // Bad JSON: a valid file cut short, or a byte changed.
    const t = JSON.stringify(base);
    if (r.chance(0.5)) return t.slice(0, r.int(t.length));
    const i = r.int(t.length);
    return t.slice(0, i) + String.fromCharCode(r.int(128)) + t.slice(i + 1);
  }
  if (x < 0.2) return r.pick(['', 'null', '[]', '"x"', '1', 'true', '\ufeff{}', '{"vni": 1e400}', '{"vni": 1, "vni": "x"}', '[' .repeat(100000), '{"a":' .repeat(5000)]);
  if (x < 0.3) base[r.pick(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'config', 'Vni', 'vni ', randomString()])] = randomJsonValue();
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const key = r.pick(FILE_KEYS);
    const y = r.float();
    if (y < 0.4) base[key] = randomJsonValue();                                   // wrong type, mostly
    else if (y < 0.7 && NUMERIC.has(key)) base[key] = Number(r.pick(EDGES[key] ?? ['-1'])) + (r.chance(0.2) ? 0.5 : 0); // out of range
    else base[key] = NUMERIC.has(key) ? r.pick([0, -5, 1.25, 1e9]) : randomString();
  }
  return JSON.stringify(base);
}

const configs: string[] = [];
for (let i = 0; i < 300; i++) {
  const p = join(tmp.dir, `c${i}.json`);
  writeFileSync(p, randomConfigText());
  configs.push(p);
}
configs.push(tmp.dir, join(tmp.dir, 'missing.json'));

// ---------------------------------------------------------------------------
// In process.

/** What the CLI maps to exit 2: UsageError, or node's parseArgs errors. */
function isUsage(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof UsageError || (e instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

const refusedRun: string[][] = [];

test('weft run: 20,000 random argument lists and 300 --config files → a config, or a usage error; nothing else', () => {
  let ok = 0, usage = 0;
  const weird: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const argv = r.chance(0.15) ? [`--config=${r.pick(configs)}`, ...randomRunArgv().slice(0, 2)] : randomRunArgv();
    try {
      parseRunArgs(argv);
      ok++;
    } catch (e) {
      if (!isUsage(e)) { if (weird.length < 5) weird.push(`${JSON.stringify(argv)}: ${(e as Error).stack}`); continue; }
      usage++;
      if (refusedRun.length < 100 && r.chance(0.02)) refusedRun.push(argv);
    }
  }
  process.stdout.write(`\n  run: ${ok} accepted, ${usage} refused as usage errors\n`);
  assert.equal(weird, []);
  assert.ok(usage > 10_000 && ok > 100, `${ok} accepted, ${usage} refused: the generator should give both`);
  // Each config file on its own.
  for (const c of configs) {
    try { parseRunArgs(['--config', c]); } catch (e) { assert.ok(isUsage(e), `${c}: ${(e as Error).stack}`); }
  }
});

test('config files with Object.prototype names as keys are unknown keys, said plainly', () => {
  for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const p = join(tmp.dir, `proto-${key}.json`);
    writeFileSync(p, `{"${key}": 1}`);
    assert.throws(() => parseRunArgs(['--config', p]), (e: Error) => e instanceof UsageError && e.message.includes(`unknown key "${key}"`));
  }
});

test('net-conf.json: 10,000 mutated texts → a network config, or a usage error', () => {
  const valid = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "SubnetMin": "10.244.1.0", "SubnetMax": "10.244.255.0", "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "MTU": 1450}}';
  const keys = ['Network', 'SubnetLen', 'SubnetMin', 'SubnetMax', 'Backend', 'EnableIPv4', 'EnableIPv6', 'IPv6Network', 'Type', 'VNI', 'Port', 'MTU', 'GBP', '__proto__', 'constructor'];
  let ok = 0;
  for (let i = 0; i < 10_000; i++) {
    let text: string;
    const x = r.float();
    if (x < 0.3) {
      const j = r.int(valid.length);
      text = r.chance(0.5) ? valid.slice(0, j) : valid.slice(0, j) + String.fromCharCode(r.int(128)) + valid.slice(j + 1);
    } else {
      const o = JSON.parse(valid) as Record<string, unknown> & { Backend: Record<string, unknown> };
      const into = r.chance(0.5) ? o : o.Backend;
      for (let k = 0; k < 1 + r.int(3); k++) {
        const key = r.pick(keys);
        if (r.chance(0.2)) delete into[key]; else into[key] = r.chance(0.5) ? randomJsonValue() : r.pick([0, 8, 33, 65536, 16777216, -1, '10.244.0.0/33', '0.0.0.0/0', '10.244.1.0', 'vxlan', 'host-gw']);
      }
      text = JSON.stringify(o);
    }
    try { parseNetConf(text, 'net-conf.json'); ok++; } catch (e) { assert.ok(e instanceof UsageError, `${JSON.stringify(text)}: ${(e as Error).stack}`); }
  }
  assert.ok(ok > 0);
});

test('lease values from the store: 10,000 mutated ones are decoded or refused with a reason, never thrown (decodeAttrs and checkLease)', () => {
  const valid = '{"PublicIP":"198.18.0.2","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:d4:b2:dc:7d:c9"}}';
  let ok = 0, checked = 0;
  for (let i = 0; i < 10_000; i++) {
    let text: string;
    if (r.chance(0.4)) {
      const j = r.int(valid.length);
      text = r.chance(0.5) ? valid.slice(0, j) : valid.slice(0, j) + String.fromCharCode(r.int(256)) + valid.slice(j + 1);
    } else {
      const o = JSON.parse(valid) as Record<string, unknown> & { BackendData: Record<string, unknown> };
      const into = r.chance(0.5) ? o : o.BackendData;
      into[r.pick(['PublicIP', 'BackendType', 'BackendData', 'VNI', 'VtepMAC', '__proto__', randomString()])] = randomJsonValue();
      text = JSON.stringify(o);
    }
    const a = decodeAttrs(text);
    if (typeof a !== 'string') ok++;
    const c = checkLease(LEASE_SUBNET, text, LEASE_CTX);
    if (typeof c === 'string') assert.not.ok(c.includes('\n') || c.length > 200, c);
    else checked++;
  }
  assert.ok(ok > 0);
  assert.ok(checked > 0 && checked <= ok, `${checked} of ${ok}`);
});

// ---------------------------------------------------------------------------
// The binary.

interface Run { status: number | null; out: string; err: string; argv: string[] }

/** `weft ARGV` inside its own empty network namespace (when root), at most 15 s. */
function weft(argv: string[]): Promise<Run> {
  const inNs = process.getuid?.() === 0;
  const [cmd, args] = inNs ? ['unshare', ['--net', '--', process.execPath, WEFT, ...argv]] : [process.execPath, [WEFT, ...argv]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, out, err, argv }); });
  });
}

/** Runs every argv, three at a time (an argument cannot hold a NUL byte: those stay in-process only). */
async function runAll(all: string[][]): Promise<Run[]> {
  const argvs = all.filter((a) => !a.some((x) => x.includes('\u0000')));
  const res: Run[] = [];
  let next = 0;
  const worker = async () => { while (next < argvs.length) { const a = argvs[next++]; res.push(await weft(a)); } };
  await Promise.all([worker(), worker(), worker()]);
  return res;
}

function checkUsageExit(runs: Run[]): void {
  const bad = runs.filter((x) => x.status !== 2 || !/^weft: [^\n]*\n$/.test(x.err) || x.err.includes('internal error') || x.out !== '');
  assert.equal(bad.map((x) => `${JSON.stringify(x.argv)} → exit ${x.status}, stderr ${JSON.stringify(x.err.slice(0, 300))}`), []);
}

test('the binary: weft run with refused input → exit 2, one line on stderr, no stack', async () => {
  const argvs = [...refusedRun.slice(0, 30),
    // One of each shape of refused input: a missing or unreadable file, numbers out of range or in the wrong form, control characters, unknown flags, contradictions.
    ['--config', join(tmp.dir, 'missing.json')], ['--config', tmp.dir], ['--vni', '16777216'], ['--batch', '-1'], ['--port', '1e3'],
    ['--vni', 'a\nb'], ['--tap', '\u001b[2J'], ['--frob'], ['--peer', '198.18.0.2', '--local', '::1'], ['--lease-file', '/x', '--vni', '2'],
  ];
  for (const c of configs.slice(0, 12)) argvs.push(['--config', c]);
  // Only inputs `weft run` refuses before it touches anything.
  for (const a of argvs) assert.throws(() => parseRunArgs(a), isUsage, JSON.stringify(a));
  checkUsageExit(await runAll(argvs));
});

test('the binary: weft replay and the control commands with bad arguments → exit 2, one line, no stack', async () => {
  const inp = join(tmp.dir, 'in.pcap'), out = join(tmp.dir, 'out.pcap');
  const notNumber = () => { let s: string; do s = randomString(); while (/^\s*\d+\s*$/.test(s)); return s; };
  const notIp = () => { let s: string; do s = randomString(); while (isIP(s) !== 0 || s.startsWith('-')); return s; };
  const argvs: string[][] = [
    ['replay'], ['replay', '--decap'], ['replay', '--decap', '--encap', inp, out], ['replay', '--decap', inp], ['replay', '--decap', inp, out, 'extra'],
    ['replay', '--encap', inp, out], ['replay', '--encap', inp, out, '--local', '198.18.0.1'], ['replay', '--decap', inp, out, '--peer', '198.18.0.2'],
    ['replay', '--encap', inp, out, '--local', '198.18.0.1', '--peer', '::1'], ['replay', '--decap', inp, out, '--static', '01:00:5e:00:00:01=198.18.0.2'],
    ['replay', '--decap', inp, out, '--vni', '16777216'], ['replay', '--decap', inp, out, '--port', '0'], ['replay', '--bogus'],
    ['fdb', 'frob'], ['fdb', 'add', 'xx'], ['stats', '--interval', '0', '--watch'], ['stats', '--count', '3'], ['peers', 'extra'],
    ['capture', '--count', 'x'], ['help', 'nosuch'], ['nosuch'], ['run', 'positional'],
  ];
  for (let i = 0; i < 15; i++) {
    const which = i % 5;
    const base = ['replay', r.chance(0.5) ? '--decap' : '--encap', inp, out];
    if (base[1] === '--encap') base.push('--local', '198.18.0.1', '--peer', '198.18.0.2');
    if (which === 0) argvs.push([...base, '--vni', notNumber()]);
    else if (which === 1) argvs.push([...base, '--port', notNumber()]);
    else if (which === 2) argvs.push(['replay', '--encap', inp, out, '--local', notIp(), '--peer', '198.18.0.2']);
    else if (which === 3) argvs.push([...base, '--static', `${randomString()}`.replace(/=.*/, '') || 'x']);
    else argvs.push([...base, `--${randomString().replace(/[=\s]/g, '') || 'x'}`]);
  }
  checkUsageExit(await runAll(argvs));
});

test.run();
