#!/usr/bin/env bash
# The send rate of `ensemble-load` (32 users, 32 clients, one room, 20,000 messages) against one
# or more `ensemble` binaries, run in turn on fresh data directories, ROUNDS times each, so two
# builds are compared in one run on one machine.
# Usage: scripts/measure_send_rate.sh ROUNDS BIN [BIN ...]   (LOAD=path/to/ensemble-load)
set -euo pipefail
rounds=$1
shift
load=${LOAD:-./target/release/ensemble-load}
# 32 clients register at once: let the password gate queue them rather than answer 429.
export ENSEMBLE_ENABLE_REGISTRATION=true ENSEMBLE_LOG=warn ENSEMBLE_PASSWORD_HASH_QUEUE_PER_SLOT=64
for l in MESSAGE REGISTRATION LOGIN_ADDRESS LOGIN_ACCOUNT; do
  export ENSEMBLE_RC_${l}_PER_SECOND=1000000 ENSEMBLE_RC_${l}_BURST_COUNT=1000000
done
port=${PORT:-18123}
for round in $(seq 1 "$rounds"); do
  for bin in "$@"; do
    dir=$(mktemp -d)
    ENSEMBLE_DATA_DIR=$dir ENSEMBLE_LISTEN=127.0.0.1:$port "$bin" serve >"$dir/server.log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$port/_matrix/client/versions" >/dev/null && break
      sleep 0.1
    done
    out=$("$load" --url "http://127.0.0.1:$port" --users 32 --clients 32 --messages 20000)
    echo "round $round $bin $out"
    kill "$pid"
    wait "$pid" || true
    rm -rf "$dir"
  done
done
