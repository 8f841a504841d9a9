// Where a weft's control socket is, by default: /run/weft/<tap>.sock.
//
// One machine can run a weft per network namespace, each with a TAP named
// weft0 (the netns test rig does exactly that), and /run is shared between
// namespaces. So a weft outside the machine's own namespace puts its socket
// under the namespace's name instead: /run/weft/netns/<name>/<tap>.sock for
// a namespace made with `ip netns add` (and entered with `ip netns exec`),
// /run/weft/netns/net-<inode>/<tap>.sock for an unnamed one. A command run
// in the same namespace computes the same path, so `weft stats` finds the
// weft next to it without being told.

import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_DIR = '/run/weft';
const NETNS_DIR = '/run/netns';

/** The initial network namespace's inode number (PROC_NET_INIT_INO, fixed since Linux 3.8). */
const INIT_NET_INO = 0xeffffff9;

/** The network namespace's name, 'net-<inode>' if it has none, or null for the machine's own (PID 1's) namespace. */
export function netnsName(): string | null {
  let self;
  try {
    self = statSync('/proc/self/ns/net');
  } catch {
    return null; // no /proc: nothing to tell namespaces apart by
  }
  // readlink, not stat: a sandbox may refuse stat on PID 1's namespace files.
  let init: string | null = null;
  try { init = readlinkSync('/proc/1/ns/net'); } catch { /* not allowed to look */ }
  if (init !== null ? init === `net:[${self.ino}]` : self.ino === INIT_NET_INO) return null;
  let names: string[] = [];
  try { names = readdirSync(NETNS_DIR); } catch { /* no named namespaces */ }
  for (const n of names.sort()) {
    try {
      const st = statSync(join(NETNS_DIR, n));
      if (st.ino === self.ino && st.dev === self.dev) return n;
    } catch { /* being removed */ }
  }
  return `net-${self.ino}`;
}

export function defaultSocketPath(tap: string): string {
  const ns = netnsName();
  return ns === null ? join(RUN_DIR, `${tap}.sock`) : join(RUN_DIR, 'netns', ns, `${tap}.sock`);
}
