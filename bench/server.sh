#!/usr/bin/env bash
# `graceful serve` under load with wrk: reads (who holds production), and a
# mixed load of reads with one gated promotion in ten, at 1, 8 and 64
# connections, on SQLite and on a PostgreSQL server it starts itself.
# Prints requests/s, p50 and p99 latency, errors (non-2xx other than 409,
# failed connections, timeouts) and 409s per run.
#   bench/server.sh [SECONDS] [THREADS]   (defaults 10 and 4: the server's default pool)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup" >/dev/null
graceful="$root/build/cli/graceful"
seconds=${1:-10}
threads=${2:-4}
work=$(mktemp -d /tmp/graceful-serve-bench.XXXXXX)
state="$work/pg.state"
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  "$root/scripts/pg-server" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
admin=$("$root/scripts/pg-server" start "$state" 25441)
mkdir -p "$work/policies"
echo "gates: []" > "$work/policies/open.yaml"

# wrk's Lua: every request authenticated; the mixed load promotes one
# request in ten, alternating two versions so every promotion moves.
# A 409 (a promotion that lost the compare-and-set to a concurrent one) is
# the contract working, so it is counted apart from errors.
cat > "$work/read.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
threads = {}
setup = function(thread) table.insert(threads, thread) end
conflicts = 0
response = function(status, headers, body)
  if status == 409 then conflicts = conflicts + 1 end
end
done = function(summary, latency, requests)
  local lost = 0
  for _, thread in ipairs(threads) do lost = lost + thread:get("conflicts") end
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status - lost + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, lost))
end
LUA
cat "$work/read.lua" > "$work/mixed.lua"
cat >> "$work/mixed.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  if counter % 10 == 0 then
    local body = string.format('{"target": "m@%d", "policy": "open.yaml"}', (counter / 10) % 2 + 1)
    local headers = {["Content-Type"] = "application/json"}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    return wrk.format("POST", "/api/v1/models/m/aliases/staging/promote", headers, body)
  end
  return wrk.format("GET", "/api/v1/models/m/aliases/production")
end
LUA

start_server() { # STORE ARTIFACTS
  "$graceful" serve --store "$1" --artifacts "$2" --listen 127.0.0.1:0 --threads "$threads" \
    --policies "$work/policies" > "$work/serve.out" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/serve.out" 2>/dev/null && break
    sleep 0.1
  done
  url=$(sed -n 's/.*listening on //p' "$work/serve.out")
}

printf '%-10s %-6s %5s %10s %9s %9s %8s %10s\n' backend load conns "req/s" "p50 ms" "p99 ms" errors \
  "409s"
for backend in sqlite postgresql; do
  if [ "$backend" = sqlite ]; then
    store="sqlite:$work/sqlite/registry.db" artifacts="$work/sqlite/artifacts"
  else
    psql -q "$admin" -c "CREATE DATABASE serve_bench"
    store="${admin%/*}/serve_bench" artifacts="$work/pg-artifacts"
  fi
  export GRACEFUL_STORE="$store" GRACEFUL_ARTIFACTS="$artifacts" GRACEFUL_ACTOR=bench
  "$graceful" init >/dev/null
  "$graceful" register m --onnx "$root/examples/edge/models/edge_small.onnx" >/dev/null
  "$graceful" register m --onnx "$root/examples/edge/models/edge_hardswish.onnx" >/dev/null
  "$graceful" promote m@1 --to production --policy "$work/policies/open.yaml" >/dev/null
  TOKEN=$("$graceful" token create --subject bench --role admin --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  export TOKEN
  start_server "$store" "$artifacts"
  for load in read mixed; do
    for conns in 1 8 64; do
      read -r _ rate p50 p99 errors conflicts < <(wrk -t 1 -c "$conns" -d "${seconds}s" --latency \
        -s "$work/$load.lua" "$url/api/v1/models/m/aliases/production" | grep '^RESULT')
      printf '%-10s %-6s %5d %10.0f %9.2f %9.2f %8d %10d\n' "$backend" "$load" "$conns" "$rate" \
        "$p50" "$p99" "$errors" "$conflicts"
    done
  done
  kill -TERM "$server" && wait "$server" || true
  server=""
  GRACEFUL_STORE="$store" GRACEFUL_ARTIFACTS="$artifacts" "$graceful" check >/dev/null ||
    { echo "check failed after the $backend run"; exit 1; }
done
