#!/usr/bin/env bash
#
# capture-kernel-fixtures.sh -- record what the Linux kernel's own `vxlan`
# device really puts on the wire, as classic-pcap fixtures for weft's tests.
#
#   netns wfx-<pid>-<run>-a                          netns wfx-<pid>-<run>-b
#  +------------------------------------+          +------------------------------------+
#  |  vx0  (kernel vxlan, learning)     |          |  vx0  (kernel vxlan, learning)     |
#  |    mac 02:00:0a:f4:01:01  mtu 1450+|  overlay |    mac 02:00:0a:f4:02:01  mtu 1450+|
#  |    10.244.1.1/24                   | <======> |    10.244.1.2/24                   |
#  |    fd00:10:244::1/64               |  VNI 42  |    fd00:10:244::2/64               |
#  |    (*) inner capture, -Q out       | (v4 run) |    (*) inner capture, -Q out       |
#  |     |  encap: Eth/IP/UDP:8472/VXLAN|  VNI 43  |     |  encap                       |
#  |     v                              | (v6 run) |     v                              |
#  |  veth-a  mac 02:00:c6:12:00:01     |          |  veth-b  mac 02:00:c6:12:00:02     |
#  |    198.18.0.1/24                   | underlay |    198.18.0.2/24                   |
#  |    fd00:198:18::1/64               |==========|    fd00:198:18::2/64               |
#  |    (*) outer capture, -Q out,      |   veth   |    (*) outer capture, -Q out,      |
#  |        filter "udp port 8472"      |   pair   |        filter "udp port 8472"      |
#  +------------------------------------+          +------------------------------------+
#
#  run "v4": vx0 local 198.18.0.1      remote 198.18.0.2      (VNI 42)
#  run "v6": vx0 local fd00:198:18::1  remote fd00:198:18::2  (VNI 43)
#  (+) mtu 1430 in the v6 run: the kernel rejects more than veth MTU - 70.
#
# What it produces (overwritten on every run, nothing else in pcaps/ touched):
#
#   pcaps/kernel-<v4|v6>-<a|b>-outer.pcap  frames namespace A/B sent on its veth
#                                          (Ethernet/IP/UDP/VXLAN/inner frame)
#   pcaps/kernel-<v4|v6>-<a|b>-inner.pcap  frames namespace A/B handed to its vx0
#                                          for encapsulation (the inner frames)
#
# For every outer frame a namespace sent there should be exactly one inner
# frame, in the same order; scripts/check-fixtures.py verifies that byte for
# byte by decapsulating the outer frames by hand, and reports checksum states.
#
# Why: weft is a userspace VTEP and must interoperate with the kernel's VTEP.
# These fixtures are ground truth of what the kernel sends, *with offloads at
# their defaults* (nothing here touches ethtool): so they contain TSO/GSO
# super-frames larger than the MTU and "partial" (pseudo-header only) TCP/UDP
# checksums (and outer UDP checksums that are partial, or computed by Local
# Checksum Offload for the not-yet-finished inner checksum) exactly as the
# kernel hands them to a device -- what a decoder fed by a tap or an
# AF_PACKET socket really sees.
#
# Traffic per run: ARP + ICMP echo both ways, IPv6 ND + ICMPv6 echo both ways,
# a UDP echo exchange (3 datagrams), a TCP exchange (A sends 200000 bytes to
# B, B answers one short line) and one 802.1Q-tagged (VID 100) inner frame
# injected with an AF_PACKET socket on A's vx0 (flooded to B).
#
# Safety: everything lives in two network namespaces created by this script
# (names unique per run), nothing is ever created in the root namespace, every
# wait is bounded, and an EXIT trap kills the processes it started (by PID)
# and deletes its namespaces, then checks the root namespace is unchanged.
#
# Usage (from the repo root, as root):  bash scripts/capture-kernel-fixtures.sh

set -euo pipefail

die() { echo "capture-kernel-fixtures: error: $*" >&2; exit 1; }

[[ ${EUID:-$(id -u)} -eq 0 ]] || die "must be run as root (network namespaces, tcpdump, raw sockets)"
for tool in tcpdump ip; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; install with: apt-get install tcpdump iproute2"
done
command -v python3 >/dev/null 2>&1 || die "'python3' not found; install with: apt-get install python3"
command -v ping >/dev/null 2>&1 || die "'ping' not found; install with: apt-get install iputils-ping"
command -v timeout >/dev/null 2>&1 || die "'timeout' not found; install with: apt-get install coreutils"

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR="$REPO_ROOT/pcaps"
CHECKER="$REPO_ROOT/scripts/check-fixtures.py"
# Resolve the real interpreter (pyenv shims are shell scripts; we want the PID
# we record to be the python process itself, wrapped only by `timeout`).
PY=$(python3 -c 'import sys; print(sys.executable)')

VX_PORT=8472
# vx0 MTU: 1450 with the IPv4 underlay (1500 - 50 bytes of outer headers).
# With the IPv6 underlay the kernel refuses 1450 on a 1500-byte veth (EINVAL:
# the limit is lower MTU - 70), so that run uses 1430, the kernel's own value.
MTU_VX_V4=1450
MTU_VX_V6=1430
MAC_VX_A=02:00:0a:f4:01:01
MAC_VX_B=02:00:0a:f4:02:01
MAC_VETH_A=02:00:c6:12:00:01   # fixed so the outer Ethernet header is reproducible
MAC_VETH_B=02:00:c6:12:00:02
TCP_BYTES=200000

TMP_DIR=$(mktemp -d /tmp/wfx-fixtures.XXXXXX)
CREATED_NS=()    # namespaces this script created (the only ones it may touch)
STARTED_PIDS=()  # processes this script started (the only ones it may signal)
FIXTURES_WRITTEN=0
ROOT_LINKS_BEFORE=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
ROOT_NS_BEFORE=$(ip netns list | awk '{print $1}' | sort)

log() { echo "[capture] $*"; }

pid_alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID SIGNAL: signal one process we started, wait (bounded) for it,
# escalate to SIGTERM/SIGKILL if needed, reap it.  Returns its exit status.
stop_pid() {
    local pid=$1 sig=${2:-TERM} i rc=0
    pid_alive "$pid" || { wait "$pid" 2>/dev/null || rc=$?; return $rc; }
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
        kill -s TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    fi
    pid_alive "$pid" && kill -s KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

# finish_pid PID SECONDS: give a process we started up to SECONDS to exit by
# itself, then stop it (stop_pid); returns its exit status.
finish_pid() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    stop_pid "$pid" TERM
}

cleanup() {
    local rc=$? pid ns
    set +e
    for pid in "${STARTED_PIDS[@]}"; do
        pid_alive "$pid" && stop_pid "$pid" TERM
    done
    for ns in "${CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$TMP_DIR"
    # The root namespace must look exactly as before.
    local links_after ns_after
    links_after=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
    ns_after=$(ip netns list | awk '{print $1}' | sort)
    if [[ "$links_after" != "$ROOT_LINKS_BEFORE" ]]; then
        echo "capture-kernel-fixtures: WARNING: root namespace links changed:" >&2
        diff <(echo "$ROOT_LINKS_BEFORE") <(echo "$links_after") >&2
        rc=1
    fi
    if [[ "$ns_after" != "$ROOT_NS_BEFORE" ]]; then
        echo "capture-kernel-fixtures: WARNING: namespace list changed:" >&2
        diff <(echo "$ROOT_NS_BEFORE") <(echo "$ns_after") >&2
        rc=1
    fi
    if [[ $rc -eq 0 ]]; then
        log "cleanup done: namespaces deleted, no process left, root namespace unchanged"
    else
        if [[ $FIXTURES_WRITTEN == 1 ]]; then
            echo "capture-kernel-fixtures: fixtures written to pcaps/ but verification failed (exit $rc), see above" >&2
        else
            echo "capture-kernel-fixtures: failed (exit $rc); namespaces and processes cleaned up, old fixtures left in place" >&2
        fi
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- namespace-confined helpers ---------------------------------------------

is_ours() {
    local ns=$1 n
    for n in "${CREATED_NS[@]}"; do [[ "$n" == "$ns" ]] && return 0; done
    return 1
}

new_ns() {
    local ns=$1
    ip netns add "$ns" || die "cannot create namespace $ns"
    CREATED_NS+=("$ns")
}

# nsip NS ARGS...: `ip -n NS ARGS...`, refusing any namespace we did not create.
nsip() {
    local ns=$1; shift
    is_ours "$ns" || die "refusing to run 'ip $*' outside our own namespaces (got '$ns')"
    timeout 10 ip -n "$ns" "$@" || die "'ip -n $ns $*' failed"
}

# nsx NS SECONDS CMD...: run CMD inside NS with a time limit.
nsx() {
    local ns=$1 secs=$2; shift 2
    is_ours "$ns" || die "refusing to run '$*' outside our own namespaces (got '$ns')"
    timeout "$secs" ip netns exec "$ns" "$@"
}

# bg_nsx NS SECONDS LOGFILE CMD...: same, in the background; records the PID
# (that of `timeout`, which forwards SIGINT/SIGTERM to its child).
BG_PID=
bg_nsx() {
    local ns=$1 secs=$2 logf=$3; shift 3
    is_ours "$ns" || die "refusing to run '$*' outside our own namespaces (got '$ns')"
    ip netns exec "$ns" timeout -s INT "$secs" "$@" >"$logf" 2>&1 &
    BG_PID=$!
    STARTED_PIDS+=("$BG_PID")
}

# wait_for_file_text FILE TEXT SECONDS
wait_for_file_text() {
    local f=$1 text=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        grep -q -- "$text" "$f" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- python helpers (traffic generators), run inside the namespaces ---------

cat >"$TMP_DIR/traffic.py" <<'PYEOF'
import socket, struct, sys

def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def tcp_server(host, port, expect, ready_file):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(1)
    srv.settimeout(20)
    open(ready_file, "w").write("ready\n")
    conn, _ = srv.accept()
    conn.settimeout(20)
    total = 0
    while total < int(expect):
        chunk = conn.recv(65536)
        if not chunk:
            break
        total += len(chunk)
    conn.sendall(b"weft-ok %d\n" % total)
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(4096):   # drain until the client closes
        pass
    conn.close()
    srv.close()
    print("tcp-server received", total)
    sys.exit(0 if total == int(expect) else 1)

def tcp_client(host, port, nbytes):
    c = socket.create_connection((host, int(port)), timeout=20)
    payload = bytes((i * 7 + 3) & 0xFF for i in range(int(nbytes)))  # deterministic
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        chunk = c.recv(4096)
        if not chunk:
            break
        reply += chunk
    c.close()
    print("tcp-client reply", reply.decode().strip())
    sys.exit(0 if reply == b"weft-ok %d\n" % int(nbytes) else 1)

def udp_server(host, port, count, ready_file):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    s.settimeout(20)
    open(ready_file, "w").write("ready\n")
    for _ in range(int(count)):
        data, peer = s.recvfrom(2048)
        s.sendto(b"echo:" + data, peer)
    s.close()
    print("udp-server echoed", count)

def udp_client(host, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 40000))   # fixed source port: reproducible fixtures
    s.settimeout(5)
    for i in range(int(count)):
        msg = b"weft udp datagram %d" % i
        s.sendto(msg, (host, int(port)))
        data, _ = s.recvfrom(2048)
        assert data == b"echo:" + msg, data
    s.close()
    print("udp-client got", count, "echoes")

def vlan_send(ifname, src_mac):
    # 802.1Q-tagged broadcast frame carrying a small valid IPv4/UDP packet.
    src_ip = socket.inet_aton("10.244.100.1")
    dst_ip = socket.inet_aton("10.244.100.255")
    payload = b"weft vlan 100\n"
    ulen = 8 + len(payload)
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", 40100, 40101, ulen, 0) + payload
    ucs = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0x1234, 0x4000, 64, 17, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    mac = bytes.fromhex(src_mac.replace(":", ""))
    frame = b"\xff" * 6 + mac + struct.pack("!HHH", 0x8100, 100, 0x0800) + ip + udp
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # proto 0: send-only
    s.bind((ifname, 0))
    n = s.send(frame)
    s.close()
    print("vlan-send sent", n, "bytes on", ifname)

cmds = {"tcp-server": tcp_server, "tcp-client": tcp_client, "udp-server": udp_server,
        "udp-client": udp_client, "vlan-send": vlan_send}
cmds[sys.argv[1]](*sys.argv[2:])
PYEOF

# --- one capture run ----------------------------------------------------------

# run_capture TAG(v4|v6) VNI
run_capture() {
    local tag=$1 vni=$2
    local A="wfx-$$-$tag-a" B="wfx-$$-$tag-b"
    local local_a remote_a local_b remote_b mtu_vx
    if [[ $tag == v4 ]]; then
        local_a=198.18.0.1; remote_a=198.18.0.2; mtu_vx=$MTU_VX_V4
    else
        local_a=fd00:198:18::1; remote_a=fd00:198:18::2; mtu_vx=$MTU_VX_V6
    fi
    local_b=$remote_a; remote_b=$local_a

    log "=== run $tag: namespaces $A / $B, VNI $vni, underlay $local_a <-> $local_b, vx0 mtu $mtu_vx"
    new_ns "$A"
    new_ns "$B"

    # veth pair created with both ends directly inside our namespaces.
    is_ours "$A" && is_ours "$B" || die "namespace bookkeeping broken"
    timeout 10 ip link add name veth-a netns "$A" address "$MAC_VETH_A" type veth \
        peer name veth-b netns "$B" address "$MAC_VETH_B"

    local ns dev mac_vx ip4 ip6 ul4 ul6 lcl rmt
    for ns in "$A" "$B"; do
        if [[ $ns == "$A" ]]; then
            dev=veth-a; mac_vx=$MAC_VX_A; ip4=10.244.1.1; ip6=fd00:10:244::1
            ul4=198.18.0.1; ul6=fd00:198:18::1; lcl=$local_a; rmt=$remote_a
        else
            dev=veth-b; mac_vx=$MAC_VX_B; ip4=10.244.1.2; ip6=fd00:10:244::2
            ul4=198.18.0.2; ul6=fd00:198:18::2; lcl=$local_b; rmt=$remote_b
        fi
        # Namespace-local sysctl: no IPv6 router solicitations, so the
        # captures are not sprinkled with timer-driven RS frames.
        nsx "$ns" 5 sysctl -qw net.ipv6.conf.default.router_solicitations=0
        nsx "$ns" 5 sysctl -qw net.ipv6.conf.all.router_solicitations=0
        nsip "$ns" link set lo up
        nsip "$ns" addr add "$ul4/24" dev "$dev"
        nsip "$ns" addr add "$ul6/64" dev "$dev" nodad
        nsip "$ns" link set "$dev" up
        nsip "$ns" link add vx0 type vxlan id "$vni" dstport "$VX_PORT" \
            local "$lcl" remote "$rmt" dev "$dev"
        nsip "$ns" link set vx0 address "$mac_vx" mtu "$mtu_vx"
        nsip "$ns" addr add "$ip4/24" dev vx0
        nsip "$ns" addr add "$ip6/64" dev vx0 nodad
        nsip "$ns" link set vx0 up
    done
    log "vx0 in A: $(nsip "$A" -d -o link show vx0 | grep -o 'vxlan id .* udpcsum [a-z0-9 ]*addrgenmode' | sed 's/ addrgenmode$//')"
    if command -v ethtool >/dev/null 2>&1; then
        log "offloads (defaults, untouched) vx0: $(nsx "$A" 5 ethtool -k vx0 | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|tx-udp-segmentation):' | tr -s ' \n' ' ')"
        log "offloads (defaults, untouched) veth-a: $(nsx "$A" 5 ethtool -k veth-a | grep -E '^\s*(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|tx-udp_tnl-segmentation|tx-udp_tnl-csum-segmentation):' | tr -s ' \t\n' ' ')"
    fi
    # Let link-local DAD and the initial MLD reports of vx0 finish, so the
    # captures start quiet (they would otherwise appear at random points).
    sleep 3

    # --- start captures ---
    local caps=() cap_pids=() x f
    for x in a b; do
        if [[ $x == a ]]; then ns=$A; dev=veth-a; else ns=$B; dev=veth-b; fi
        f="$TMP_DIR/kernel-$tag-$x-outer.pcap"
        bg_nsx "$ns" 120 "$f.log" tcpdump -Z root -n -i "$dev" -Q out -s 0 --immediate-mode -U -w "$f" "udp port $VX_PORT"
        caps+=("$f"); cap_pids+=("$BG_PID")
        f="$TMP_DIR/kernel-$tag-$x-inner.pcap"
        bg_nsx "$ns" 120 "$f.log" tcpdump -Z root -n -i vx0 -Q out -s 0 --immediate-mode -U -w "$f"
        caps+=("$f"); cap_pids+=("$BG_PID")
    done
    for f in "${caps[@]}"; do
        wait_for_file_text "$f.log" "listening on" 10 || { cat "$f.log" >&2; die "tcpdump for $(basename "$f") did not start"; }
    done
    sleep 0.5

    # --- traffic ---
    log "ARP + ICMP echo A -> B, B -> A"
    nsx "$A" 15 ping -n -q -c 3 -i 0.2 -W 2 10.244.1.2 >/dev/null || die "$tag: ping A->B failed"
    nsx "$B" 15 ping -n -q -c 3 -i 0.2 -W 2 10.244.1.1 >/dev/null || die "$tag: ping B->A failed"
    log "IPv6 ND + ICMPv6 echo A -> B, B -> A"
    nsx "$A" 15 ping -6 -n -q -c 2 -i 0.2 -W 2 fd00:10:244::2 >/dev/null || die "$tag: ping6 A->B failed"
    nsx "$B" 15 ping -6 -n -q -c 2 -i 0.2 -W 2 fd00:10:244::1 >/dev/null || die "$tag: ping6 B->A failed"

    log "UDP echo exchange (3 datagrams)"
    local srv_pid
    rm -f "$TMP_DIR/udp.ready"
    bg_nsx "$B" 30 "$TMP_DIR/udp-server.log" "$PY" "$TMP_DIR/traffic.py" udp-server 10.244.1.2 5002 3 "$TMP_DIR/udp.ready"
    srv_pid=$BG_PID
    wait_for_file_text "$TMP_DIR/udp.ready" ready 10 || die "$tag: UDP server did not start"
    nsx "$A" 20 "$PY" "$TMP_DIR/traffic.py" udp-client 10.244.1.2 5002 3 || die "$tag: UDP exchange failed"
    finish_pid "$srv_pid" 5 || die "$tag: UDP server failed: $(cat "$TMP_DIR/udp-server.log")"

    log "TCP exchange ($TCP_BYTES bytes A -> B, short reply)"
    rm -f "$TMP_DIR/tcp.ready"
    bg_nsx "$B" 30 "$TMP_DIR/tcp-server.log" "$PY" "$TMP_DIR/traffic.py" tcp-server 10.244.1.2 5001 "$TCP_BYTES" "$TMP_DIR/tcp.ready"
    srv_pid=$BG_PID
    wait_for_file_text "$TMP_DIR/tcp.ready" ready 10 || die "$tag: TCP server did not start"
    nsx "$A" 25 "$PY" "$TMP_DIR/traffic.py" tcp-client 10.244.1.2 5001 "$TCP_BYTES" || die "$tag: TCP exchange failed"
    # the server exits by itself once the client closed
    finish_pid "$srv_pid" 5 || die "$tag: TCP server failed: $(cat "$TMP_DIR/tcp-server.log")"

    log "802.1Q (VID 100) tagged broadcast frame via AF_PACKET on A's vx0"
    nsx "$A" 10 "$PY" "$TMP_DIR/traffic.py" vlan-send vx0 "$MAC_VX_A" || die "$tag: AF_PACKET send failed"

    # let the last frames (FIN/ACKs) drain, then stop captures with SIGINT
    sleep 1
    local i
    for i in "${!cap_pids[@]}"; do
        stop_pid "${cap_pids[$i]}" INT || true
        f=${caps[$i]}
        log "$(basename "$f"): $(grep -E 'captured|dropped by kernel' "$f.log" | tr '\n' ' ')"
        grep -qE '^0 packets dropped by kernel' "$f.log" || die "$tag: $(basename "$f"): kernel dropped packets"
        [[ -s $f ]] || die "$tag: $(basename "$f") is empty"
    done

    # tear down this run's namespaces now (the EXIT trap also covers failures)
    for ns in "$A" "$B"; do ip netns del "$ns"; done
}

run_capture v4 42
run_capture v6 43

# --- install the fixtures (only after both runs succeeded) -----------------
mkdir -p "$OUT_DIR"
for f in "$TMP_DIR"/kernel-*.pcap; do
    install -m 0644 "$f" "$OUT_DIR/$(basename "$f")"
done
FIXTURES_WRITTEN=1
log "wrote: $(cd "$OUT_DIR" && ls -1 kernel-*.pcap | tr '\n' ' ')"

# --- tshark summary of the outer files ------------------------------------------
if command -v tshark >/dev/null 2>&1; then
    log "tshark summary (outer files; veth MTU 1500 => frames > 1514 bytes are GSO super-frames):"
    for f in "$OUT_DIR"/kernel-v4-?-outer.pcap "$OUT_DIR"/kernel-v6-?-outer.pcap; do
        timeout 60 tshark -n -r "$f" -d "udp.port==$VX_PORT,vxlan" -T fields -E separator=' ' \
            -e frame.len -e udp.srcport -e udp.checksum -e vxlan.vni -e tcp.len 2>/dev/null |
        awk -v name="$(basename "$f")" '
            { for (i = 2; i <= 4; i++) { split($i, first, ","); $i = first[1] }  # outer values only
              n++; if ($1 > max) max = $1; if ($1 > 1514) { big++; bigl = bigl " " $1 }
              if (min_sp == "" || $2 < min_sp) min_sp = $2; if ($2 > max_sp) max_sp = $2
              if ($3 == "0x0000") zero++; vni[$4] = 1 }
            END { vl = ""; for (k in vni) vl = vl k " "
                  printf "  %-26s packets=%-4d max_frame=%-6d frames>1514=%d%s\n", name, n, max, big, (big ? " (" substr(bigl, 2) ")" : "")
                  printf "  %-26s udp_srcport=%s..%s outer_udp_csum_zero=%d/%d vni=%s\n", "", min_sp, max_sp, zero, n, vl }'
    done
else
    log "tshark not installed: skipping the tshark summary (apt-get install tshark)"
fi

# --- byte-exact outer/inner verification --------------------------------------
log "verifying outer/inner pairs with $(basename "$CHECKER")"
timeout 60 "$PY" "$CHECKER" "$OUT_DIR"
