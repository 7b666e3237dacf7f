#!/usr/bin/env bash
# Runs SyTest's client-server files (Manual mode) against a fresh Ensemble and compares the failures
# with Synapse's (docs/conformance.md explains every test failing here that passes on Synapse).
# usage: scripts/sytest.sh BIN OUTDIR [TEST_FILES_OR_DIRS...]
#   BIN     the ensemble binary (a release build: target/release/ensemble)
#   OUTDIR  written: sytest.tap, results.txt, failed.txt, server.log, comm13.txt, summary.txt
#   TESTS   optional, relative to the SyTest checkout (tests/31sync tests/61push); default: all
# Needs SyTest set up once (SYTEST_TOOLS/README.md, default ../shared/tools/sytest). Env knobs:
#   SYTEST_TOOLS, PORT (28008), KEEP_DATA=1 (keep the data dir), ENSEMBLE_LOG (default: one line per
#   request with its status, so a 5xx shows in server.log).
set -uo pipefail
BIN=${1:?usage: scripts/sytest.sh BIN OUTDIR [tests...]}
OUTDIR=${2:?usage: scripts/sytest.sh BIN OUTDIR [tests...]}
shift 2
BIN=$(readlink -f "$BIN")
[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
TOOLS=${SYTEST_TOOLS:-$(dirname "$(readlink -f "$0")")/../../shared/tools/sytest}
[ -x "$TOOLS/run.sh" ] || { echo "no SyTest tools at $TOOLS (set SYTEST_TOOLS)" >&2; exit 2; }
PORT=${PORT:-28008}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/_matrix/client/versions"; then
  echo "something already listens on 127.0.0.1:$PORT" >&2
  exit 2
fi

DATA=$(mktemp -d /tmp/ensemble-sytest.XXXXXX)
# SyTest registers, logs in, joins and invites quickly: rate limits lifted, and a deep password-hash
# queue (past it the server answers 429). Everything else is the README's configuration.
RC_ENV=()
for l in MESSAGE REGISTRATION LOGIN_ADDRESS LOGIN_ACCOUNT LOGIN_FAILED_ATTEMPTS JOINS_LOCAL JOINS_REMOTE \
  INVITES_PER_ROOM INVITES_PER_USER INVITES_PER_ISSUER; do
  RC_ENV+=("ENSEMBLE_RC_${l}_PER_SECOND=1000000.0" "ENSEMBLE_RC_${l}_BURST_COUNT=1000000")
done
# SyTest's push gateways (and other HTTPS listeners) present certificates of its own test CA:
# trusted, or every push ends in a failed TLS handshake that SyTest reports against whichever
# test runs at the time.
CA=${SYTEST_HOME:-$HOME/.cache/sytest}/sytest/keys/ca.crt
[ -f "$CA" ] && RC_ENV+=("ENSEMBLE_FEDERATION_CUSTOM_CA_LIST=$CA")
env "${RC_ENV[@]}" ENSEMBLE_PASSWORD_HASH_QUEUE_PER_SLOT=64 \
  ENSEMBLE_LOG="${ENSEMBLE_LOG:-info,ensemble::http=debug}" \
  ENSEMBLE_DATA_DIR="$DATA" ENSEMBLE_LISTEN="127.0.0.1:$PORT" ENSEMBLE_SERVER_NAME="localhost:$PORT" \
  ENSEMBLE_ENABLE_REGISTRATION=true ENSEMBLE_REGISTRATION_SHARED_SECRET=reg_secret \
  "$BIN" serve >"$OUTDIR/server.log" 2>&1 &
SPID=$!
stop_server() {
  if kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID"
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$SPID" 2>/dev/null && kill -9 "$SPID"
  fi
  wait "$SPID" 2>/dev/null
  if [ "${KEEP_DATA:-0}" = 1 ]; then echo "data dir kept: $DATA" >&2; else rm -rf "$DATA"; fi
}
trap stop_server EXIT

up=0
for _ in $(seq 120); do
  kill -0 "$SPID" 2>/dev/null || { echo "server exited during startup; see $OUTDIR/server.log" >&2; exit 1; }
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/_matrix/client/versions" && { up=1; break; }
  sleep 0.5
done
[ $up = 1 ] || { echo "server not answering after 60 s" >&2; exit 1; }

start=$(date +%s)
SYTEST_OUT="$OUTDIR" "$TOOLS/run.sh" "http://127.0.0.1:$PORT" "localhost:$PORT" "$@" | tee "$OUTDIR/summary.txt"
end=$(date +%s)
if kill -0 "$SPID" 2>/dev/null; then alive=yes; else alive="NO (the server died during the run)"; fi
{
  echo "binary: $BIN"
  echo "tests: ${*:-default set}"
  echo "duration: $((end - start)) s"
  echo "server alive at the end: $alive"
} | tee -a "$OUTDIR/summary.txt"
stop_server
trap - EXIT
comm -13 "$TOOLS/synapse-1.163.2-failed.txt" "$OUTDIR/failed.txt" >"$OUTDIR/comm13.txt"
{
  echo "failing here, passing on Synapse (comm -13): $(wc -l <"$OUTDIR/comm13.txt") tests, listed in $OUTDIR/comm13.txt"
  echo "server log: $(grep -c ' 5[0-9][0-9] ' "$OUTDIR/server.log" || true) responses with a 5xx status, $(grep -ci 'panicked' "$OUTDIR/server.log" || true) panics"
} | tee -a "$OUTDIR/summary.txt"
