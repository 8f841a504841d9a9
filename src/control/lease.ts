// A subnet lease: one host's claim on one subnet of the overlay, with what
// the other hosts need to reach it. The stored value is flannel's JSON, byte
// for byte in key order, so flanneld and weft read each other's leases:
//
//   <prefix>/subnets/10.244.1.0-24 =
//     {"PublicIP":"198.18.0.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:cc:82:92:51:0a"}}
//
// flanneld's udp backend fills only PublicIP (pkg/backend/udp/udp_amd64.go);
// Go's encoding/json then writes PublicIPv6, a nil pointer without
// omitempty, as null and leaves out the empty BackendType and BackendData
// (pkg/lease/lease.go LeaseAttrs), so its lease is
//
//     {"PublicIP":"198.18.0.1","PublicIPv6":null}
//
// and weft writes the same for Backend.Type "udp" (backendType 'udp' here,
// '' as read back).

import { parseMac, formatMac } from '../wire/mac.js';
import { type Subnet } from './ip4.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';

/** The lease's value: flannel's LeaseAttrs for the vxlan backend. */
export interface LeaseAttrs {
  /** The host's underlay address (flannel's PublicIP), as text. */
  publicIp: string;
  backendType: string;
  /** Present for vxlan leases. */
  vni: number | null;
  /** The remote VTEP's MAC as a 48-bit number, for vxlan leases. */
  vtepMac: number | null;
}

export interface Lease {
  subnet: Subnet;
  attrs: LeaseAttrs;
  /** Wall-clock ms when the lease lapses unless renewed; 0 when the store does not say. */
  expiresMs: number;
  /** The store's revision of this lease (etcd mod_revision; the file store's counter): for compare-and-swap. */
  revision: number;
}

export function encodeAttrs(a: LeaseAttrs): string {
  if (a.backendType === 'udp') return JSON.stringify({ PublicIP: a.publicIp, PublicIPv6: null });
  const backend = a.backendType === 'vxlan' ? { VNI: a.vni ?? 1, VtepMAC: formatMac(a.vtepMac ?? 0) } : undefined;
  return JSON.stringify({ PublicIP: a.publicIp, BackendType: a.backendType, ...(backend ? { BackendData: backend } : {}) });
}

/** flannel's JSON → attrs, or a string saying what is wrong (leases come from other hosts: log and skip, never crash). */
export function decodeAttrs(text: string): LeaseAttrs | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object';
  const r = o as Record<string, unknown>;
  if (typeof r.PublicIP !== 'string' || parseIpv4(r.PublicIP) === null) return `PublicIP ${JSON.stringify(r.PublicIP)} is not an IPv4 address`;
  const publicIp = numberToIpv4(parseIpv4(r.PublicIP)!);
  const backendType = typeof r.BackendType === 'string' ? r.BackendType : '';
  if (backendType !== 'vxlan') return { publicIp, backendType, vni: null, vtepMac: null };
  const bd = r.BackendData as Record<string, unknown> | undefined;
  if (typeof bd !== 'object' || bd === null) return 'vxlan lease without BackendData';
  let vtepMac: number;
  try {
    vtepMac = parseMac(String(bd.VtepMAC));
  } catch {
    return `BackendData.VtepMAC ${JSON.stringify(bd.VtepMAC)} is not a MAC address`;
  }
  const vni = bd.VNI === undefined ? 1 : bd.VNI;
  if (typeof vni !== 'number' || !Number.isInteger(vni)) return `BackendData.VNI ${JSON.stringify(bd.VNI)} is not a number`;
  return { publicIp, backendType, vni, vtepMac };
}

export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return a.publicIp === b.publicIp && a.backendType === b.backendType && a.vni === b.vni && a.vtepMac === b.vtepMac;
}
