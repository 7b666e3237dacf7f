#!/usr/bin/env bash
# Peak resident memory of a release Ensemble server under N concurrent failed logins at the
# production scrypt cost (password_hash_log_n 17, 128 MiB per hash). Loopback only, bounded.
#
#   cargo build --release --bin ensemble && scripts/measure_login_rss.sh
#
# Runs the server twice from a generated config: once with the default rate limits, once with
# the login limits raised so every attempt reaches the password check (the hashing cap alone
# bounds memory then). Prints one JSON line per run: VmHWM (peak RSS) before and after the logins
# and the status codes the logins got.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${ENSEMBLE_BIN:-$here/../target/release/ensemble}
logins=${LOGINS:-32}
if ! [[ $logins =~ ^[0-9]+$ ]] || ((logins < 1 || logins > 256)); then
    echo "LOGINS must be 1..256" >&2
    exit 2
fi
[[ -x $bin ]] || { echo "no release binary at $bin (cargo build --release --bin ensemble)" >&2; exit 2; }

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() {
    local label=$1
    shift
    local dir=$work/$label port
    mkdir -p "$dir"
    port=$(free_port)
    "$bin" generate-config --output "$dir/ensemble.toml" >/dev/null
    env ENSEMBLE_CONFIG="$dir/ensemble.toml" ENSEMBLE_LISTEN="127.0.0.1:$port" ENSEMBLE_DATA_DIR="$dir/data" \
        ENSEMBLE_SERVER_NAME=localhost ENSEMBLE_ENABLE_REGISTRATION=true ENSEMBLE_LOG=warn "$@" \
        "$bin" serve >"$dir/server.log" 2>&1 &
    server_pid=$!
    python3 - "$label" "$port" "$server_pid" "$logins" <<'PY'
import json, sys, threading, time, urllib.error, urllib.request

label, port, pid, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")

def status_kb(key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None

deadline = time.time() + 60
while True:
    try:
        call("GET", "/_matrix/client/versions")
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("server did not start")
        time.sleep(0.2)

creds = {"username": "victim", "password": "correct horse battery staple"}
code, body = call("POST", "/_matrix/client/v3/register", creds)
code, body = call("POST", "/_matrix/client/v3/register", {**creds, "auth": {"type": "m.login.dummy", "session": body.get("session")}})
assert code == 200, (code, body)
before = status_kb("VmHWM")

codes = []
def attempt(i):
    c, _ = call("POST", "/_matrix/client/v3/login",
                {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "victim"}, "password": f"wrong-{i}"})
    codes.append(c)

started = time.time()
threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "run": label,
    "logins": n,
    "vmhwm_mib_after_register": round(before / 1024, 1),
    "vmhwm_mib_after_logins": round(status_kb("VmHWM") / 1024, 1),
    "seconds": round(time.time() - started, 2),
    "statuses": {str(c): codes.count(c) for c in sorted(set(codes))},
}))
PY
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

measure default-limits
measure login-limits-raised \
    ENSEMBLE_RC_LOGIN_ADDRESS_PER_SECOND=1000 ENSEMBLE_RC_LOGIN_ADDRESS_BURST_COUNT=100000 \
    ENSEMBLE_RC_LOGIN_ACCOUNT_PER_SECOND=1000 ENSEMBLE_RC_LOGIN_ACCOUNT_BURST_COUNT=100000 \
    ENSEMBLE_RC_LOGIN_FAILED_ATTEMPTS_PER_SECOND=1000 ENSEMBLE_RC_LOGIN_FAILED_ATTEMPTS_BURST_COUNT=100000
