// Per-VNI state: the things that differ between overlays carried by one
// daemon. The forwarding table itself is shared (its key includes the VNI).

import { VNI_MAX } from '../wire/vxlan.js';

/**
 * The flood list: the VTEPs that get broadcast, multicast and unknown-unicast
 * frames (head-end replication). It plays the role of the Linux vxlan
 * device's all-zeros MAC entries (`bridge fdb append 00:00:00:00:00:00 …`).
 */
export class FloodList {
  ids: Int32Array;
  count = 0;

  constructor(capacity = 16) {
    this.ids = new Int32Array(capacity);
  }

  has(id: number): boolean {
    for (let i = 0; i < this.count; i++) if (this.ids[i] === id) return true;
    return false;
  }

  /** Adds a peer id; false if already there. Grows (config time only). */
  add(id: number): boolean {
    if (this.has(id)) return false;
    if (this.count === this.ids.length) {
      const n = new Int32Array(this.ids.length * 2);
      n.set(this.ids);
      this.ids = n;
    }
    this.ids[this.count++] = id;
    return true;
  }

  remove(id: number): boolean {
    for (let i = 0; i < this.count; i++) {
      if (this.ids[i] === id) {
        this.ids.copyWithin(i, i + 1, this.count);
        this.count--;
        return true;
      }
    }
    return false;
  }
}

export interface VniOptions {
  /** UDP destination port used towards this VNI's peers (learned ones too). */
  port: number;
  /** Largest inner frame encap accepts, in bytes (Ethernet header included). */
  maxFrameLen?: number;
}

export class VniState {
  readonly vni: number;
  readonly port: number;
  readonly maxFrameLen: number;
  readonly flood = new FloodList();
  /** MACs of our own interfaces on this VNI, as hi16/lo32 pairs: a frame from
   * the wire that claims one of them is our own traffic coming back (a loop). */
  private localHi = new Uint32Array(4);
  private localLo = new Uint32Array(4);
  private localCount = 0;

  constructor(vni: number, opts: VniOptions) {
    if (!Number.isInteger(vni) || vni < 0 || vni > VNI_MAX) throw new Error(`VNI ${vni} is out of range 0–${VNI_MAX}`);
    this.vni = vni;
    this.port = opts.port;
    // 65535 minus the largest outer headers (IPv6 40 + UDP 8 + VXLAN 8): a
    // frame above this cannot be carried in one datagram at all.
    this.maxFrameLen = opts.maxFrameLen ?? 65535 - 56;
  }

  addLocalMac(mac: number): void {
    if (this.localCount === this.localHi.length) {
      const h = new Uint32Array(this.localCount * 2); h.set(this.localHi); this.localHi = h;
      const l = new Uint32Array(this.localCount * 2); l.set(this.localLo); this.localLo = l;
    }
    this.localHi[this.localCount] = Math.floor(mac / 0x100000000);
    this.localLo[this.localCount] = mac >>> 0;
    this.localCount++;
  }

  isLocalMac(hi: number, lo: number): boolean {
    for (let i = 0; i < this.localCount; i++) {
      if (this.localLo[i] === lo && this.localHi[i] === hi) return true;
    }
    return false;
  }
}
