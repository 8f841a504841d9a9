// Per-VNI state: the things that differ between overlays carried by one
// daemon. The forwarding table itself is shared (its key includes the VNI).

import { VNI_MAX, VXLAN_FRAME_MAX } from '../wire/vxlan.js';
import { ETH_HEADER_LEN, ETH_VLAN_TAG_LEN } from '../wire/ethernet.js';

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
  /**
   * The overlay's MTU: the TAP's, the largest IP packet a frame may carry.
   * Encap takes frames up to mtu + 14 bytes, + 4 with an 802.1Q/802.1ad tag,
   * drops larger ones as tx_drop_too_big, and answerTooBig (pmtu.ts) tells
   * their senders this MTU. Absent: only maxFrameLen limits frames, and no
   * ICMP is sent.
   */
  mtu?: number;
  /** Largest inner frame encap accepts, in bytes (Ethernet header and any tag included); default mtu + 18, or what one datagram can carry. */
  maxFrameLen?: number;
  /** Where to count this VNI's traffic (4 slots, e.g. shared memory the main thread sums); default a new array. */
  counters?: Float64Array;
}

/** Indices into VniState.counters. */
export const VNI_TX_FRAMES = 0, VNI_TX_BYTES = 1, VNI_RX_FRAMES = 2, VNI_RX_BYTES = 3;

export class VniState {
  readonly vni: number;
  readonly port: number;
  /** The overlay MTU, or 0 when not given (no ICMP too-big answers). */
  readonly mtu: number;
  readonly maxFrameLen: number;
  /** Largest untagged frame: mtu + 14, or maxFrameLen without an MTU. */
  readonly maxUntaggedLen: number;
  readonly flood = new FloodList();
  /**
   * This VNI's traffic (VNI_TX_FRAMES …): frames read from its TAP and their
   * bytes, frames decap delivered to it and their bytes. The data path's
   * Counters hold the totals and the drop reasons.
   */
  readonly counters: Float64Array;
  /** MACs of our own interfaces on this VNI, as hi16/lo32 pairs: a frame from
   * the wire that claims one of them is our own traffic coming back (a loop). */
  private localHi = new Uint32Array(4);
  private localLo = new Uint32Array(4);
  private localCount = 0;

  constructor(vni: number, opts: VniOptions) {
    if (!Number.isInteger(vni) || vni < 0 || vni > VNI_MAX) throw new Error(`VNI ${vni} is out of range 0–${VNI_MAX}`);
    this.vni = vni;
    this.port = opts.port;
    this.counters = opts.counters ?? new Float64Array(4);
    this.mtu = opts.mtu ?? 0;
    // Without an MTU, a frame above VXLAN_FRAME_MAX cannot be carried in one datagram at all.
    this.maxFrameLen = opts.maxFrameLen ?? (this.mtu > 0 ? this.mtu + ETH_HEADER_LEN + ETH_VLAN_TAG_LEN : VXLAN_FRAME_MAX);
    this.maxUntaggedLen = this.mtu > 0 ? Math.min(this.mtu + ETH_HEADER_LEN, this.maxFrameLen) : this.maxFrameLen;
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
