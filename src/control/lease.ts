// A subnet lease: one host's claim on one subnet of the overlay, with what
// the other hosts need to reach it. The stored value is flannel's JSON, byte
// for byte in key order, so flanneld and weft read each other's leases:
//
//   <prefix>/subnets/10.244.1.0-24 =
//     {"PublicIP":"198.18.0.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:cc:82:92:51:0a"}}
//
// A dual-stack lease (key `10.244.1.0-24&fd00:244:0:1::-64`) adds the IPv6
// side, in the order of flannel's LeaseAttrs (pkg/lease/lease.go):
//
//     {"PublicIP":"198.18.0.1","PublicIPv6":"2001:2::1","BackendType":"vxlan",
//      "BackendData":{"VNI":1,"VtepMAC":"…"},"BackendV6Data":{"VNI":1,"VtepMAC":"…"}}
//
// An IPv6-only lease has no BackendData, and PublicIP is flannel's zero
// value "0.0.0.0" (a Go IP4 is never omitted): read back as no IPv4 address.
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
//
// flanneld's host-gw backend fills PublicIP and BackendType
// (pkg/backend/hostgw/hostgw.go); PublicIPv6 is null the same way, so
//
//     {"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}
//
// and weft writes that; with EnableIPv6 PublicIPv6 is the host's IPv6
// address, and in an IPv6-only network PublicIP is Go's zero IP4, "0.0.0.0". A vxlan network with DirectRouting writes its
// ordinary vxlan lease: the path is each reader's choice.

import { parseMac, formatMac } from '../wire/mac.js';
import { type Subnet } from './ip4.js';
import { numberToIpv4, parseIpv4 } from '../wire/ipv4.js';
import { formatIpv6, parseIpv6 } from './ip6.js';

/** flannel's PublicIP when the host has no IPv4 side. */
const NO_PUBLIC_IP = '0.0.0.0';

/** The lease's value: flannel's LeaseAttrs for the vxlan backend. */
export interface LeaseAttrs {
  /** The host's IPv4 underlay address (flannel's PublicIP), as text; null on an IPv6-only host ("0.0.0.0"). */
  publicIp: string | null;
  backendType: string;
  /** Present for vxlan leases. */
  vni: number | null;
  /** The remote VTEP's MAC as a 48-bit number, for vxlan leases with an IPv4 side (BackendData). */
  vtepMac: number | null;
  /** The IPv6 underlay address (PublicIPv6), RFC 5952 text, when the lease has an IPv6 side. */
  publicIpv6?: string | null;
  /** BackendV6Data's VtepMAC: the MAC IPv6 overlay traffic goes to (flanneld's flannel-v6 device). */
  vtepMac6?: number | null;
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
  if (a.backendType === 'host-gw') return JSON.stringify({ PublicIP: a.publicIp ?? NO_PUBLIC_IP, PublicIPv6: a.publicIpv6 ?? null, BackendType: 'host-gw' });
  const vxlan = a.backendType === 'vxlan';
  const backend = vxlan && a.publicIp !== null ? { VNI: a.vni ?? 1, VtepMAC: formatMac(a.vtepMac ?? 0) } : undefined;
  const v6 = a.publicIpv6 ? a.publicIpv6 : null;
  const backend6 = vxlan && v6 ? { VNI: a.vni ?? 1, VtepMAC: formatMac(a.vtepMac6 ?? a.vtepMac ?? 0) } : undefined;
  return JSON.stringify({
    PublicIP: a.publicIp ?? NO_PUBLIC_IP, ...(v6 ? { PublicIPv6: v6 } : {}), BackendType: a.backendType,
    ...(backend ? { BackendData: backend } : {}), ...(backend6 ? { BackendV6Data: backend6 } : {}),
  });
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
  const ip4 = numberToIpv4(parseIpv4(r.PublicIP)!);
  const publicIp = ip4 === NO_PUBLIC_IP ? null : ip4;
  let publicIpv6: string | null = null;
  if (r.PublicIPv6 !== undefined && r.PublicIPv6 !== null) {
    const v = typeof r.PublicIPv6 === 'string' ? parseIpv6(r.PublicIPv6) : null;
    if (v === null) return `PublicIPv6 ${JSON.stringify(r.PublicIPv6)} is not an IPv6 address`;
    publicIpv6 = formatIpv6(v);
  }
  const backendType = typeof r.BackendType === 'string' ? r.BackendType : '';
  // The IPv6 fields only when the lease has an IPv6 side, so an IPv4 lease reads as it always did.
  const v6 = (mac: number | null) => (publicIpv6 === null ? {} : { publicIpv6, vtepMac6: mac });
  if (backendType !== 'vxlan') return { publicIp, backendType, vni: null, vtepMac: null, ...v6(null) };
  if (publicIp === null && publicIpv6 === null) return 'neither PublicIP nor PublicIPv6 is set';
  const side = (key: 'BackendData' | 'BackendV6Data'): { vni: number; mac: number } | string | null => {
    const bd = r[key] as Record<string, unknown> | undefined;
    if (bd === undefined || bd === null) return null;
    if (typeof bd !== 'object') return `${key} is not an object`;
    let mac: number;
    try {
      mac = parseMac(String(bd.VtepMAC));
    } catch {
      return `${key}.VtepMAC ${JSON.stringify(bd.VtepMAC)} is not a MAC address`;
    }
    const vni = bd.VNI === undefined ? 1 : bd.VNI;
    if (typeof vni !== 'number' || !Number.isInteger(vni)) return `${key}.VNI ${JSON.stringify(bd.VNI)} is not a number`;
    return { vni, mac };
  };
  const d4 = publicIp !== null ? side('BackendData') : null;
  if (typeof d4 === 'string') return d4;
  if (publicIp !== null && !d4) return 'vxlan lease without BackendData';
  const d6 = publicIpv6 !== null ? side('BackendV6Data') : null;
  if (typeof d6 === 'string') return d6;
  if (publicIpv6 !== null && !d6) return 'vxlan lease with PublicIPv6 but without BackendV6Data';
  if (d4 && d6 && d4.vni !== d6.vni) return `BackendData.VNI ${d4.vni} and BackendV6Data.VNI ${d6.vni} differ`;
  return { publicIp, backendType, vni: (d4 ?? d6)!.vni, vtepMac: d4?.mac ?? null, ...v6(d6?.mac ?? null) };
}

export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return a.publicIp === b.publicIp && a.backendType === b.backendType && a.vni === b.vni && a.vtepMac === b.vtepMac &&
    (a.publicIpv6 ?? null) === (b.publicIpv6 ?? null) && (a.vtepMac6 ?? null) === (b.vtepMac6 ?? null);
}
