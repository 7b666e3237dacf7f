#!/usr/bin/env bash
# Peak RSS of the server under concurrent thumbnail requests of an 11000x11000 PNG.
#
# Starts the release binary on loopback with a generated config in a temporary directory,
# registers a user through shared-secret registration, uploads the PNG, fires N concurrent
# thumbnail requests on the unauthenticated legacy endpoint, and prints the answers and the
# server's VmHWM (peak resident set) from /proc/<pid>/status. Needs bash and python3 only.
#
#   cargo build --release --bin ensemble
#   scripts/measure_thumbnail_rss.sh [concurrency, default 4]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ENSEMBLE_BIN:-$root/target/release/ensemble}"
concurrency="${1:-4}"
[ -x "$bin" ] || { echo "no binary at $bin: run cargo build --release --bin ensemble" >&2; exit 1; }

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
secret="measure-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
cat >"$work/config.toml" <<EOF
server_name = "localhost"
listen = "127.0.0.1:$port"
data_dir = "$work/data"
registration_shared_secret = "$secret"
log = "warn"
# A cheap password hash for the one registration, so its 128 MiB scrypt does not set the peak.
password_hash_log_n = 10
EOF

"$bin" --config "$work/config.toml" serve >"$work/server.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$port" "$secret" "$pid" "$concurrency" <<'PY'
import hashlib, hmac, json, struct, sys, threading, time, urllib.error, urllib.request, zlib

port, secret, pid, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None, token=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def vm(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    return "?"

deadline = time.time() + 60
while True:
    try:
        if call("GET", "/_matrix/client/versions")[0] == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("server did not start; see its log")
    time.sleep(0.2)

nonce = json.loads(call("GET", "/_synapse/admin/v1/register")[1])["nonce"]
user, password = "measure", "measure-password-1"
mac = hmac.new(secret.encode(), b"\0".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]), hashlib.sha1).hexdigest()
status, body = call("POST", "/_synapse/admin/v1/register", {"nonce": nonce, "username": user, "password": password, "admin": False, "mac": mac})
assert status == 200, body
token = json.loads(body)["access_token"]

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

side = 11000
compressor = zlib.compressobj(9)
row = b"\0" * (1 + side)  # filter byte + one grey row
idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
status, body = call("POST", "/_matrix/media/v3/upload?filename=big.png", raw=png, token=token, ctype="image/png")
assert status == 200, body
media_id = json.loads(body)["content_uri"].rsplit("/", 1)[1]
print(f"uploaded {side}x{side} PNG ({len(png)} bytes) as {media_id}")
print(f"VmHWM before thumbnails: {vm('VmHWM')}")

results = []
def thumb(i):
    t0 = time.time()
    status, body = call("GET", f"/_matrix/media/v3/thumbnail/localhost/{media_id}?width={64 + i}&height={64 + i}&method=scale")
    results.append((i, status, body[:120], time.time() - t0))

threads = [threading.Thread(target=thumb, args=(i,)) for i in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i, status, body, secs in sorted(results):
    print(f"thumbnail {i}: {status} in {secs:.3f}s {body.decode(errors='replace')}")
print(f"still answering: /versions {call('GET', '/_matrix/client/versions')[0]}")
print(f"VmHWM (peak RSS) after {concurrency} concurrent thumbnail requests: {vm('VmHWM')}")
print(f"VmRSS now: {vm('VmRSS')}")
PY
