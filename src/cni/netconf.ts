// The plugin's network config (stdin) and the delegate's config made from it
// and subnet.env, as flannel's CNI plugin makes it (flannel.go cmdAdd,
// flannel_linux.go doCmdAdd and getDelegateIPAM), so that a config written
// for flannel works with only "type" changed:
//
//   delegate = config.delegate (default {}), then, unless it sets them:
//     type bridge · ipMasq = !FLANNEL_IPMASQ (the host does not masquerade, so
//     the bridge must) · mtu FLANNEL_MTU · isGateway true (bridge only);
//   always: name and cniVersion from the config, runtimeConfig when given;
//   ipam = config.ipam (default {}) with type host-local unless set, ranges
//     one per family from FLANNEL_SUBNET and FLANNEL_IPV6_SUBNET, routes the
//     config's own followed by FLANNEL_NETWORK's and FLANNEL_IPV6_NETWORK's.
//
// Pure: JSON in, objects or a CniError out.

import { CniError, CNI_ERR } from './errors.js';
import type { FlannelEnv } from './subnet-env.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';
/** The spec versions this plugin takes; the delegate (bridge) decides which it can honour. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

/**
 * A name that is a plain file name: the spec's rule for a container id, and
 * what a delegate's "type" must be (it names a file in CNI_PATH's directories).
 */
export const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

type Obj = Record<string, unknown>;

export interface PluginConf {
  /** The whole config as the runtime sent it. */
  raw: Obj;
  cniVersion: string;
  name: string;
  subnetFile: string;
  dataDir: string;
  delegate: Obj | null;
  ipam: Obj | null;
  runtimeConfig: Obj | null;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(msg: string): CniError {
  return new CniError(CNI_ERR.invalidConfig, msg);
}

function optString(o: Obj, key: string, dflt: string): string {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || v === '') throw invalid(`"${key}" must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function optObj(o: Obj, key: string): Obj | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (!isObj(v)) throw invalid(`"${key}" must be an object, got ${JSON.stringify(v)}`);
  return v;
}

/** The stdin text as a JSON object, or a CniError (code 6, decode). */
export function parseJsonObject(text: string, what: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(CNI_ERR.decode, `${what} is not JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw new CniError(CNI_ERR.decode, `${what} must be a JSON object`);
  return v;
}

/** The version a config names; the spec's rule for a config without one is 0.1.0. */
export function versionOf(o: Obj): string {
  const v = o.cniVersion;
  if (v === undefined) return '0.1.0';
  if (typeof v !== 'string') throw invalid(`"cniVersion" must be a string, got ${JSON.stringify(v)}`);
  if (!SUPPORTED_VERSIONS.includes(v)) {
    throw new CniError(CNI_ERR.incompatibleVersion, `cniVersion ${v} is not supported`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return v;
}

/** The plugin's config, checked as flannel's plugin checks it (and "name", which every delegate needs). */
export function parsePluginConf(text: string): PluginConf {
  const raw = parseJsonObject(text, 'the network config on stdin');
  const cniVersion = versionOf(raw);
  if (typeof raw.name !== 'string' || raw.name === '') throw invalid(`"name" must be a non-empty string, got ${JSON.stringify(raw.name)}`);
  const delegate = optObj(raw, 'delegate');
  if (delegate) {
    if ('type' in delegate && (typeof delegate.type !== 'string' || !PLAIN_NAME.test(delegate.type))) {
      throw invalid(`"delegate" must have a string "type" naming a plugin, got ${JSON.stringify(delegate.type)}`);
    }
    if ('name' in delegate) throw invalid('"delegate" must not have a "name": the plugin sets it from the network\'s name');
    if ('ipam' in delegate) throw invalid('"delegate" must not have an "ipam": the plugin builds it from subnet.env (give "ipam" at the top level)');
  }
  const ipam = optObj(raw, 'ipam');
  if (ipam && 'routes' in ipam && (!Array.isArray(ipam.routes) || !ipam.routes.every((r) => isObj(r) && typeof r.dst === 'string'))) {
    throw invalid(`"ipam.routes" must be a list of {"dst": CIDR}, got ${JSON.stringify(ipam.routes)}`);
  }
  if (ipam && 'type' in ipam && typeof ipam.type !== 'string') throw invalid(`"ipam.type" must be a string, got ${JSON.stringify(ipam.type)}`);
  return {
    raw, cniVersion, name: raw.name,
    subnetFile: optString(raw, 'subnetFile', DEFAULT_SUBNET_FILE),
    dataDir: optString(raw, 'dataDir', DEFAULT_DATA_DIR),
    delegate, ipam,
    runtimeConfig: optObj(raw, 'runtimeConfig'),
  };
}

/** The delegate's config for this host's subnet.env (the table at the top of the file). */
export function delegateConf(c: PluginConf, env: FlannelEnv): Obj {
  const d: Obj = { ...(c.delegate ?? {}) };
  if (c.runtimeConfig) d.runtimeConfig = c.runtimeConfig;
  d.name = c.name;
  if (!('type' in d)) d.type = 'bridge';
  if (!('ipMasq' in d)) d.ipMasq = !env.ipMasq;
  if (!('mtu' in d)) d.mtu = env.mtu;
  if (d.type === 'bridge' && !('isGateway' in d)) d.isGateway = true;
  if ('cniVersion' in c.raw) d.cniVersion = c.cniVersion;

  const ipam: Obj = { ...(c.ipam ?? {}) };
  if (!('type' in ipam)) ipam.type = 'host-local';
  ipam.ranges = [env.subnet4, env.subnet6].filter((s) => s !== null).map((subnet) => [{ subnet }]);
  const routes = Array.isArray(ipam.routes) ? [...(ipam.routes as Obj[])] : [];
  for (const dst of [...env.networks4, ...env.networks6]) routes.push({ dst });
  ipam.routes = routes;
  d.ipam = ipam;
  return d;
}

/** The delegate's type ("bridge" unless the config said otherwise). */
export function delegateType(d: Obj): string {
  return typeof d.type === 'string' ? d.type : 'bridge';
}

/**
 * prevResult for the delegate's CHECK, each route without a "gw" given the
 * gateway of its family from "ips" — the spec's reading of a route without
 * one ("a value in gateway in the ips array may be used"), and what the
 * kernel holds. The reference bridge before 1.3 looks for the route exactly
 * as written, finds none without a gateway, and fails CHECK on every
 * container flannel's config attaches; so does Debian's 1.1.
 */
export function withRouteGateways(prevResult: unknown): unknown {
  if (!isObj(prevResult) || !Array.isArray(prevResult.routes) || !Array.isArray(prevResult.ips)) return prevResult;
  const gw = (v6: boolean) => (prevResult.ips as unknown[])
    .map((ip) => (isObj(ip) && typeof ip.gateway === 'string' ? ip.gateway : ''))
    .find((g) => g !== '' && g.includes(':') === v6);
  const routes = prevResult.routes.map((r) => {
    if (!isObj(r) || typeof r.dst !== 'string' || typeof r.gw === 'string') return r;
    const g = gw(r.dst.includes(':'));
    return g === undefined ? r : { ...r, gw: g };
  });
  return { ...prevResult, routes };
}
