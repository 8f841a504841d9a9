#!/usr/bin/env bash
#
# capture-udp-fixtures.sh -- record what two wefts running flannel's udp
# backend (Backend.Type "udp": bare IPv4 in UDP 8285 between TUN devices)
# really read, send and write, as classic-pcap fixtures for `weft replay
# --udp-backend` (test/unit/replay-udp.test.ts).
#
#   netns wux-h1 (a)                              netns wux-h2 (b)
#  +--------------------------------+          +--------------------------------+
#  | flannel0 (TUN) 10.244.1.0/32   |          | flannel0 (TUN) 10.244.2.0/32   |
#  |  (*) -Q out: what weft read    |          |  (*) -Q out: what weft read    |
#  |  (*) -Q in:  what weft wrote   |          |  (*) -Q in:  what weft wrote   |
#  |  weft run --no-offload         |          |  weft run --no-offload         |
#  | eth0 198.18.0.1/24             |          | eth0 198.18.0.2/24             |
#  |  (*) -Q out, "udp port 8285"   |          |  (*) -Q out, "udp port 8285"   |
#  +---------------|----------------+          +---------------|----------------+
#                  +------ br0 (scripts/rig.sh, netns wux-sw) --+
#
# The leases come from one lease file (--lease-file) with net-conf.json from
# a file; each host asks for its subnet back through its subnet.env, so host
# a always holds 10.244.1.0/24 and host b 10.244.2.0/24. Without offloads
# (--no-offload) each datagram is captured as it is on the wire: a UDP GSO
# run would be one glued datagram in a capture taken on the sender's veth.
#
# What it produces (overwritten on every run, nothing else in pcaps/ touched):
#
#   pcaps/udp-<a|b>-tun.pcap     raw IPv4: the packets the host's kernel
#                                handed its weft through the TUN
#   pcaps/udp-<a|b>-wire.pcap    Ethernet/IPv4/UDP 8285: the datagrams its
#                                weft sent, on its veth
#   pcaps/udp-<a|b>-tun-in.pcap  raw IPv4: the packets its weft wrote into
#                                the TUN (what the other host's datagrams became)
#
# Traffic: ICMP echo a -> b (3, and one of 1400 bytes) and b -> a (2), and a
# TCP transfer of 30000 bytes from a to b (test/helpers/xfer.ts).
#
# Safety: the namespaces are scripts/rig.sh's (nothing in the root
# namespace); every wait is bounded; an EXIT trap stops the processes it
# started (by PID) and takes the rig down.
#
# Usage (from the repo root, as root, after npm run build):
#   bash scripts/capture-udp-fixtures.sh

set -euo pipefail

die() { echo "capture-udp-fixtures: error: $*" >&2; exit 1; }

[[ ${EUID:-$(id -u)} -eq 0 ]] || die "must be run as root (network namespaces, tcpdump)"
for tool in tcpdump ip ping timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; install with: apt-get install tcpdump iproute2 iputils-ping coreutils"
done

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEFT="$REPO_ROOT/dist/src/cli/main.js"
XFER="$REPO_ROOT/dist/test/helpers/xfer.js"
[[ -f $WEFT && -f $XFER ]] || die "build first: npm run build"
OUT_DIR="$REPO_ROOT/pcaps"
RIG=wux
PORT=8285
TMP_DIR=$(mktemp -d /tmp/wux-fixtures.XXXXXX)
STARTED_PIDS=()

log() { echo "[capture-udp] $*"; }
ns() { echo "$RIG-h$1"; }

cleanup() {
    local rc=$? pid
    set +e
    for pid in "${STARTED_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -INT "$pid" 2>/dev/null
    done
    for pid in "${STARTED_PIDS[@]}"; do
        timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    done
    bash "$REPO_ROOT/scripts/rig.sh" down "$RIG"
    rm -rf "$TMP_DIR"
    [[ $rc -eq 0 ]] || echo "capture-udp-fixtures: failed (exit $rc); rig and processes cleaned up, old fixtures left in place" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg I SECONDS LOGFILE CMD...: CMD in host I's namespace, in the background, under a time limit.
BG_PID=
bg() {
    local i=$1 secs=$2 logf=$3; shift 3
    ip netns exec "$(ns "$i")" timeout -s INT "$secs" "$@" >"$logf" 2>&1 &
    BG_PID=$!
    STARTED_PIDS+=("$BG_PID")
}

# wait_for_text FILE TEXT SECONDS: until FILE holds TEXT; shows FILE when it does not in time.
wait_for_text() {
    timeout "$3" bash -c 'until grep -q -- "$1" "$2" 2>/dev/null; do sleep 0.1; done' _ "$2" "$1" || { cat "$1" >&2; return 1; }
}

bash "$REPO_ROOT/scripts/rig.sh" up "$RIG" 2

echo '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "udp", "Port": '"$PORT"'}}' >"$TMP_DIR/net-conf.json"
for i in 1 2; do
    printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.%s.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n' "$i" >"$TMP_DIR/h$i.env"
    bg "$i" 120 "$TMP_DIR/weft-h$i.log" node "$WEFT" run --lease-file "$TMP_DIR/leases.json" \
        --net-config-path "$TMP_DIR/net-conf.json" --subnet-file "$TMP_DIR/h$i.env" --local "198.18.0.$i" --no-offload
done
for i in 1 2; do
    j=$((3 - i))
    wait_for_text "$TMP_DIR/weft-h$i.log" "lease 10.244.$j.0/24 → 198.18.0.$j" 20 || die "h$i did not route h$j's lease"
done

declare -A CAP=(
    [tun]="-i flannel0 -Q out ip"
    [tun-in]="-i flannel0 -Q in ip"
    [wire]="-i eth0 -Q out udp port $PORT"
)
CAP_PIDS=()
for i in 1 2; do
    x=$([[ $i == 1 ]] && echo a || echo b)
    for k in tun tun-in wire; do
        f="$TMP_DIR/udp-$x-$k.pcap"
        # shellcheck disable=SC2086 # the filter and flags are words
        bg "$i" 60 "$f.log" tcpdump -Z root -n -s 0 -B 8192 --immediate-mode -U -w "$f" ${CAP[$k]}
        CAP_PIDS+=("$BG_PID")
        wait_for_text "$f.log" "listening on" 10 || die "tcpdump for $(basename "$f") did not start"
    done
done
sleep 0.5

log "ICMP echo a -> b (3, then one of 1400 bytes), b -> a (2)"
ip netns exec "$(ns 1)" timeout 15 ping -n -q -c 3 -i 0.2 -W 2 10.244.2.0 >/dev/null || die "ping a -> b failed"
ip netns exec "$(ns 1)" timeout 15 ping -n -q -c 1 -s 1400 -W 2 10.244.2.0 >/dev/null || die "ping -s 1400 a -> b failed"
ip netns exec "$(ns 2)" timeout 15 ping -n -q -c 2 -i 0.2 -W 2 10.244.1.0 >/dev/null || die "ping b -> a failed"

log "TCP a -> b, 30000 bytes"
bg 2 30 "$TMP_DIR/xfer-serve.log" node "$XFER" serve 10.244.2.0 5001
srv=$BG_PID
wait_for_text "$TMP_DIR/xfer-serve.log" listening 10 || die "xfer server did not start"
sent=$(ip netns exec "$(ns 1)" timeout 30 node "$XFER" send 10.244.2.0 5001 30000) || die "TCP transfer failed"
timeout 10 tail --pid="$srv" -f /dev/null
grep -qx "$sent" "$TMP_DIR/xfer-serve.log" || die "TCP transfer: sent '$sent', the server saw $(cat "$TMP_DIR/xfer-serve.log")"

sleep 1
for pid in "${CAP_PIDS[@]}"; do kill -INT "$pid"; done
for pid in "${CAP_PIDS[@]}"; do timeout 10 tail --pid="$pid" -f /dev/null || die "tcpdump $pid did not stop"; done

declare -A N
for f in "$TMP_DIR"/udp-*.pcap; do
    n=$(grep -o '[0-9]* packets captured' "$f.log" | cut -d' ' -f1)
    N[$(basename "$f" .pcap)]=$n
    [[ ${n:-0} -gt 0 ]] || die "$(basename "$f") captured nothing"
    # A pair is only a pair when neither side lost a packet.
    grep -q '^0 packets dropped by kernel' "$f.log" || die "$(basename "$f"): tcpdump dropped packets: $(grep dropped "$f.log" | tr '\n' ' ')"
    log "$(basename "$f"): $n packets"
done
# What one host's weft read it sent, and the other's wrote: the same count three times.
for p in "a b" "b a"; do
    read -r x y <<<"$p"
    [[ ${N[udp-$x-tun]} == "${N[udp-$x-wire]}" && ${N[udp-$x-wire]} == "${N[udp-$y-tun-in]}" ]] ||
        die "$x -> $y: read ${N[udp-$x-tun]}, sent ${N[udp-$x-wire]}, written ${N[udp-$y-tun-in]}: a capture missed packets"
done
cp "$TMP_DIR"/udp-*.pcap "$OUT_DIR/"
log "fixtures written to pcaps/"
