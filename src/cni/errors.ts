// The CNI plugin's one way to fail: a CniError carries a code from the CNI
// specification (SPEC.md, "Error" in section 5) and becomes the error JSON
// the runtime reads on stdout, with a non-zero exit. Codes below 100 are the
// spec's; 100 and up are this plugin's own, listed here and in docs/cni.md.

export const CNI_ERR = {
  /** The config's cniVersion is one this plugin does not speak. */
  incompatibleVersion: 1,
  /** CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME or CNI_PATH missing or malformed. */
  invalidEnv: 4,
  /** The data directory (stored delegate configs) cannot be read or written. */
  io: 5,
  /** stdin is not a JSON object. */
  decode: 6,
  /** The network config is wrong (a field's type, a forbidden delegate key). */
  invalidConfig: 7,
  /** subnet.env is not there yet: the weft (or flanneld) on this host has not leased a subnet. */
  tryAgainLater: 11,
  /** STATUS: the plugin cannot take an ADD now (subnet.env missing or unusable). */
  notAvailable: 50,
  /** subnet.env is there but unusable (a malformed or missing key). */
  badSubnetEnv: 100,
  /** The delegate plugin (bridge, host-local, …) is in none of CNI_PATH's directories. */
  delegateNotFound: 101,
  /** The delegate failed without a CNI error of its own (crashed, killed, timed out, printed no JSON). */
  delegateFailed: 102,
  /** CHECK: no stored config for the container, or the host's subnet has changed since ADD. */
  checkFailed: 103,
  /** ADD: CNI_IFNAME already exists in the container (the spec: ADD must fail, and nothing of it may be undone). */
  interfaceExists: 104,
  /** Anything else: a bug in the plugin; the details hold the stack. */
  internal: 110,
} as const;

export class CniError extends Error {
  constructor(readonly code: number, msg: string, readonly details = '') {
    super(msg);
  }
}

/** The spec's error object, as the runtime reads it from stdout. */
export function errorJson(e: CniError, cniVersion: string): string {
  const o: Record<string, unknown> = { cniVersion, code: e.code, msg: e.message };
  if (e.details) o.details = e.details;
  return JSON.stringify(o) + '\n';
}
