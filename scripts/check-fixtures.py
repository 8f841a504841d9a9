#!/usr/bin/env python3
"""Verify the kernel VXLAN fixtures written by scripts/capture-kernel-fixtures.sh.

For every run (v4 / v6 underlay) and namespace (a / b) there are two files:

  kernel-<run>-<x>-outer.pcap   frames sent on the veth (Eth/IP/UDP/VXLAN/...)
  kernel-<run>-<x>-inner.pcap   frames handed to vx0 for encapsulation

Each outer frame is decapsulated by hand (14-byte Ethernet, IPv4 header of
IHL*4 bytes or 40-byte IPv6 header, 8-byte UDP, 8-byte VXLAN) and compared,
in order and byte for byte, with the inner frames.  Also reports per file:
packet counts, max frame size, frames larger than the MTU (GSO super-frames),
the outer UDP source-port range and checksum state, and whether inner TCP/UDP
checksums are complete or "partial" (only the pseudo-header sum filled in, as
the kernel leaves them for CHECKSUM_PARTIAL skbs).

Checksum states: zero (UDP/IPv4 "no checksum"), full (verifies as captured),
partial (field = folded pseudo-header sum; the device is to finish it), lco
(outer UDP only: computed by Local Checksum Offload for the packet as it will
be once the partial inner checksum is filled in, so it verifies only after
completing the inner one), bad (none of these).

Usage: python3 scripts/check-fixtures.py [pcaps-dir]
Exit status: 0 if every pair matches 1:1 byte-exact, 2 if not, 1 on errors.
Pure standard library (no scapy / pyshark).
"""
import os
import struct
import sys
from collections import Counter

VXLAN_PORT = 8472
VETH_MTU = 1500
VX_MTU = {"v4": 1450, "v6": 1430}   # vx0 MTU per run (see capture script)
ETH_LEN = 14


# --- classic pcap reader ------------------------------------------------------

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("%s: too short for a pcap header" % path)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap file (magic %s)" % (path, magic.hex()))
    _, _, _, _, snaplen, linktype = struct.unpack(e + "HHiIII", data[4:24])
    if linktype != 1:
        raise ValueError("%s: link type %d, expected 1 (Ethernet)" % (path, linktype))
    frames = []
    off = 24
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        if len(frame) != incl:
            raise ValueError("%s: truncated record" % path)
        if incl != orig:
            raise ValueError("%s: frame truncated by snaplen (%d of %d)" % (path, incl, orig))
        frames.append(frame)
        off += incl
    return frames


# --- checksums ------------------------------------------------------------------

def ones_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def classify_l4_csum(pseudo, seg, csum_off, proto_is_udp_v4=False):
    """Return 'zero', 'full', 'partial' or 'bad' for a TCP/UDP segment.

    'partial' = the field holds the folded pseudo-header sum only, i.e. what
    the kernel writes before handing a CHECKSUM_PARTIAL skb to a device that
    will finish it (csum_start/csum_offset); not a wire-valid checksum.
    """
    if len(seg) < csum_off + 2:
        return "short"
    field = struct.unpack("!H", seg[csum_off:csum_off + 2])[0]
    if field == 0 and proto_is_udp_v4:
        return "zero"
    if ones_sum(pseudo + seg) == 0xFFFF:
        return "full"
    if field == ones_sum(pseudo):
        return "partial"
    return "bad"


# --- frame parsing --------------------------------------------------------------

def parse_l3(frame):
    """Parse Ethernet (+ optional 802.1Q) / IPv4|IPv6 / L4.

    Returns dict with: kind (str label), l3 ('ip4','ip6',...), proto,
    l4off, l4len, pseudo (bytes) where applicable, vlan (vid or None).
    """
    info = {"vlan": None}
    if len(frame) < ETH_LEN:
        info["kind"] = "runt"
        return info
    etype = struct.unpack("!H", frame[12:14])[0]
    off = ETH_LEN
    if etype == 0x8100 and len(frame) >= 18:
        info["vlan"] = struct.unpack("!H", frame[14:16])[0] & 0x0FFF
        etype = struct.unpack("!H", frame[16:18])[0]
        off = 18
    info["etype"] = etype
    if etype == 0x0806:
        info["kind"] = "arp"
        return info
    if etype == 0x0800:
        ihl = (frame[off] & 0x0F) * 4
        tot = struct.unpack("!H", frame[off + 2:off + 4])[0]
        proto = frame[off + 9]
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        l4len = tot - ihl
        info.update(l3="ip4", proto=proto, l3off=off, l4off=off + ihl, l4len=l4len,
                    pseudo=src + dst + struct.pack("!BBH", 0, proto, l4len),
                    df=bool(struct.unpack("!H", frame[off + 6:off + 8])[0] & 0x4000),
                    ttl=frame[off + 8], ipid=struct.unpack("!H", frame[off + 4:off + 6])[0],
                    ip_hdr_ok=ones_sum(frame[off:off + ihl]) == 0xFFFF)
    elif etype == 0x86DD:
        plen = struct.unpack("!H", frame[off + 4:off + 6])[0]
        nxt = frame[off + 6]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        l4off = off + 40
        # walk extension headers (MLD carries a Hop-by-Hop header)
        while nxt in (0, 43, 60):
            nxt, hlen = frame[l4off], (frame[l4off + 1] + 1) * 8
            l4off += hlen
        l4len = plen - (l4off - off - 40)
        info.update(l3="ip6", proto=nxt, l3off=off, l4off=l4off, l4len=l4len,
                    pseudo=src + dst + struct.pack("!IxxxB", l4len, nxt),
                    hoplimit=frame[off + 7])
    else:
        info["kind"] = "ether-0x%04x" % etype
        return info
    proto = info["proto"]
    name = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(proto, "proto%d" % proto)
    if name == "icmpv6":
        t = frame[info["l4off"]]
        name += "-" + {128: "echo-req", 129: "echo-rep", 135: "ns", 136: "na",
                       133: "rs", 134: "ra", 143: "mldv2-report"}.get(t, str(t))
    elif name == "icmp":
        t = frame[info["l4off"]]
        name += "-" + {8: "echo-req", 0: "echo-rep", 3: "unreach"}.get(t, str(t))
    info["kind"] = ("vlan%d-" % info["vlan"] if info["vlan"] is not None else "") + info["l3"] + "-" + name
    return info


def l4_csum_state(frame, info):
    if info.get("proto") not in (6, 17):
        return None
    seg = frame[info["l4off"]:info["l4off"] + info["l4len"]]
    off = 16 if info["proto"] == 6 else 6
    return classify_l4_csum(info["pseudo"], seg, off,
                            proto_is_udp_v4=(info["proto"] == 17 and info["l3"] == "ip4"))


def finalize_l4_csum(frame):
    """Return a copy of an Ethernet frame whose TCP/UDP checksum, if it is
    only 'partial', is replaced by the real one (what the NIC would write)."""
    info = parse_l3(frame)
    if l4_csum_state(frame, info) != "partial":
        return frame
    off = info["l4off"] + (16 if info["proto"] == 6 else 6)
    seg = bytearray(frame[info["l4off"]:info["l4off"] + info["l4len"]])
    seg[off - info["l4off"]:off - info["l4off"] + 2] = b"\0\0"
    c = (~ones_sum(info["pseudo"] + bytes(seg))) & 0xFFFF
    if info["proto"] == 17 and c == 0:
        c = 0xFFFF
    return frame[:off] + struct.pack("!H", c) + frame[off + 2:]


def decap(frame):
    """Return (inner_frame, meta) for an outer Eth/IP/UDP/VXLAN frame."""
    info = parse_l3(frame)
    if info.get("proto") != 17:
        raise ValueError("outer frame is not IP/UDP (%s)" % info.get("kind"))
    u = info["l4off"]
    sport, dport, ulen, ucsum = struct.unpack("!HHHH", frame[u:u + 8])
    if dport != VXLAN_PORT:
        raise ValueError("outer UDP dport %d != %d" % (dport, VXLAN_PORT))
    flags, vni_word = struct.unpack("!B3xI", frame[u + 8:u + 16])
    if flags != 0x08:
        raise ValueError("VXLAN flags 0x%02x (I bit expected)" % flags)
    inner = frame[u + 16:info["l4off"] + info["l4len"]]
    if len(inner) != len(frame) - (u + 16):
        raise ValueError("outer frame has %d trailing bytes beyond the IP length"
                         % (len(frame) - (u + 16) - len(inner)))
    udp_csum = l4_csum_state(frame, info)
    if udp_csum == "bad":
        # Local Checksum Offload: the kernel computed the outer UDP checksum
        # for the packet as it will be once the (partial) inner checksum is
        # filled in by the "hardware"; so it only verifies after doing that.
        fixed = frame[:u + 16] + finalize_l4_csum(inner) + frame[u + 16 + len(inner):]
        if fixed != frame and l4_csum_state(fixed, parse_l3(fixed)) == "full":
            udp_csum = "lco"
    meta = dict(sport=sport, ulen=ulen, ucsum=ucsum, vni=vni_word >> 8, l3=info["l3"],
                udp_csum=udp_csum, df=info.get("df"),
                ip_hdr_ok=info.get("ip_hdr_ok"), ttl=info.get("ttl", info.get("hoplimit")))
    return inner, meta


# --- reporting ----------------------------------------------------------------

def fmt_counter(c):
    return ", ".join("%s=%d" % kv for kv in sorted(c.items())) or "-"


def check_pair(dirpath, run, x):
    outer_p = os.path.join(dirpath, "kernel-%s-%s-outer.pcap" % (run, x))
    inner_p = os.path.join(dirpath, "kernel-%s-%s-inner.pcap" % (run, x))
    outer = read_pcap(outer_p)
    inner = read_pcap(inner_p)
    print("== %s / %s  (namespace %s, %s underlay)" % (os.path.basename(outer_p),
          os.path.basename(inner_p), x.upper(), "IPv4" if run == "v4" else "IPv6"))

    decapped, metas = [], []
    for i, fr in enumerate(outer):
        inn, meta = decap(fr)
        decapped.append(inn)
        metas.append(meta)

    # outer summary
    sports = [m["sport"] for m in metas]
    big_outer = [len(f) for f in outer if len(f) > VETH_MTU + ETH_LEN]
    print("   outer: %d packets, %d bytes in file, max frame %d, frames > %d (veth MTU): %d%s"
          % (len(outer), os.path.getsize(outer_p), max(map(len, outer)), VETH_MTU + ETH_LEN,
             len(big_outer), " %s" % big_outer if big_outer else ""))
    print("          VNI %s, UDP src ports %d..%d (%d distinct), outer UDP checksum: %s"
          % (sorted({m["vni"] for m in metas}), min(sports), max(sports), len(set(sports)),
             fmt_counter(Counter(m["udp_csum"] for m in metas))))
    if run == "v4":
        print("          outer IPv4: DF set on %d/%d, header checksum valid on %d/%d, TTL %s"
              % (sum(bool(m["df"]) for m in metas), len(metas),
                 sum(bool(m["ip_hdr_ok"]) for m in metas), len(metas),
                 sorted({m["ttl"] for m in metas})))
    else:
        print("          outer IPv6: hop limit %s" % sorted({m["ttl"] for m in metas}))

    # inner summary
    kinds = Counter()
    csums = {"tcp": Counter(), "udp": Counter()}
    big_inner = []
    for fr in inner:
        info = parse_l3(fr)
        kinds[info["kind"]] += 1
        st = l4_csum_state(fr, info)
        if st is not None:
            csums["tcp" if info["proto"] == 6 else "udp"][st] += 1
        if len(fr) > VX_MTU[run] + ETH_LEN:
            big_inner.append(len(fr))
    print("   inner: %d packets, %d bytes in file, max frame %d, frames > %d (vx0 MTU): %d%s"
          % (len(inner), os.path.getsize(inner_p), max(map(len, inner)), VX_MTU[run] + ETH_LEN,
             len(big_inner), " %s" % big_inner if big_inner else ""))
    print("          kinds: %s" % fmt_counter(kinds))
    print("          inner TCP checksums: %s; inner UDP checksums: %s"
          % (fmt_counter(csums["tcp"]), fmt_counter(csums["udp"])))

    # 1:1 byte-exact comparison
    ok = len(decapped) == len(inner) and all(a == b for a, b in zip(decapped, inner))
    if ok:
        print("   MATCH: %d outer frames decapsulate to exactly the %d inner frames, in order, byte-exact"
              % (len(decapped), len(inner)))
        return True

    print("   MISMATCH: %d decapsulated outer frames vs %d inner frames" % (len(decapped), len(inner)))
    n_diff = 0
    for i in range(max(len(decapped), len(inner))):
        a = decapped[i] if i < len(decapped) else None
        b = inner[i] if i < len(inner) else None
        if a == b:
            continue
        n_diff += 1
        if n_diff > 10:
            continue
        if a is None or b is None:
            print("     #%d: only in %s (%d bytes, %s)" % (i, "inner" if a is None else "outer",
                  len(a or b), parse_l3(a or b)["kind"]))
            continue
        if len(a) != len(b):
            print("     #%d: length differs: outer-decap %d vs inner %d (%s / %s)"
                  % (i, len(a), len(b), parse_l3(a)["kind"], parse_l3(b)["kind"]))
        offs = [k for k in range(min(len(a), len(b))) if a[k] != b[k]]
        if offs:
            print("     #%d: %d differing bytes, first at offset %d (outer %s vs inner %s)"
                  % (i, len(offs), offs[0], a[offs[0]:offs[0] + 8].hex(), b[offs[0]:offs[0] + 8].hex()))
    if n_diff > 10:
        print("     ... %d differing positions in total" % n_diff)
    # set-level diagnosis: reordering vs missing/extra frames
    ca, cb = Counter(decapped), Counter(inner)
    only_outer, only_inner = ca - cb, cb - ca
    if not only_outer and not only_inner:
        print("     same multiset of frames: it is a pure ordering difference")
    else:
        print("     %d frame(s) only in outer, %d only in inner"
              % (sum(only_outer.values()), sum(only_inner.values())))
        for fr in list(only_outer)[:5]:
            print("       outer-only: %d bytes %s" % (len(fr), parse_l3(fr)["kind"]))
        for fr in list(only_inner)[:5]:
            print("       inner-only: %d bytes %s" % (len(fr), parse_l3(fr)["kind"]))
    return False


def main():
    dirpath = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "pcaps")
    all_ok = True
    try:
        for run in ("v4", "v6"):
            for x in ("a", "b"):
                all_ok &= check_pair(dirpath, run, x)
    except (OSError, ValueError) as e:
        print("check-fixtures: error: %s" % e, file=sys.stderr)
        return 1
    print("RESULT: %s" % ("all outer/inner pairs match 1:1 byte-exact" if all_ok
                          else "some outer/inner pairs do NOT match (see above)"))
    return 0 if all_ok else 2


if __name__ == "__main__":
    sys.exit(main())
