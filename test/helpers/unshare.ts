// Private network namespaces for tests that touch the kernel's networking.
//
// test/run.ts starts every test/live file under `unshare --net` with
// WEFT_IN_UNSHARE=1: such a file calls privateNetns() first, which fails
// with one clear line unless it is root inside a fresh namespace holding
// only lo (so nothing it makes can reach the host's), and brings lo up.
// A unit test that runs a program which might touch the network wraps it
// with unshared() instead.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { requireRoot, requireTool } from './require.js';

let ready = false;

/**
 * Checks this process is root in a fresh private network namespace, then
 * brings lo up (and, with `noIpv6`, turns IPv6 off on devices made later:
 * their router solicitations would only be noise). Throws otherwise; never skips.
 */
export function privateNetns(opts: { noIpv6?: boolean } = {}): void {
  requireRoot();
  requireTool('ip', 'iproute2');
  if (ready) return;
  if (process.env.WEFT_IN_UNSHARE !== '1') {
    throw new Error('this test needs a private network namespace: run it with node dist/test/run.js (which uses unshare --net)');
  }
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname);
  if (links.join(' ') !== 'lo') {
    throw new Error(`WEFT_IN_UNSHARE=1 is set but this is not a fresh private network namespace (links: ${links.join(' ')}): refusing to create devices`);
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  if (opts.noIpv6) writeFileSync('/proc/sys/net/ipv6/conf/default/disable_ipv6', '1');
  ready = true;
}

/** The command that runs `cmd args` in a fresh network namespace of its own when root (else as it is). */
export function unshared(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['unshare', ['--net', '--', cmd, ...args]] : [cmd, args];
}
