// One question about the container's network namespace, asked before ADD:
// is CNI_IFNAME already there? The spec says ADD must then fail; and it must
// fail before the delegate runs, because the DEL that undoes a failed ADD
// (plugin.ts) would delete that interface — one this attachment never made,
// perhaps another network's. Node cannot enter a namespace itself, so
// nsenter (util-linux) and ip (iproute2) answer, as on every Linux host.

import { spawnSync } from 'node:child_process';

/** Whether `ifname` exists in the namespace at path `netns`; null when that cannot be learned (no nsenter, a namespace that will not open). */
export function interfaceExists(netns: string, ifname: string): boolean | null {
  const r = spawnSync('nsenter', [`--net=${netns}`, '--', 'ip', '-j', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return null;
  try {
    return (JSON.parse(r.stdout) as { ifname?: string }[]).some((l) => l.ifname === ifname);
  } catch {
    return null;
  }
}
