#!/usr/bin/env bash
# Registrations and alias moves per second on SQLite and PostgreSQL, one
# client and 8 concurrent clients. Starts its own PostgreSQL server.
#   bench/registry.sh [OPS_PER_CLIENT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup" >/dev/null
bench="$root/build/bench/registry_bench"
ops=${1:-200}
work=$(mktemp -d /tmp/graceful-bench.XXXXXX)
state="$work/pg.state"
trap '"$root/scripts/pg-server" stop "$state"; rm -rf "$work"' EXIT
admin=$("$root/scripts/pg-server" start "$state" 25439)

printf '%-10s %8s %16s %16s\n' backend clients "registrations/s" "alias moves/s"
for clients in 1 8; do
  dir="$work/sqlite-$clients"
  read -r _ reg moves < <("$bench" --store "sqlite:$dir/registry.db" --artifacts "$dir/artifacts" \
    --clients "$clients" --ops "$ops")
  printf '%-10s %8d %16.0f %16.0f\n' sqlite "$clients" "$reg" "$moves"
  db="bench$clients"
  psql -q "$admin" -c "CREATE DATABASE $db"
  read -r _ reg moves < <("$bench" --store "${admin%/*}/$db" --artifacts "$work/pg-$clients" \
    --clients "$clients" --ops "$ops")
  printf '%-10s %8d %16.0f %16.0f\n' postgresql "$clients" "$reg" "$moves"
done
