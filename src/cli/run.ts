// `weft run`: the daemon. Opens the UDP socket and the TAP (or takes them
// over from the weft running on it: persist/), configures the TAP, and
// forwards until SIGINT/SIGTERM or a handover to a successor.

import { parseArgs } from 'node:util';
import { resolveRunConfig, readConfigFile, type RunConfig, type RunInput } from '../config/run-config.js';
import { sourcePortsFor } from '../config/src-ports.js';
import { RuntimeError, UsageError } from '../config/errors.js';
import { Datapath, DEFAULT_PEER_CAPACITY, TableFullError } from '../datapath/datapath.js';
import { Forwarder } from '../datapath/forwarder.js';
import { Tap, type TapStats } from '../io/tap.js';
import { UdpSocket, datagramsPerSend } from '../io/udp.js';
import { configureTap, limitTapGsoSegs, underlayMtu, type LinkState } from '../io/link.js';
import { formatMac } from '../wire/mac.js';
import { ETH_HEADER_LEN } from '../wire/ethernet.js';
import { overlayMtu, VXLAN_HEADER_LEN } from '../wire/vxlan.js';
import { anyAddress, formatHostPort } from '../wire/ipv6.js';
import { CONTROL_HELP, CONTROL_OPTIONS, resolveControlConfig, type ControlConfig } from '../config/control-config.js';
import { leasePeerCapacity, prepareControl, type ControlPlane } from '../control/control-plane.js';
import { formatSubnet } from '../control/ip4.js';
import { OPS_HELP, OPS_OPTIONS, resolveOpsConfig, type OpsConfig } from '../config/ops-config.js';
import { createLogger, lineLogger, type Logger } from '../log/logger.js';
import { attributeUsageError, envInput } from '../config/env.js';
import { Operations } from './run-ops.js';
import { statusRecord } from '../admin/status.js';
import type { DaemonState } from '../daemon/state.js';
import { PERSIST_HELP, PERSIST_OPTIONS, resolvePersistConfig, type PersistConfig } from '../config/persist-config.js';
import { defaultSocketPath } from '../admin/paths.js';
import { openTap, runningWeft, startRecord } from '../persist/lifecycle.js';
import { TakeOver } from '../persist/take-over.js';
import { notifySystemd } from '../persist/systemd.js';
import { handOverHandler } from '../persist/hand-over.js';
import { importState, type HandoverShape, type HandoverState, type Imported } from '../persist/state.js';
import { recordPath, removeRecord, writeRecord, type TapRecord } from '../persist/tap-record.js';
import { runUdpDaemon } from './run-udp.js';
import { runHostGwDaemon } from './run-hostgw.js';

export const RUN_HELP = `Usage: weft run [--config FILE] [options]

Runs a VXLAN tunnel endpoint: frames from the TAP device go out as VXLAN
(RFC 7348) over UDP to the VTEP that has the destination MAC (or to every
--peer for broadcast, multicast and unknown destinations); VXLAN datagrams
that arrive are checked, their source MAC is learned, and the inner frames
are written into the TAP. Needs root (CAP_NET_ADMIN).

Options (a --config JSON file takes the same names, e.g.
{"vni": 1, "peer": ["198.18.0.2"], "address": "10.244.1.1/24"}; every
option may also be set in the environment as WEFT_<OPTION>, upper case,
dashes to underscores (WEFT_BUM_RATE=500), and those flanneld has as
FLANNELD_<OPTION> too (FLANNELD_ETCD_ENDPOINTS); a repeatable option's
values comma-separated. Flags win over the environment (WEFT_ over
FLANNELD_), which wins over the --config file):
  --tap NAME           TAP device to create, or to reattach to when an
                       earlier weft left it (default weft0); removed at
                       SIGINT/SIGTERM unless --keep-tap
  --vni N              VXLAN network identifier, 0–16777215 (default 1)
  --vni N:TAP[:CIDR]   repeatable: several VNIs in one weft, one TAP each,
                       on one UDP socket (frames never cross VNIs). The
                       first --vni may leave out TAP and CIDR (then --tap
                       and --address); each after it names its TAP and may
                       give it an address, e.g. --vni 10 --vni 20:weft20:
                       10.245.0.1/24. Every VNI floods to every --peer.
                       Not with a lease store (it carries one VNI)
  --port N             UDP port to listen on and send to (default 8472, as
                       Linux and flannel; 4789 is the IANA port)
  --local IP           underlay address to bind and send from (default: any
                       address of the peers' family)
  --peer IP[:PORT]     a VTEP to flood broadcast/multicast/unknown frames to
                       (repeatable; the kernel's all-zeros fdb entry)
  --address CIDR       assign this address to the TAP (e.g. 10.244.1.1/24)
  --mac MAC            the TAP's MAC, on every TAP with several VNIs (a MAC
                       need only be unique within its VNI) (default:
                       derived from host, --local, the TAP and the VNI, so
                       it is the same after a restart)
  --mtu N              the TAP's MTU (default: underlay MTU − 50 for IPv4,
                       − 70 for IPv6). A frame from the TAP larger than it
                       (+ 14, + 4 with a VLAN tag) is dropped
                       (tx_drop_too_big), and its sender told so: ICMP
                       "fragmentation needed" for IPv4 with DF, "packet
                       too big" for IPv6, so path MTU discovery works
  --fdb-ageing S       forget a learned MAC S seconds after its last frame
                       (default 300)
  --fdb-max N          most forwarding-table entries (default 65536); when
                       full, frames from new MACs are dropped and counted
  --peer-capacity N    most remote VTEPs weft tracks (its peer table and the
                       source allow-list; about 70 bytes each). Default:
                       with a lease store, one per subnet the network
                       holds (2^(SubnetLen − prefix), at most 65536);
                       else 4096. When full, a VTEP learned from the wire
                       is dropped (rx_drop_peer_table_full) and a lease is
                       refused (weft_leases_refused_total, weft peers) and
                       taken once a removal makes room; --peer and
                       --static beyond it are refused at start (exit 2)
  --static MAC=IP[@VNI]
                       pin MAC to the VTEP at IP (repeatable), in the first
                       VNI or the one after @
  --allow-any-source   take datagrams from any underlay address. By
                       default, when weft knows its peers (--peer,
                       --static, leases), datagrams from other addresses
                       are dropped (rx_drop_unknown_source); with learning
                       only (no peers) any source is taken anyway
  --bum-rate N         broadcast, multicast and unknown-unicast frames a
                       second that one source MAC may have flooded, per
                       VNI (default 1000; 0: no limit); more are dropped
                       (tx_drop_bum_rate)
  --bum-burst N        how many of those may come at once (default: N of
                       --bum-rate, one second's worth)
  --icmp-rate N        most ICMP too-big answers a second (default 100,
                       in bursts of up to 10; 0: none)
  --ignore-reserved    accept datagrams with reserved VXLAN bits set (RFC
                       7348 §5); by default they are dropped, as Linux does
  --batch N            packets per system call (default 64)
  --tap-queue N        frames the TAP queues for weft before the kernel
                       drops them (its txqueuelen; default 10000, the
                       kernel's is 1000): room for bursts while weft waits
                       for a CPU
  --tun NAME           the TUN device of a Backend.Type "udp" network
                       (default flannel0, as flanneld; --tap names it too)
  --no-offload         no TSO/GSO/GRO: one frame per MTU through the TAP and
                       the socket (slower; for kernels without them, or to
                       compare)
  --src-port-range MIN-MAX
                       UDP source ports of the datagrams sent, one per
                       inner flow from its hash, as Linux's vxlan device
                       (default: net.ipv4.ip_local_port_range); MIN-MAX
                       equal to --port sends all from the VXLAN port
  -h, --help           this text

${CONTROL_HELP}

${OPS_HELP}

${PERSIST_HELP}

Logs go to stderr: state changes only (start, stop, leases, forwarding
entries added or removed by hand, drops at most once a minute per reason),
never a line per packet.

Signals: SIGINT/SIGTERM stop it (the TAP, unless --keep-tap, and the
control socket are removed); SIGUSR1 logs the counters and the forwarding table as one record
with "event":"status" (also logged at exit).

Exit status: 0 stopped by a signal, 1 runtime failure (no privilege, port
in use, …), 2 bad usage or configuration.`;

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
  'bum-rate': { type: 'string' }, 'bum-burst': { type: 'string' }, 'icmp-rate': { type: 'string' },
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
    return { ...resolveRunConfig(merged), control, ops: resolveOpsConfig(merged), persist: resolvePersistConfig(merged), tun: merged.tun ?? merged.tap ?? null };
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
  // A weft already on this TAP: refused, or replaced with --takeover (persist/lifecycle.ts).
  const socketPath = cfg.ops.controlSocket ?? defaultSocketPath(cfg.tap);
  const takeover = await runningWeft(socketPath, cfg.tap, cfg.persist.takeover, log);
  // With a lease store, the control plane decides the VNI, port, MTU, and the
  // TAP's address and MAC before anything is opened (control/control-plane.ts).
  const control = cfg.control
    ? await prepareControl(cfg.control, { tap: cfg.tap, local: cfg.local, mac: cfg.macDerived ? null : cfg.mac }, lineLogger(log))
    : null;
  if (control?.conf.backend === 'udp') return runUdp(cfg, control, log);
  if (control?.conf.backend === 'host-gw') return runHostGw(cfg, control, log);
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

/** The udp backend's daemon (run-udp.ts), stopping the control plane if it fails to start. */
async function runUdp(cfg: RunArgs, control: ControlPlane, log: Logger): Promise<number> {
  try {
    return await runUdpDaemon(cfg, control, log);
  } catch (e) {
    control.shutdown();
    throw e;
  }
}

/** host-gw's daemon (run-hostgw.ts): the control plane without a data path. */
async function runHostGw(cfg: RunArgs, control: ControlPlane, log: Logger): Promise<number> {
  try {
    return await runHostGwDaemon(cfg, control, log);
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
  const dp = new Datapath({
    fdbMax: cfg.fdbMax, fdbAgeingMs: cfg.fdbAgeingS * 1000, strictReserved: !cfg.ignoreReserved, peerCapacity,
    knownSourcesOnly, bumRate: cfg.bumRate, bumBurst: cfg.bumBurst, icmpRate: cfg.icmpRate,
  });
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
  const socketPath = cfg.ops.controlSocket ?? defaultSocketPath(cfg.tap);
  const shape: HandoverShape = {
    overlays: cfg.overlays.map((o) => ({ vni: o.vni, tap: o.tap, address: o.address ? `${o.address.ip}/${o.address.prefix}` : null })),
    family: cfg.family, port: cfg.port, local: cfg.local,
  };
  // With --takeover, the socket and the TAPs are the running weft's, passed to this process.
  const took = takeFrom === null ? null : await TakeOver.begin({ path: takeFrom, what: `on tap ${cfg.tap} (${takeFrom})` }, shape, log);
  const adopted = new Set<number>();
  const srcPorts = sourcePortsFor(cfg.srcPortRange, cfg.port);
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
  const tap = taps[0];
  const io = { tap: tapsView(taps), udp };
  const recPath = recordPath(socketPath);

  let fatal: ((err: Error, port: 'tap' | 'udp', vni?: number) => void) | null = null;
  const fwd = new Forwarder(dp, v, tap, udp, { batch: frameBatch, srcPortRange: srcPorts, onFatal: (err, port, vni) => fatal?.(err, port, vni) });
  for (let k = 1; k < vs.length; k++) fwd.addOverlay(vs[k], taps[k]);
  // One super-frame from the TAP should make one UDP GSO send: at most as many segments as fit
  // one (a full-size segment is MTU + Ethernet + VXLAN). Set before forwarding: `ip` blocks the loop.
  const segs = datagramsPerSend(mtu + ETH_HEADER_LEN + VXLAN_HEADER_LEN);
  const capped = cfg.noOffload || !tap.offload || !udp.gso || taps.every((t) => limitTapGsoSegs(t.name, segs));
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
  const st: DaemonState = {
    dp, v, fwd, tap: tap.name, family: cfg.family, local: cfg.local, port: udp.port, startedMs: Date.now(),
    io, control, log, overlays: cfg.overlays.map((o) => ({ vni: o.vni, tap: o.tap })), persist: record,
  };
  let ops: Operations;
  try {
    ops = await Operations.start(st, cfg.ops);
  } catch (e) {
    fwd.stop();
    throw e;
  }
  if (control) {
    try {
      await control.start(dp, v, tap.name);
    } catch (e) {
      ops.close();
      fwd.stop();
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
      for (const t of taps) t.removeOnClose = !keep;
      // Before the control socket closes, which removes its directory when nothing else is in it.
      if (!handedOver) {
        if (keep) writeRecord(recPath, { ...record, kept: true });
        else removeRecord(recPath);
      }
      ops.close();
      control?.shutdown(keep);
      fwd.stop();
      log.info(statusRecord(st), 'status');
      why();
      process.off('SIGUSR1', onUsr1);
      resolve(code);
    };
    const bySignal = (sig: string) => stop(0, () => log.info(`stopped by ${sig}; ${removed}`));
    process.on('SIGUSR1', onUsr1);
    process.once('SIGINT', () => bySignal('SIGINT'));
    process.once('SIGTERM', () => bySignal('SIGTERM'));
    if (control) control.onLost = (why) => stop(1, () => log.error(`${why}; stopping`));
    st.handover = handOverHandler({
      shape, fwd, dp, now: () => performance.now(), log,
      fds: () => [udp.fd, ...taps.map((t) => t.fd)],
      lease: () => (control ? { subnet: formatSubnet(control.own.subnet), expiresMs: control.own.expiresMs } : null),
      record: () => record,
      committed: (pid) => stop(0, () => log.info(`handed over to pid ${pid}; exiting, ${taps.length === 1 ? 'the TAP stays' : 'the TAPs stay'} with it`), true),
    });
    fatal = (err, port, vni) => stop(1, () => {
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
      `offload ${[tap.offload ? 'tso' : '', tap.uso ? 'uso' : '', udp.gso ? 'gso' : '', udp.gro ? 'gro' : ''].filter(Boolean).join('+') || 'off'}`,
    );
    notifySystemd('READY=1', log);
    // Kernel features asked for but missing: said once, and weft carries on without them.
    if (!cfg.noOffload) {
      const missing = [tap.offload ? '' : 'TSO on the TAP (TUNSETOFFLOAD)', udp.gso ? '' : 'UDP GSO (UDP_SEGMENT)', udp.gro ? '' : 'UDP GRO (UDP_GRO)',
        capped ? '' : `a GSO segment limit on the TAP (ip link set gso_max_segs ${segs})`].filter(Boolean);
      if (missing.length) log.warn(`this kernel lacks ${missing.join(', ')}: falling back to one packet per system call there`);
    }
  });
}
