// The operator's side of `weft run`, started once the TAP and the socket are
// open and stopped before they close:
//
//   - the control socket (admin/), which `weft fdb|peers|stats|capture` use;
//   - the metrics endpoint (metrics/), if --metrics was given;
//   - warnings about drops: once a second the drop counters are compared
//     with what was last reported, and a reason that moved is logged at
//     most once a minute, with the count since its last line and, for
//     received datagrams, the underlay source of the latest one dropped;
//   - at --log-level debug, a line when a learned MAC moves to another VTEP
//     (at most one per MAC per 10 s).

import type { Logger } from '../log/logger.js';
import { RateLimiter } from '../log/rate-limit.js';
import { AdminServer } from '../admin/server.js';
import { Commands } from '../admin/commands.js';
import type { DaemonState } from '../daemon/state.js';
import { defaultSocketPath } from '../admin/paths.js';
import { createRegistry } from '../metrics/metrics.js';
import { MetricsServer } from '../metrics/http.js';
import { COUNTER_NAMES } from '../datapath/counters.js';
import { formatHostPort, wordsToIp } from '../wire/ipv6.js';
import { formatMac } from '../wire/mac.js';
import type { OpsConfig } from '../config/ops-config.js';

const DROP_CHECK_MS = 1000;
const DROP_WARN_EVERY_MS = 60_000;
const MOVE_LOG_EVERY_MS = 10_000;

export class Operations {
  /** Set by `weft run` once the control plane has programmed the leases it listed. */
  controlReady = false;
  /** Set when the daemon is stopping (a lost lease, a signal): no longer ready. */
  stopping = false;
  private readonly commands: Commands;
  private admin: AdminServer | null = null;
  private metrics: MetricsServer | null = null;
  private timer: NodeJS.Timeout | null = null;

  private constructor(private readonly st: DaemonState, private readonly log: Logger) {
    this.commands = new Commands(st);
  }

  /** Opens the control socket and the metrics endpoint; throws a RuntimeError saying what is in the way. */
  static async start(st: DaemonState, cfg: OpsConfig): Promise<Operations> {
    const ops = new Operations(st, st.log);
    try {
      const path = cfg.controlSocket ?? defaultSocketPath(st.tap);
      ops.admin = await AdminServer.open(path, (req, s) => ops.commands.handle(req, s),
        () => st.log.warn({ socket: path }, 'removed a stale control socket (left by a weft that did not stop cleanly)'));
      st.log.info({ socket: path }, `control socket ${path}`);
      if (cfg.metrics) {
        const reg = createRegistry(st, { ready: () => ops.notReady() === null, capturing: () => ops.commands.capturing });
        ops.metrics = await MetricsServer.start(cfg.metrics.host, cfg.metrics.port, reg, () => ops.notHealthy(), () => ops.notReady());
        st.log.info({ metrics: ops.metrics.url }, `metrics on ${ops.metrics.url}`);
      }
    } catch (e) {
      ops.close();
      throw e;
    }
    ops.watchDrops();
    if (st.log.isLevelEnabled('debug')) ops.logMoves();
    return ops;
  }

  /** /healthz: the process is up and the TAP and socket are open. */
  notHealthy(): string | null {
    return this.st.fwd.running ? null : 'the TAP or the UDP socket is closed';
  }

  /** /readyz: healthy and, with a lease store, our lease held and the others' programmed. */
  notReady(): string | null {
    if (this.stopping) return 'stopping';
    const h = this.notHealthy();
    if (h !== null) return h;
    const ctl = this.st.control;
    if (!ctl) return null;
    if (!this.controlReady) return 'programming the leases from the store';
    if (ctl.own.expiresMs !== 0 && ctl.own.expiresMs <= Date.now()) return 'our lease has lapsed';
    return null;
  }

  /** Ends a running capture, closes the socket (removing its file) and the endpoint. Synchronous. */
  close(): void {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.st.dp.fdb.onMove = null;
    this.commands.stopCapture();
    this.admin?.close();
    this.metrics?.close();
  }

  private watchDrops(): void {
    const c = this.st.dp.counters.v;
    const drops = COUNTER_NAMES.map((n, i) => [n, i] as const).filter(([n]) => /_drop_/.test(n));
    const reported = new Float64Array(c.length);
    const limiter = new RateLimiter(DROP_WARN_EVERY_MS);
    // Workers' counters are live, the source of their latest drop comes with their stats a beat later
    // (workers/layout.ts STATS_EVERY_MS): a received drop whose source is not known yet waits one check.
    const waited = new Uint8Array(c.length);
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const [name, i] of drops) {
        if (c[i] === reported[i]) continue;
        const rx = name.startsWith('rx_');
        const from = rx && this.st.fwd.lastDropSeq > 0 ? formatHostPort(wordsToIp(this.st.fwd.lastDrop), this.st.fwd.lastDrop[4]) : undefined;
        if (rx && from === undefined && waited[i] === 0) { waited[i] = 1; continue; }
        if (limiter.allow(name, now) < 0) continue;
        this.log.warn({ reason: name, dropped: c[i] - reported[i], total: c[i], lastFrom: from },
          `dropping ${rx ? 'datagrams from the underlay' : 'frames from the TAP'}: ${name}`);
        reported[i] = c[i];
      }
    }, DROP_CHECK_MS);
    this.timer.unref();
  }

  private logMoves(): void {
    const { dp } = this.st;
    const limiter = new RateLimiter(MOVE_LOG_EVERY_MS);
    dp.fdb.onMove = (vni, mac, from, to) => {
      const m = formatMac(mac);
      const held = limiter.allow(`${vni}/${m}`, Date.now());
      if (held < 0) return;
      this.log.debug({ vni, mac: m, from: dp.peers.toString(from), to: dp.peers.toString(to), ...(held ? { repeated: held } : {}) }, 'MAC moved');
    };
  }
}
