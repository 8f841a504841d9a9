#!/usr/bin/env bash
# `npm run demo`: two hosts (network namespaces), weft on each with the file
# lease store (no etcd needed): each takes a subnet of 10.244.0.0/16, learns
# the other's lease and programs a route, a neighbour entry and a forwarding
# entry for it. Then a ping across the overlay, the tables and counters (weft
# fdb show, weft peers, weft stats), and everything torn down.
#
#   h1: weft0 <subnet1>.0/32 ── weft ── 198.18.0.1 ══ switch ══ 198.18.0.2 ── weft ── weft0 <subnet2>.0/32 :h2
#                  └────────── one lease file, shared (leases.json) ──────────┘
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, TAP devices): sudo npm run demo" >&2; exit 1; }
[ -f dist/src/cli/main.js ] || { echo "demo: not built: run npm ci first" >&2; exit 1; }

RIG="demo$$"
RIG="${RIG:0:8}"
logs=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  bash scripts/rig.sh down "$RIG" || true
  rm -rf "$logs"
}
trap cleanup EXIT

bash scripts/rig.sh up "$RIG" 2
echo '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}}' > "$logs/net-conf.json"
for i in 1 2; do
  ip netns exec "$RIG-h$i" node dist/src/cli/main.js run --local "198.18.0.$i" \
    --lease-file "$logs/leases.json" --net-config-path "$logs/net-conf.json" --subnet-file "$logs/h$i.env" \
    --log-format pretty 2> "$logs/h$i.log" &
  pids+=($!)
done
for i in 1 2; do
  for _ in $(seq 50); do grep -q 'listening on' "$logs/h$i.log" && break; sleep 0.1; done
  grep -o 'lease [0-9./]* in .*' "$logs/h$i.log" | head -1 | sed "s/^/h$i: /"
  echo "h$i: $(grep -o 'listening on.*' "$logs/h$i.log")"
done
# h2's subnet address (the network address of its lease, on its TAP as /32).
for _ in $(seq 50); do grep -q 'remote lease' "$logs/h1.log" && break; sleep 0.1; done
dst=$(grep -o 'lease [0-9.]*/[0-9]* in ' "$logs/h2.log" | head -1 | sed 's/^lease \([0-9.]*\)\/.*/\1/')

echo; echo "== the shared lease file (flannel's lease values)"
cat "$logs/leases.json"

echo; echo "== h1: what weft programmed for h2's lease"
ip netns exec "$RIG-h1" ip route show dev weft0
ip netns exec "$RIG-h1" ip neigh show dev weft0
echo "subnet.env: $(tr '\n' ' ' < "$logs/h1.env")"

echo; echo "== ping $dst (h2's subnet address) from h1, over weft"
ip netns exec "$RIG-h1" ping -c 3 -i 0.2 -W 1 "$dst"

echo; echo "== forwarding tables, peers and counters (weft fdb show, weft peers, weft stats)"
for i in 1 2; do
  echo "h$i:"
  for cmd in "fdb show" peers stats; do
    # shellcheck disable=SC2086
    ip netns exec "$RIG-h$i" node dist/src/cli/main.js $cmd | sed 's/^/  /'
  done
done
echo; echo "== stopping (SIGTERM); the rig is torn down"
