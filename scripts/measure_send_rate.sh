#!/usr/bin/env bash
# The send rate of `ensemble-load` (32 users, 32 clients, one room, 20,000 messages) against one
# or more `ensemble` binaries, run in turn on fresh data directories, ROUNDS times each, so two
# builds are compared in one run on one machine.
# Usage: scripts/measure_send_rate.sh ROUNDS BIN [BIN ...]   (LOAD=path/to/ensemble-load, PORT=18123)
#
# Each line: "round N BIN <load tool JSON> server_cpu_s=S cpu_ms_per_1k_ev_total=T setup_cpu_s=R
# send_cpu_s=X cpu_ms_per_1k_ev=C loadavg=L1,L5,L15"
# server_cpu_s: the server process's utime+stime (all threads, /proc/PID/stat) between just before
# and just after ensemble-load ran; cpu_ms_per_1k_ev_total is that per 1,000 events sent. That run
# includes registering 32 users, i.e. 32 scrypt hashes at the default cost (~19 CPU-s, more than the
# sends), so the script also samples the server's CPU every SAMPLE_SECS (0.1) while the tool runs and
# splits it at the start of the send phase (end of the run minus the tool's "seconds", interpolated
# between samples): setup_cpu_s (registration, createRoom, joins) and send_cpu_s (the timed sends);
# cpu_ms_per_1k_ev is send_cpu_s per 1,000 events. CPU per event is the figure least disturbed by
# other processes competing for the cores; ev/s is the rate the tool reports.
set -euo pipefail
rounds=$1
shift
load=${LOAD:-./target/release/ensemble-load}
messages=${MESSAGES:-20000}
# 32 clients register at once: let the password gate queue them rather than answer 429.
export ENSEMBLE_ENABLE_REGISTRATION=true ENSEMBLE_LOG=warn ENSEMBLE_PASSWORD_HASH_QUEUE_PER_SLOT=64
for l in MESSAGE REGISTRATION LOGIN_ADDRESS LOGIN_ACCOUNT; do
  export ENSEMBLE_RC_${l}_PER_SECOND=1000000 ENSEMBLE_RC_${l}_BURST_COUNT=1000000
done
port=${PORT:-18123}
hz=$(getconf CLK_TCK)
sample_secs=${SAMPLE_SECS:-0.1}
# utime+stime of a process in clock ticks (fields 14 and 15; split after the ")" ending comm, so
# field 3, the state, is word 0 and utime and stime are words 11 and 12). No fork: it is sampled.
cpu_ticks() {
  local stat f
  stat=$(<"/proc/$1/stat")
  read -r -a f <<<"${stat##*) }"
  echo $((f[11] + f[12]))
}
if curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1; then
  echo "port $port already answers: pick another with PORT=" >&2
  exit 1
fi
for round in $(seq 1 "$rounds"); do
  for bin in "$@"; do
    dir=$(mktemp -d)
    ENSEMBLE_DATA_DIR=$dir ENSEMBLE_LISTEN=127.0.0.1:$port "$bin" serve >"$dir/server.log" 2>&1 &
    pid=$!
    sampler=
    trap 'kill $sampler $pid 2>/dev/null; rm -rf "$dir"' EXIT
    up=0
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$port/_matrix/client/versions" >/dev/null && { up=1; break; }
      sleep 0.1
    done
    if [ "$up" != 1 ]; then
      echo "round $round $bin: server did not answer on port $port" >&2
      cat "$dir/server.log" >&2
      exit 1
    fi
    (
      while t=$EPOCHREALTIME && c=$(cpu_ticks "$pid" 2>/dev/null); do
        echo "$t $c"
        sleep "$sample_secs"
      done
    ) >"$dir/cpu.samples" &
    sampler=$!
    t0=$EPOCHREALTIME
    before=$(cpu_ticks "$pid")
    out=$("$load" --url "http://127.0.0.1:$port" --phases register,send --rooms 1 --users 32 --clients 32 --messages "$messages" 2>/dev/null)
    after=$(cpu_ticks "$pid")
    t1=$EPOCHREALTIME
    kill "$sampler"
    wait "$sampler" 2>/dev/null || true
    sampler=
    read -r l1 l5 l15 _ </proc/loadavg
    events=$(jq -r '.phases.send.count' <<<"$out")
    seconds=$(jq -r '.phases.send.seconds' <<<"$out")
    extra=$( (echo "$t0 $before"; cat "$dir/cpu.samples"; echo "$t1 $after") | sort -g |
      awk -v b="$before" -v a="$after" -v hz="$hz" -v ev="$events" -v ts="$(awk -v t="$t1" -v s="$seconds" 'BEGIN { printf "%.6f", t - s }')" '
      { t[NR] = $1; c[NR] = $2 }
      END {
        # CPU ticks at the start of the send phase, interpolated between the samples around it
        at = b
        for (i = 1; i <= NR; i++) {
          if (t[i] <= ts) at = c[i]
          else { if (i > 1 && t[i] > t[i-1]) at = c[i-1] + (c[i] - c[i-1]) * (ts - t[i-1]) / (t[i] - t[i-1]); break }
        }
        total = (a - b) / hz; setup = (at - b) / hz; send = (a - at) / hz
        per = ev > 0 ? 1000 * 1000 / ev : 0
        printf "server_cpu_s=%.2f cpu_ms_per_1k_ev_total=%.1f setup_cpu_s=%.2f send_cpu_s=%.2f cpu_ms_per_1k_ev=%.1f", total, total * per, setup, send, send * per
      }')
    echo "round $round $bin $out $extra loadavg=$l1,$l5,$l15"
    kill "$pid"
    wait "$pid" || true
    rm -rf "$dir"
  done
done
