// The network configuration changing under a running weft. flanneld reads
// net-conf.json once; so does weft: the VNI, port, MTU and the TAP's
// address are set at start, and every lease is checked against the network
// it started with. A `config` key that an operator (or a broken script)
// rewrites while weft runs is therefore logged, never taken: junk is said to
// be junk and ignored, a valid but different network is said to need a
// restart, and the network weft started with stays either way.
//
// `configChangeLine` is pure: the network weft runs, the new text (null:
// deleted) and where it lives in, the line to log out (null: nothing to say,
// the same network written again).

import { formatSubnet } from './ip4.js';
import { parseNetConf, type NetConf } from './net-conf.js';

function describe(c: NetConf): string {
  return `${formatSubnet(c.network)}, SubnetLen ${c.subnetLen}, VNI ${c.vni}, port ${c.port}${c.mtu !== null ? `, MTU ${c.mtu}` : ''}`;
}

function same(a: NetConf, b: NetConf): boolean {
  return a.network.ip === b.network.ip && a.network.len === b.network.len && a.subnetLen === b.subnetLen &&
    a.subnetMin === b.subnetMin && a.subnetMax === b.subnetMax && a.vni === b.vni && a.port === b.port && a.mtu === b.mtu &&
    a.backend === b.backend && a.directRouting === b.directRouting;
}

export function configChangeLine(running: NetConf, text: string | null, where: string): string | null {
  const keep = `weft keeps the network it started with (${describe(running)})`;
  if (text === null) return `weft: the network configuration ${where} was deleted; ${keep}`;
  let next: NetConf;
  try {
    next = parseNetConf(text, where);
  } catch (e) {
    return `weft: the network configuration ${where} changed to one weft cannot use, ignored: ${(e as Error).message.split('\n')[0]}; ${keep}`;
  }
  if (same(running, next)) return null;
  return `weft: the network configuration ${where} changed to ${describe(next)}; ${keep} until it is restarted`;
}
