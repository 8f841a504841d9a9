// A weft's DaemonState for tests of the operator's side (the control socket,
// metrics, `weft stats`) without root: a real Datapath and Forwarder on
// ports that never run, a JSON logger whose lines the test reads back.

import { Writable } from 'node:stream';
import type { Datapath } from '../../src/datapath/datapath.js';
import { Forwarder } from '../../src/datapath/forwarder.js';
import type { VniState } from '../../src/datapath/vni.js';
import type { FramePort, DatagramPort } from '../../src/io/ports.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import type { DaemonState } from '../../src/daemon/state.js';
import { createLogger } from '../../src/log/logger.js';

/** Ports that never have anything to read and take nothing. */
export const idlePorts = { read: () => 0, write: () => 0, onReadable: () => {}, close: () => {} } as unknown as FramePort & DatagramPort;

/** The state `weft run` would assemble around `dp` and `v` (underlay 198.18.0.1, port 8472), and its log lines as parsed JSON. */
export function daemonState(dp: Datapath, v: VniState, control: ControlPlane | null): { st: DaemonState; fwd: Forwarder; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  const log = createLogger({ format: 'json', level: 'debug', dest });
  const fwd = new Forwarder(dp, v, idlePorts, idlePorts);
  const st: DaemonState = { dp, v, fwd, tap: 'weft0', family: 4, local: '198.18.0.1', port: 8472, startedMs: Date.now(), io: null, control, log };
  return { st, fwd, lines };
}
