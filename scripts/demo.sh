#!/usr/bin/env bash
# `npm run demo`: two hosts (network namespaces), weft on each with the file
# lease store (no etcd needed): each takes a subnet of 10.244.0.0/16, learns
# the other's lease and programs a route, a neighbour entry and a forwarding
# entry for it. Then a ping across the overlay; a pod on each host (a network
# namespace) attached by weft's CNI plugin, weft-cni, and a ping pod to pod
# across the hosts — over IPv6 as well when weft writes FLANNEL_IPV6_SUBNET
# (a weft that takes --public-ipv6 gets a dual-stack network); the tables
# and counters (weft fdb show, weft peers, weft stats), and everything torn
# down.
#
#   pod1 ── cni0 ── h1: weft0 <subnet1>.0/32 ── weft ── 198.18.0.1 ══ switch ══ 198.18.0.2 ── weft ── weft0 <subnet2>.0/32 :h2 ── cni0 ── pod2
#                                 └────────── one lease file, shared (leases.json) ──────────┘
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, TAP devices): sudo npm run demo" >&2; exit 1; }
[ -f dist/src/cli/main.js ] || { echo "demo: not built: run npm ci first" >&2; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "demo: needs the CNI reference plugins for the pods: apt-get install -y containernetworking-plugins" >&2; exit 1; }

RIG="demo$$"
RIG="${RIG:0:8}"
logs=$(mktemp -d)
pids=()
pods=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # weft stops within a second of SIGTERM; a loaded machine may take longer.
  for p in "${pids[@]}"; do for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for ns in "${pods[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  bash scripts/rig.sh down "$RIG" || true
  rm -rf "$logs"
}
trap cleanup EXIT

bash scripts/rig.sh up "$RIG" 2
# A weft that carries IPv6 overlays (it takes --public-ipv6) gets a dual-stack network.
v6=()
if node dist/src/cli/main.js run --help 2>&1 | grep -q -- '--public-ipv6'; then
  echo '{"Network": "10.244.0.0/16", "EnableIPv6": true, "IPv6Network": "fd00:244::/48", "Backend": {"Type": "vxlan", "VNI": 1}}' > "$logs/net-conf.json"
else
  echo '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}}' > "$logs/net-conf.json"
fi
for i in 1 2; do
  grep -q EnableIPv6 "$logs/net-conf.json" && v6=(--public-ipv6 "fd00:198:18::$i")
  ip netns exec "$RIG-h$i" node dist/src/cli/main.js run --local "198.18.0.$i" "${v6[@]}" \
    --lease-file "$logs/leases.json" --net-config-path "$logs/net-conf.json" --subnet-file "$logs/h$i.env" \
    --log-format pretty 2> "$logs/h$i.log" &
  pids+=($!)
done
for i in 1 2; do
  for _ in $(seq 50); do grep -q 'listening on' "$logs/h$i.log" && break; sleep 0.1; done
  # The first lease line is our own: "lease 10.244.5.0/24 [+ fd00:244:0:5::/64] in …".
  grep -o 'lease [0-9.]*/[0-9]* .*' "$logs/h$i.log" | head -1 | sed "s/^/h$i: /"
  echo "h$i: $(grep -o 'listening on.*' "$logs/h$i.log")"
done
# h2's subnet address (the network address of its lease, on its TAP as /32).
for _ in $(seq 50); do grep -q 'remote lease' "$logs/h1.log" && break; sleep 0.1; done
dst=$(grep -o 'lease [0-9.]*/[0-9]* ' "$logs/h2.log" | head -1 | sed 's/^lease \([0-9.]*\)\/.*/\1/')

echo; echo "== the shared lease file (flannel's lease values)"
cat "$logs/leases.json"

echo; echo "== h1: what weft programmed for h2's lease"
ip netns exec "$RIG-h1" ip route show dev weft0
ip netns exec "$RIG-h1" ip neigh show dev weft0
echo "subnet.env: $(tr '\n' ' ' < "$logs/h1.env")"

echo; echo "== ping $dst (h2's subnet address) from h1, over weft"
ip netns exec "$RIG-h1" ping -c 3 -i 0.2 -W 1 "$dst"

echo; echo "== pods: weft-cni, installed where a runtime finds it, attaches a pod on each host"
node dist/src/cni/main.js --install "$logs/bin"
for i in 1 2; do
  pod="$RIG-pod$i"
  ip netns add "$pod"; pods+=("$pod")
  ip -n "$pod" link set lo up
  echo '{"cniVersion": "1.0.0", "name": "weftnet", "type": "weft-cni", "subnetFile": "'"$logs/h$i.env"'", "dataDir": "'"$logs/cni$i"'", "ipam": {"dataDir": "'"$logs/ipam$i"'"}}' > "$logs/cni$i.conf"
  # What containerd or kubelet does for a pod: the plugin from CNI_PATH, the config on stdin.
  ip netns exec "$RIG-h$i" env CNI_COMMAND=ADD CNI_CONTAINERID="pod$i" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 \
    CNI_PATH="$logs/bin:/usr/lib/cni" "$logs/bin/weft-cni" < "$logs/cni$i.conf" > "$logs/pod$i.json"
  echo "h$i: pod$i eth0 $(ip -n "$pod" -o addr show dev eth0 scope global | awk '{print $4}' | tr '\n' ' ')(gateway cni0 on h$i; subnet.env: $(grep -o 'FLANNEL_[A-Z6_]*SUBNET=[^ ]*' "$logs/h$i.env" | tr '\n' ' '))"
done
echo "pod1's routes:"; ip -n "$RIG-pod1" route | sed 's/^/  /'
pod2v4=$(ip -n "$RIG-pod2" -4 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1)
echo; echo "== ping pod2 ($pod2v4, on h2) from pod1 (on h1): cni0 → weft0 → VXLAN → weft0 → cni0"
ip netns exec "$RIG-pod1" ping -c 3 -i 0.2 -W 1 "$pod2v4"
if grep -q FLANNEL_IPV6_SUBNET "$logs/h2.env"; then
  pod2v6=$(ip -n "$RIG-pod2" -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1)
  # Until duplicate address detection is done on the pods and on each cni0, the kernel holds IPv6 packets back.
  for _ in $(seq 50); do
    [ -z "$(for ns in "$RIG-pod1" "$RIG-pod2" "$RIG-h1" "$RIG-h2"; do ip -n "$ns" -6 addr show tentative; done)" ] && break
    sleep 0.1
  done
  echo "pod1's IPv6 routes:"; ip -n "$RIG-pod1" -6 route | grep -v '^fe80' | sed 's/^/  /'
  echo; echo "== and over IPv6: ping pod2 ($pod2v6) from pod1"
  ip netns exec "$RIG-pod1" ping -c 3 -i 0.2 -W 1 "$pod2v6"
else
  echo "(IPv6 pods: when weft writes FLANNEL_IPV6_SUBNET into subnet.env — a dual-stack network — this demo pings over IPv6 too)"
fi

echo; echo "== forwarding tables, peers and counters (weft fdb show, weft peers, weft stats)"
for i in 1 2; do
  echo "h$i:"
  for cmd in "fdb show" peers stats; do
    # shellcheck disable=SC2086
    ip netns exec "$RIG-h$i" node dist/src/cli/main.js $cmd | sed 's/^/  /'
  done
done
echo; echo "== DEL: the pods detached (addresses released, veths gone)"
for i in 1 2; do
  ip netns exec "$RIG-h$i" env CNI_COMMAND=DEL CNI_CONTAINERID="pod$i" CNI_NETNS="/run/netns/$RIG-pod$i" CNI_IFNAME=eth0 \
    CNI_PATH="$logs/bin:/usr/lib/cni" "$logs/bin/weft-cni" < "$logs/cni$i.conf"
  echo "h$i: ports left on cni0: $(ip -n "$RIG-h$i" -o link show master cni0 | wc -l), addresses reserved: $(ls "$logs/ipam$i/weftnet" | grep -c '^[0-9a-f]*[.:]')"
done
echo; echo "== stopping (SIGTERM); the pods and the rig are torn down"
