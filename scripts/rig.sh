#!/usr/bin/env bash
# A netns test rig: N hosts on one underlay switch, nothing in the root
# namespace.
#
#        netns NAME-h1            netns NAME-h2        …    netns NAME-hN
#   +--------------------+   +--------------------+     +--------------------+
#   | eth0 198.18.0.1/24 |   | eth0 198.18.0.2/24 |     | eth0 198.18.0.N/24 |
#   |  fd00:198:18::1/64 |   |  fd00:198:18::2/64 |     |  fd00:198:18::N/64 |
#   +---------|----------+   +---------|----------+     +---------|----------+
#             | veth                   | veth                     | veth
#   +---------|------------------------|--------------------------|----------+
#   |        p1                       p2           …             pN          |
#   |                        br0 (bridge)       netns NAME-sw                 |
#   +-------------------------------------------------------------------------+
#
# Underlay addresses are in 198.18.0.0/15 (and fd00:198:18::/64); overlay
# addresses (10.244.0.0/16) are for whatever runs on the hosts.
#
# Usage:
#   scripts/rig.sh up NAME N      build the rig (NAME: letters/digits, ≤ 8 chars; N: 1–20)
#   scripts/rig.sh down NAME      remove every namespace the rig made (idempotent)
#   scripts/rig.sh ns NAME I      print host I's namespace name
#
# Every command that creates a link runs inside a namespace this script made
# (checked against its state file), so nothing can land in the root
# namespace. `up` removes what it built if any step fails.
set -euo pipefail

STATE_DIR=/run/weft-rig
die() { echo "rig: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces): run with sudo"
command -v ip >/dev/null || die "the ip command is missing: apt-get install iproute2"

state() { echo "$STATE_DIR/$1.ns"; }

# Runs `ip` inside namespace $1, but only if this rig made it.
in_ns() {
  local ns=$1; shift
  grep -qx "$ns" "$(state "$RIG")" 2>/dev/null || die "refusing to touch '$ns': not a namespace this rig made"
  ip -n "$ns" "$@"
}

make_ns() {
  ip netns add "$1"
  echo "$1" >> "$(state "$RIG")"
  in_ns "$1" link set lo up
}

down() {
  local f; f=$(state "$RIG")
  if [ -f "$f" ]; then
    while read -r ns; do
      [ -n "$ns" ] || continue
      # Stop what still runs inside (only processes in this namespace).
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
      # A weft killed above leaves its control socket (weft run puts it in a
      # directory per named namespace); the namespace is gone, so is that.
      rm -rf "/run/weft/netns/$ns"
    done < "$f"
    rm -f "$f"
  fi
}

up() {
  local n=$1
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20 ] || die "N must be 1–20"
  mkdir -p "$STATE_DIR"
  [ ! -f "$(state "$RIG")" ] || die "a rig named $RIG exists: scripts/rig.sh down $RIG"
  : > "$(state "$RIG")"
  trap 'down; exit 1' ERR INT TERM
  local sw="$RIG-sw"
  make_ns "$sw"
  in_ns "$sw" link add br0 type bridge
  in_ns "$sw" link set br0 up
  for i in $(seq 1 "$n"); do
    local h="$RIG-h$i"
    make_ns "$h"
    # Created inside the host's namespace; the peer end goes straight to the switch.
    in_ns "$h" link add eth0 type veth peer name "p$i" netns "$sw"
    in_ns "$sw" link set "p$i" master br0 up
    in_ns "$h" link set eth0 address "02:00:c6:12:00:$(printf %02x "$i")" up
    in_ns "$h" addr add "198.18.0.$i/24" dev eth0
    in_ns "$h" addr add "fd00:198:18::$i/64" dev eth0 nodad
  done
  trap - ERR INT TERM
}

cmd=${1:-}; RIG=${2:-}
[[ "$RIG" =~ ^[A-Za-z0-9]{1,8}$ ]] || die "usage: rig.sh up NAME N | down NAME | ns NAME I (NAME: 1–8 letters/digits)"
case "$cmd" in
  up) up "${3:?N}";;
  down) down;;
  ns) echo "$RIG-h${3:?I}";;
  *) die "usage: rig.sh up NAME N | down NAME | ns NAME I";;
esac
