// What a failed tapOpen or udpOpen means to the person running weft. The
// addon (src/native) throws errors the way Node's own are: `code` (the
// errno's name), `errno`, `syscall` and a plain "<what> failed: <strerror>"
// message. native.ts passes the errors of these two calls through here, which
// rewrites the message into the line a user can act on and keeps the rest,
// so callers still branch on `code`. Which command-line flag fixes it is the
// CLI's to say (src/cli/run.ts).

import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

export type ErrnoError = Error & { code?: string; errno?: number; syscall?: string };

/** Longest interface name (IFNAMSIZ - 1). */
const IFNAME_MAX = 15;

/** Why the kernel would refuse or cut `name` as an interface name (dev_valid_name), or null. The empty name lets it pick tapN. */
export function tapNameProblem(name: string): string | null {
  if (Buffer.byteLength(name) > IFNAME_MAX) return `TAP name '${name}' is too long: an interface name has at most ${IFNAME_MAX} characters`;
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) {
    return `TAP name '${name}' is not a valid interface name: it may not be '.' or '..' or contain '/', ':' or white space`;
  }
  return null;
}

/** An errno error as the addon would throw it, for a check made before the call. */
export function errnoError(code: keyof typeof constants.errno, syscall: string, message: string): ErrnoError {
  return Object.assign(new Error(message), { code, errno: -constants.errno[code], syscall });
}

/** Whether a network device `name` exists in this process's namespace (/proc/net is per namespace; /sys/class/net may not be). */
export function netdevExists(name: string): boolean {
  try {
    return readFileSync('/proc/net/dev', 'utf8').split('\n').some((l) => l.trimStart().startsWith(`${name}:`));
  } catch {
    return false;
  }
}

/** The user's line for a failed tapOpen(name); null keeps the addon's. */
export function tapOpenMessage(e: ErrnoError, name: string, exists: (name: string) => boolean = netdevExists): string | null {
  if (e.syscall === 'open' && (e.code === 'ENOENT' || e.code === 'ENODEV' || e.code === 'ENXIO')) {
    return 'no /dev/net/tun: load the tun module (modprobe tun) or run where TUN/TAP is available';
  }
  if (e.code === 'EPERM' || e.code === 'EACCES') return 'creating a TAP device needs CAP_NET_ADMIN: run as root';
  // EBUSY: a TAP of that name is attached to another process. EINVAL: the
  // name belongs to a device that is not a TAP (or not one of this kind).
  if (e.syscall === 'ioctl(TUNSETIFF)' && (e.code === 'EBUSY' || (e.code === 'EINVAL' && name !== '' && exists(name)))) {
    return `TAP name '${name}' is taken by another device`;
  }
  return null;
}

/** The user's line for a failed udpOpen(family, address, port); null keeps the addon's. */
export function udpOpenMessage(e: ErrnoError, family: 4 | 6, address: string, port: number): string | null {
  switch (`${e.syscall} ${e.code}`) {
    case 'inet_pton EINVAL': return `'${address.length > 60 ? `${address.slice(0, 40)}...` : address}' is not an IPv${family} address`;
    case 'socket EAFNOSUPPORT': return `this host has no IPv${family} (disabled or not built into the kernel)`;
    case 'bind EADDRINUSE': return `UDP port ${port} on ${address} is in use: another VTEP (weft or a kernel vxlan device) may be bound to it`;
    case 'bind EADDRNOTAVAIL': return `${address} is not an address of this host`;
    case 'bind EACCES': return `binding UDP port ${port} needs root: it is below the first unprivileged port`;
    default: return null;
  }
}
