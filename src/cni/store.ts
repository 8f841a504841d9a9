// The delegate configs kept between ADD and DEL, in flannel's layout: one
// file per container, <dataDir>/<containerID>, holding the delegate's config
// exactly as it was sent on ADD. DEL and CHECK use it rather than rebuilding
// it from subnet.env, which may have changed (or gone) meanwhile; and a data
// directory that flannel's plugin wrote works here, so switching a host from
// flannel's plugin to weft's keeps DEL working for the pods already running.
//
// We add one key the delegates never see, IFNAME_KEY, so that GC can release
// an attachment knowing its interface (host-local's reservations are per
// container and interface); a file without it (flannel's) is taken as eth0,
// the interface every Kubernetes runtime uses.
//
// Writes are a temporary file, fsync'd and renamed: a crash leaves the old
// file or the new one, never half of one.

import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, CNI_ERR } from './errors.js';
import { PLAIN_NAME } from './netconf.js';

const IFNAME_KEY = 'cni.weft.dev/ifname';
const DEFAULT_IFNAME = 'eth0';

/** The spec's rule for a container id, which also keeps it a plain file name in the data directory. */
export const CONTAINER_ID = PLAIN_NAME;

export interface Stored {
  /** The delegate's config, as it was sent on ADD. */
  conf: Record<string, unknown>;
  ifname: string;
}

function ioError(what: string, path: string, e: unknown): CniError {
  return new CniError(CNI_ERR.io, `${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    'the plugin keeps each container\'s delegate config in "dataDir" (default /var/lib/cni/flannel): it must be writable by the runtime');
}

export function save(dataDir: string, containerId: string, ifname: string, conf: Record<string, unknown>): void {
  const path = join(dataDir, containerId);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ ...conf, [IFNAME_KEY]: ifname }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError('cannot write', path, e);
  }
}

/** The stored config of a container; null if there is none or it is not a JSON object. */
export function load(dataDir: string, containerId: string): Stored | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, containerId), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('cannot read', join(dataDir, containerId), e);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const { [IFNAME_KEY]: ifname, ...conf } = v as Record<string, unknown>;
  return { conf, ifname: typeof ifname === 'string' ? ifname : DEFAULT_IFNAME };
}

export function remove(dataDir: string, containerId: string): void {
  rmSync(join(dataDir, containerId), { force: true });
}

/** The container ids with a stored config (temporary files left by a crash are not ids). */
export function list(dataDir: string): string[] {
  try {
    return readdirSync(dataDir).filter((n) => CONTAINER_ID.test(n) && !/\.\d+\.tmp$/.test(n));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError('cannot list', dataDir, e);
  }
}
