// The TUN device of flannel's udp backend: bare IPv4 packets (IFF_TUN,
// IFF_NO_PI: no Ethernet header, no packet-information prefix) between the
// host's network stack and weft, as flannel's `flannel0`.
//
// Opened as the TAP is (tap.ts openTapFd): with IFF_VNET_HDR, and with
// offloads on (the default) TUNSETOFFLOAD CSUM|TSO4|TSO6, USO too where the
// kernel has it, falling back to none. The host's TCP then hands weft
// super-packets of up to 64 KiB, which read() cuts into MTU-sized packets
// with tap-read.ts's functions, and write() merges a flow's in-order
// segments into super-packets with tap-write.ts's Coalescer — the TAP's
// code, told that no link header comes before the IP header (l2 0). So the
// data path still sees only whole IPv4 packets of at most the MTU, and the
// wire only datagrams of at most the MTU (flannel's format is unchanged);
// the host's stack handles one 64 KiB packet where it would handle ~45.
// With offloads off (--no-offload, or a kernel that refuses them) packets
// are plain, one per MTU, each still behind a virtio-net header.
//
// The device is not persistent: it disappears when its file descriptor is
// closed, so a crashed weft leaves no device behind.

import { openTapFd, VnetPort } from './tap.js';

export interface TunOptions {
  name: string;
  /** The TUN's MTU: the size segments are merged back to on write. */
  mtu: number;
  /** Packets per batch the data path handles; reads are sized to fit it. */
  batch: number;
  /** Ask for TSO/USO and checksum offload (default true; falls back when refused). */
  offload?: boolean;
  /** Cut TCP super-packets into headers only, leaving each payload in place, for a socket that gathers (UdpSocket.gso). */
  tails?: boolean;
}

export class Tun extends VnetPort {
  private closed = false;

  /** Opens (creating) the TUN `o.name`. */
  constructor(o: TunOptions) {
    super(openTapFd({ name: o.name, offload: o.offload, tun: true }), o.batch, o.mtu, o.tails === true, 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
  }
}
