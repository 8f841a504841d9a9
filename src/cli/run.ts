// `weft run`: the daemon. Opens the UDP socket and the TAP (or takes them
// over from the weft running on it: persist/), configures the TAP, and
// forwards until SIGINT/SIGTERM or a handover to a successor.

import { parseArgs } from 'node:util';
import { resolveRunConfig, readConfigFile, type RunConfig, type RunInput } from '../config/run-config.js';
import { sourcePortsFor } from '../config/src-ports.js';
import { RuntimeError, UsageError } from '../config/errors.js';
import { Datapath, DEFAULT_PEER_CAPACITY, TableFullError } from '../datapath/datapath.js';
import type { VniState } from '../datapath/vni.js';
import { Forwarder } from '../datapath/forwarder.js';
import { Tap, type TapStats } from '../io/tap.js';
import { UdpSocket, datagramsPerSend } from '../io/udp.js';
import { configureTap, limitTapGsoSegs, underlayMtu, type LinkState } from '../io/link.js';
import { formatMac } from '../wire/mac.js';
import { ETH_HEADER_LEN } from '../wire/ethernet.js';
import { overlayMtu, VXLAN_HEADER_LEN } from '../wire/vxlan.js';
import { anyAddress, formatHostPort } from '../wire/ipv6.js';
import { CONTROL_OPTIONS, resolveControlConfig, type ControlConfig } from '../config/control-config.js';
import { leasePeerCapacity, prepareControl, type ControlPlane } from '../control/control-plane.js';
import { formatSubnet } from '../control/ip4.js';
import { OPS_OPTIONS, resolveOpsConfig, type OpsConfig } from '../config/ops-config.js';
import { createLogger, lineLogger, type Logger } from '../log/logger.js';
import { attributeUsageError, envInput } from '../config/env.js';
import { Operations } from './run-ops.js';
import { statusRecord } from '../admin/status.js';
import type { DaemonState } from '../daemon/state.js';
import { PERSIST_OPTIONS, resolvePersistConfig, type PersistConfig } from '../config/persist-config.js';
import { defaultSocketPath } from '../admin/paths.js';
import { openTap, runningWeft, startRecord } from '../persist/lifecycle.js';
import { TakeOver } from '../persist/take-over.js';
import { notifySystemd } from '../persist/systemd.js';
import { handOverHandler } from '../persist/hand-over.js';
import { importState, type HandoverShape, type HandoverState, type Imported } from '../persist/state.js';
import { recordPath, removeRecord, writeRecord, type TapRecord } from '../persist/tap-record.js';
import { sharedMem } from '../fdb/mem.js';
import { startWorkers, workersRefusal } from './run-workers.js';
import { RUN_HELP } from './run-help.js';
import { runUdpDaemon, UDP_TUN_DEFAULT } from './run-udp.js';
import { offloadWord, warnMissingOffloads } from './offloads.js';
import { runHostGwDaemon } from './run-hostgw.js';

/** The run configuration, and the control plane's when a lease store was given. */
export type RunArgs = RunConfig & { control: ControlConfig | null; ops: OpsConfig; persist: PersistConfig; tun: string | null };

/** Every flag `weft run` takes, as parseArgs declares them (the environment's names derive from these). */
const RUN_OPTIONS = {
  config: { type: 'string' },
  tap: { type: 'string' }, vni: { type: 'string', multiple: true }, port: { type: 'string' }, local: { type: 'string' },
  peer: { type: 'string', multiple: true }, address: { type: 'string' }, mac: { type: 'string' },
  mtu: { type: 'string' }, 'fdb-ageing': { type: 'string' }, 'fdb-max': { type: 'string' }, 'peer-capacity': { type: 'string' },
  static: { type: 'string', multiple: true }, 'ignore-reserved': { type: 'boolean' }, batch: { type: 'string' }, 'tap-queue': { type: 'string' },
  'no-offload': { type: 'boolean' }, 'allow-any-source': { type: 'boolean' }, 'src-port-range': { type: 'string' }, tun: { type: 'string' },
  'bum-rate': { type: 'string' }, 'bum-burst': { type: 'string' }, 'icmp-rate': { type: 'string' }, workers: { type: 'string' },
  ...CONTROL_OPTIONS,
  ...OPS_OPTIONS,
  ...PERSIST_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags, then the environment (WEFT_*, FLANNELD_*: config/env.ts), then the --config file. */
export function parseRunArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunArgs | null {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: RUN_OPTIONS });
  if (values.help) return null;
  if (positionals.length) throw new UsageError(`run: unexpected argument '${positionals[0]}' (see weft run --help)`);
  const fromEnv = envInput(env, RUN_OPTIONS);
  const configPath = values.config ?? fromEnv.input.config as string | undefined;
  const fromFile: RunInput = configPath ? readConfigFile(configPath) : {};
  const { config: _c, help: _h, ...flags } = values;
  const merged: RunInput = { ...fromFile };
  for (const [k, v] of Object.entries({ ...fromEnv.input, ...flags })) if (v !== undefined && k !== 'config') (merged as Record<string, unknown>)[k] = v;
  // A flag given on the command line is the user's, not the environment's.
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) fromEnv.from.delete(k);
  try {
    const control = resolveControlConfig(merged as RunInput & Record<string, unknown>);
    const args = { ...resolveRunConfig(merged), control, ops: resolveOpsConfig(merged), persist: resolvePersistConfig(merged), tun: merged.tun ?? merged.tap ?? null };
    workersRefusal(args);
    return args;
  } catch (e) {
    throw attributeUsageError(e, fromEnv.from);
  }
}

/** The TAPs' offload state and their counters summed: what the status record and `weft stats` show. */
interface TapsView { offload: boolean; uso: boolean; stats: TapStats }

function tapsView(taps: Tap[]): TapsView {
  if (taps.length === 1) return taps[0];
  const stats = {} as TapStats;
  for (const k of Object.keys(taps[0].stats) as (keyof TapStats)[]) {
    Object.defineProperty(stats, k, { enumerable: true, get: () => taps.reduce((a, t) => a + t.stats[k], 0) });
  }
  return { offload: taps.every((t) => t.offload), uso: taps.every((t) => t.uso), stats };
}

function openErr(e: unknown): never {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.message) throw new RuntimeError(openErrorLine(err));
  throw e;
}

/** The line for a TAP or UDP socket that did not open: the io layer's message, and the flag that fixes it. */
export function openErrorLine(err: NodeJS.ErrnoException): string {
  if (err.syscall === 'ioctl(TUNSETIFF)' && err.message.endsWith('is taken by another device')) return `${err.message}: pick another --tap`;
  if (err.syscall === 'bind' && err.code === 'EADDRNOTAVAIL') return `${err.message}: check --local`;
  return err.message;
}

/** What the operator listed at start must fit: a table too small for it is their setting to change (exit 2), not a refusal to live with. */
function configTime(flag: string, add: () => unknown): void {
  try {
    add();
  } catch (e) {
    if (e instanceof TableFullError) throw new UsageError(`${flag}: ${e.message}; raise ${e.reason === 'fdb_full' ? '--fdb-max' : '--peer-capacity'}`);
    throw e;
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const cfg = parseRunArgs(argv);
  if (!cfg) {
    process.stdout.write(RUN_HELP + '\n');
    return 0;
  }
  const log = createLogger({ format: cfg.ops.logFormat, level: cfg.ops.logLevel });
  // A weft already on this TAP: refused, or replaced with --takeover (persist/lifecycle.ts). Its control
  // socket is named after the device the backend opens, known once the network's config is read; without
  // a store the backend is VXLAN, and the check comes before anything else.
  const socketFor = (backend: string) => cfg.ops.controlSocket ?? defaultSocketPath(backend === 'udp' ? cfg.tun ?? UDP_TUN_DEFAULT : cfg.tap);
  let takeover = cfg.control ? false : await runningWeft(socketFor('vxlan'), cfg.tap, cfg.persist.takeover, log);
  // With a lease store, the control plane decides the VNI, port, MTU, and the
  // TAP's address and MAC before anything is opened (control/control-plane.ts).
  const control = cfg.control
    ? await prepareControl(cfg.control, { tap: cfg.tap, local: cfg.local, mac: cfg.macDerived ? null : cfg.mac }, lineLogger(log))
    : null;
  if (control) {
    const backend = control.conf.backend;
    try {
      takeover = await runningWeft(socketFor(backend), backend === 'udp' ? cfg.tun ?? UDP_TUN_DEFAULT : cfg.tap, cfg.persist.takeover, log);
      if (takeover && backend !== 'vxlan') throw new UsageError(`--takeover: the ${backend} backend is not handed over; stop the running weft, then start this one`);
    } catch (e) {
      control.shutdown();
      throw e;
    }
  }
  const socketPath = socketFor(control?.conf.backend ?? 'vxlan');
  if (control?.conf.backend === 'udp') return runBackend(cfg, control, () => runUdpDaemon(cfg, control, log));
  if (control?.conf.backend === 'host-gw') return runBackend(cfg, control, () => runHostGwDaemon(cfg, control, log));
  if (control) {
    Object.assign(cfg, { vni: control.conf.vni, port: control.conf.port, mtu: control.host.mtu, address: control.address, mac: control.host.mac, local: control.host.bindIp, family: control.host.family ?? 4 });
    cfg.overlays = [{ vni: cfg.vni, tap: cfg.tap, address: cfg.address, mac: cfg.mac }];
    for (const st of cfg.statics) st.vni = cfg.vni;
  }
  try {
    return await runDaemon(cfg, control, log, takeover ? socketPath : null);
  } catch (e) {
    control?.shutdown();
    throw e;
  }
}

/** A backend's own daemon (run-udp.ts, run-hostgw.ts), stopping the control plane if it fails to start. */
async function runBackend(cfg: RunArgs, control: ControlPlane, daemon: () => Promise<number>): Promise<number> {
  try {
    if (cfg.workers > 1) throw new UsageError(`--workers ${cfg.workers}: the ${control.conf.backend} backend forwards on one thread; drop --workers`);
    return await daemon();
  } catch (e) {
    control.shutdown();
    throw e;
  }
}

async function runDaemon(cfg: RunArgs, control: ControlPlane | null, log: Logger, takeFrom: string | null): Promise<number> {
  const under = underlayMtu(cfg.local, cfg.peers[0]?.ip ?? null);
  const mtu = cfg.mtu ?? overlayMtu(under || null, cfg.family);

  // Take datagrams only from known VTEPs when there are any to know (sources.ts).
  const knownSourcesOnly = !cfg.allowAnySource && (cfg.peers.length > 0 || cfg.statics.length > 0 || control !== null);
  // The peer table follows the network when there is one to follow (control-plane.ts).
  const peerCapacity = cfg.peerCapacity ?? (control ? leasePeerCapacity(control.conf) : DEFAULT_PEER_CAPACITY);
  const dpOptions = {
    fdbMax: cfg.fdbMax, fdbAgeingMs: cfg.fdbAgeingS * 1000, strictReserved: !cfg.ignoreReserved, peerCapacity,
    knownSourcesOnly, bumRate: cfg.bumRate, bumBurst: cfg.bumBurst, icmpRate: cfg.icmpRate,
  };
  // Several workers share the tables (fdb/mem.ts): they live in shared memory.
  const mem = cfg.workers > 1 ? sharedMem() : null;
  const dp = new Datapath({ ...dpOptions, ...(mem ? { mem } : {}) });
  const vs = cfg.overlays.map((o) => {
    const v = dp.addVni(o.vni, { port: cfg.port, mtu });
    v.addLocalMac(o.mac);
    for (const p of cfg.peers) configTime('--peer', () => dp.addFloodPeer(v, p.ip, p.port));
    return v;
  });
  const v = vs[0];
  for (const s of cfg.statics) configTime('--static', () => dp.addStatic(dp.vnis.get(s.vni)!, s.mac, s.ip));

  // With offloads, one TAP read yields up to 64 segments per super-frame and
  // one UDP read up to 64 datagrams per coalesced message: size batches for that.
  const frameBatch = Tap.batchFor(cfg.batch, !cfg.noOffload);
  const srcPorts = sourcePortsFor(cfg.srcPortRange, cfg.port);
  const fatal: FatalHook = { on: null };
  const onFatal: Fatal = (err, port, vni) => fatal.on?.(err, port, vni);
  if (mem) return serve(cfg, control, log, dp, v, await startWorkers({ cfg, dp, dpOptions, tables: mem.buffers, vs, mtu, batch: frameBatch, srcPorts, onFatal }), fatal);
  const socketPath = cfg.ops.controlSocket ?? defaultSocketPath(cfg.tap);
  const shape: HandoverShape = {
    overlays: cfg.overlays.map((o) => ({ vni: o.vni, tap: o.tap, address: o.address ? `${o.address.ip}/${o.address.prefix}` : null })),
    family: cfg.family, port: cfg.port, local: cfg.local,
  };
  // With --takeover, the socket and the TAPs are the running weft's, passed to this process.
  const took = takeFrom === null ? null : await TakeOver.begin({ path: takeFrom, what: `on tap ${cfg.tap} (${takeFrom})` }, shape, log);
  const adopted = new Set<number>();
  let udp: UdpSocket;
  try {
    const adopt = took?.fd('udp');
    udp = new UdpSocket({ family: cfg.family, address: cfg.local ?? anyAddress(cfg.family), port: cfg.port, batch: frameBatch, offload: !cfg.noOffload, adopt, srcPorts });
    if (adopt !== undefined) adopted.add(adopt);
  } catch (e) { took?.closeUnadopted(adopted); openErr(e); }
  const taps: Tap[] = [];
  const found: string[] = [];
  const before: (LinkState | null)[] = [];
  const closeAll = () => {
    for (const t of taps) t.removeOnClose = took === null && !found.includes(t.name);
    for (const t of taps) t.close();
    udp.close();
    took?.closeUnadopted(adopted);
  };
  for (const o of cfg.overlays) {
    try {
      const adopt = took?.fd(`tap:${o.tap}`);
      const t = openTap({ name: o.tap, batch: frameBatch, mtu, offload: !cfg.noOffload, tails: udp.gso, adopt });
      if (adopt !== undefined) adopted.add(adopt);
      taps.push(t.tap);
      before.push(t.before);
      if (t.before) found.push(o.tap);
    } catch (e) {
      closeAll();
      openErr(e);
    }
    // A TAP taken over is configured already: checked (and changed where these arguments differ) while the
    // running weft still forwards, so no `ip` blocks this loop between the running weft's pause and its first read.
    try {
      configureTap(taps[taps.length - 1].name, o.mac, mtu, cfg.tapQueue, o.address, took ? undefined : before[taps.length - 1]);
    } catch (e) {
      if (took) { log.warn(`${(e as Error).message}; the TAP is as the last weft left it`); continue; }
      closeAll();
      throw e;
    }
  }
  const recPath = recordPath(socketPath);
  const fwd = new Forwarder(dp, v, taps[0], udp, { batch: frameBatch, srcPortRange: srcPorts, onFatal });
  for (let k = 1; k < vs.length; k++) fwd.addOverlay(vs[k], taps[k]);
  const gso = gsoLimit(cfg, taps.map((t) => t.name), taps[0].offload, udp.gso, mtu);
  /** A failed takeover: the running weft forwards again; this one lets go of the descriptors and leaves the TAP be. */
  const letGo = (e: unknown): never => {
    for (const t of taps) t.removeOnClose = false;
    fwd.stop();
    took?.closeUnadopted(adopted);
    throw e;
  };
  // With --takeover this loop first reads alongside the running weft, on a
  // snapshot of its tables; then it pauses between two of its batches and
  // its final state goes in (persist/take-over.ts).
  let state: HandoverState | null = null;
  if (took) {
    let early: Imported | null = null;
    try {
      early = await took.readAlongside(dp, () => fwd.start(), () => performance.now());
      state = await took.switchOver();
    } catch (e) { letGo(e); }
    const got = importState(dp, state!, performance.now(), { counters: true, keepOwn: early !== null });
    if (early === null) fwd.start();
    const learned = got.learned + (early?.learned ?? 0), statics = got.statics + (early?.statics ?? 0), refused = [...(early?.refused ?? []), ...got.refused];
    log.info({ learned, statics, refused: refused.length ? refused : undefined },
      `handover: forwarding; ${learned} learned and ${statics} static forwarding entries taken over`);
  } else {
    fwd.start();
  }
  const record: TapRecord = startRecord(recPath, state, found, log);
  if (took) {
    try { await took.commit(); } catch (e) { letGo(e); }
    await took.oldGone();
  }
  const handover: LoopPersist['handover'] = (committed) => handOverHandler({
    shape, fwd, dp, now: () => performance.now(), log,
    fds: () => [udp.fd, ...taps.map((t) => t.fd)],
    lease: () => (control ? { subnet: formatSubnet(control.own.subnet), expiresMs: control.own.expiresMs } : null),
    record: () => record,
    committed,
  });
  return serve(cfg, control, log, dp, v, {
    fwd, io: { tap: tapsView(taps), udp }, tap: taps[0].name, port: udp.port, stop: () => fwd.stop(), persist: { record, recPath, taps, handover }, gso,
  }, fatal);
}

/** The GSO segment limit on the TAPs, and whether it could be set. */
interface GsoLimit { segs: number; capped: boolean }

/**
 * One super-frame from the TAP should make one UDP GSO send: at most as many
 * segments as fit one (a full-size segment is MTU + Ethernet + VXLAN). Set
 * before forwarding: `ip` blocks the loop.
 */
function gsoLimit(cfg: RunArgs, taps: string[], tso: boolean, udpGso: boolean, mtu: number): GsoLimit {
  const segs = datagramsPerSend(mtu + ETH_HEADER_LEN + VXLAN_HEADER_LEN);
  return { segs, capped: cfg.noOffload || !tso || !udpGso || taps.every((t) => limitTapGsoSegs(t, segs)) };
}

type Fatal = (err: Error, port: 'tap' | 'udp', vni?: number) => void;
/** Where a failing port is reported once `serve` has set the handler. */
interface FatalHook { on: Fatal | null }

/** What outlives the process with one forwarding loop (persist/): the TAP's record, the TAPs to keep or remove, the handover to a successor. */
interface LoopPersist {
  record: TapRecord;
  recPath: string;
  taps: Tap[];
  /** The control socket's handover command; `committed` stops this weft once the successor forwards. */
  handover(committed: (pid: number) => void): NonNullable<DaemonState['handover']>;
}

/** The forwarding that runs: a Forwarder on this thread, or workers (run-workers.ts). */
export interface RunningLoop {
  fwd: DaemonState['fwd'];
  io: NonNullable<DaemonState['io']>;
  /** The first TAP's name, and the bound port. */
  tap: string;
  port: number;
  /** Stops forwarding; resolved once every TAP queue and socket is closed. */
  stop(): void | Promise<void>;
  workers?: DaemonState['workers'];
  refresh?: DaemonState['refresh'];
  /** Absent with workers: their TAP goes with its last queue, and they hand over nothing. */
  persist?: LoopPersist;
  /** Set by the single loop before it forwards; otherwise set here, once forwarding runs. */
  gso?: GsoLimit;
}

/** Once forwarding runs: the operator's side, the control plane, the start line, and the wait for a signal, a handover or a failure. */
async function serve(cfg: RunArgs, control: ControlPlane | null, log: Logger, dp: Datapath, v: VniState, loop: RunningLoop, fatal: FatalHook): Promise<number> {
  const { fwd, io, port } = loop;
  const tap = { name: loop.tap, offload: io.tap.offload, uso: io.tap.uso ?? false };
  const udp = { port, gso: io.udp.gso, gro: io.udp.gro };
  const knownSourcesOnly = dp.knownSourcesOnly;
  const taps = cfg.overlays.map((o) => ({ name: o.tap }));
  const mtu = v.mtu;
  const p = loop.persist;
  const st: DaemonState = {
    dp, v, fwd, tap: tap.name, family: cfg.family, local: cfg.local, port: udp.port, startedMs: Date.now(),
    io, control, log, overlays: cfg.overlays.map((o) => ({ vni: o.vni, tap: o.tap })), persist: p?.record, workers: loop.workers, refresh: loop.refresh,
  };
  let ops: Operations;
  try {
    ops = await Operations.start(st, cfg.ops);
  } catch (e) {
    await loop.stop();
    throw e;
  }
  if (control) {
    try {
      await control.start(dp, v, tap.name);
    } catch (e) {
      ops.close();
      await loop.stop();
      throw e;
    }
    ops.controlReady = true;
  }
  return new Promise<number>((resolve) => {
    const onUsr1 = () => log.info(statusRecord(st), 'status');
    const keepTap = cfg.persist.keepTap;
    const removed = `${taps.length === 1 ? `tap ${tap.name}` : `taps ${taps.map((t) => t.name).join(', ')}`} ${keepTap ? 'kept (--keep-tap)' : 'removed'}`;
    let stopping = false;
    /**
     * The one way out: the operator's side, the control plane and the loop
     * stop, the final status is logged, then `why`. The TAP, its routes and
     * its record stay after a handover (the successor has them) or with
     * --keep-tap; otherwise they go.
     */
    const stop = (code: 0 | 1, why: () => void, handedOver = false) => {
      if (stopping) return;
      stopping = true;
      const keep = handedOver || keepTap;
      if (p) {
        for (const t of p.taps) t.removeOnClose = !keep;
        // Before the control socket closes, which removes its directory when nothing else is in it.
        if (!handedOver) {
          if (keep) writeRecord(p.recPath, { ...p.record, kept: true });
          else removeRecord(p.recPath);
        }
      }
      ops.close();
      control?.shutdown(keep);
      void Promise.resolve(loop.stop()).then(() => {
        log.info(statusRecord(st), 'status');
        why();
        process.off('SIGUSR1', onUsr1);
        resolve(code);
      });
    };
    const bySignal = (sig: string) => stop(0, () => log.info(`stopped by ${sig}; ${removed}`));
    process.on('SIGUSR1', onUsr1);
    process.once('SIGINT', () => bySignal('SIGINT'));
    process.once('SIGTERM', () => bySignal('SIGTERM'));
    if (control) control.onLost = (why) => stop(1, () => log.error(`${why}; stopping`));
    st.handover = p?.handover((pid) => stop(0, () => log.info(`handed over to pid ${pid}; exiting, ${taps.length === 1 ? 'the TAP stays' : 'the TAPs stay'} with it`), true));
    fatal.on = (err, port, vni) => stop(1, () => {
      const which = cfg.overlays.find((o) => o.vni === vni)?.tap ?? tap.name;
      const what = port === 'tap' ? `the TAP ${which} failed (deleted?)` : 'the UDP socket failed';
      log.error(`${what}: ${err.message}; stopping`);
    });
    // Said only once the signal handlers are in place: a SIGUSR1 or SIGTERM sent
    // on seeing this line would otherwise meet Node's defaults (the inspector, exit).
    const where = formatHostPort(cfg.local ?? anyAddress(cfg.family), udp.port);
    const overlays = cfg.overlays.map((o) =>
      `tap ${o.tap} mac ${formatMac(o.mac)} mtu ${mtu}${o.address ? ` address ${o.address.ip}/${o.address.prefix}` : ''}, vni ${o.vni}`);
    log.info(
      { sources: knownSourcesOnly ? 'known VTEPs only' : 'any', bumRate: cfg.bumRate, bumBurst: cfg.bumBurst, icmpRate: cfg.icmpRate },
      `listening on udp ${where}, ${overlays.join('; ')}, ` +
      `peers ${cfg.peers.length ? cfg.peers.map((p) => `${p.ip}:${p.port}`).join(' ') : (control ? 'from leases' : 'none (learning only)')}, ` +
      `offload ${offloadWord({ tso: tap.offload, uso: tap.uso, gso: udp.gso, gro: udp.gro })}`,
    );
    notifySystemd('READY=1', log);
    // Kernel features asked for but missing: said once, and weft carries on without them.
    if (!cfg.noOffload) {
      const { segs, capped } = loop.gso ?? gsoLimit(cfg, taps.map((t) => t.name), tap.offload, udp.gso, mtu);
      warnMissingOffloads(log, 'TAP', { tso: tap.offload, uso: tap.uso, gso: udp.gso, gro: udp.gro }, capped, segs);
    }
  });
}
