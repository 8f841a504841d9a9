#!/usr/bin/env bash
# `npm run demo`: two hosts (network namespaces), weft on each, a ping across
# the overlay, the learned tables and counters, then everything torn down.
#
#   h1: weft0 10.244.0.1/24 ── weft ── 198.18.0.1 ══ switch ══ 198.18.0.2 ── weft ── weft0 10.244.0.2/24 :h2
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
for i in 1 2; do
  j=$((3 - i))
  ip netns exec "$RIG-h$i" node dist/src/cli/main.js run --local "198.18.0.$i" --peer "198.18.0.$j" \
    --address "10.244.0.$i/24" 2> "$logs/h$i.log" &
  pids+=($!)
done
for i in 1 2; do
  for _ in $(seq 50); do grep -q 'listening on' "$logs/h$i.log" && break; sleep 0.1; done
  echo "h$i: $(grep 'listening on' "$logs/h$i.log")"
done

echo; echo "== ping 10.244.0.2 from h1, over weft"
ip netns exec "$RIG-h1" ping -c 3 -i 0.2 -W 1 10.244.0.2

echo; echo "== learned tables and counters (SIGUSR1)"
for i in 1 2; do
  kill -USR1 "${pids[$((i - 1))]}"
  sleep 0.2
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.startsWith("{\"event\":\"status\""));
    const s = JSON.parse(lines[lines.length - 1]);
    console.log(`h${process.argv[2]} forwarding table:`);
    for (const e of s.fdb) console.log(`  ${e.mac} dev ${s.tap} dst ${e.dst} vni ${e.vni} ${e.state}${e.ageS !== undefined ? " age " + e.ageS : ""}`);
    console.log(`h${process.argv[2]} counters: ` + Object.entries(s.counters).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(" "));
  ' "$logs/h$i.log" "$i"
done
echo; echo "== stopping (SIGTERM); the rig is torn down"
