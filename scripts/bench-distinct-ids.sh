#!/usr/bin/env bash
# Resident memory of one `herald serve` over time while N distinct entity ids are published,
# their history expires and the sweep forgets them (docs/PERFORMANCE.md, "Memory over time").
#
#   swift build -c release --scratch-path .build-release
#   scripts/bench-distinct-ids.sh [N=200000] [TTL=30s]
#
# HERALD (default .build-release/release/herald) is the binary. Every second it prints the time,
# the phase, the entities the node keeps (`streams` of /admin/stats) and VmRSS of the server's
# /proc/PID/status; then a summary line. Needs python3 and Linux.
set -euo pipefail

ids=${1:-200000}
ttl=${2:-30s}
herald=${HERALD:-.build-release/release/herald}
key=bench-distinct-ids-key
[ -x "$herald" ] || { echo "no $herald: build it first (swift build -c release --scratch-path .build-release)" >&2; exit 1; }

out=$(mktemp)
HERALD_JWT_SECRET=bench-distinct-ids-secret-0123456789abcdef-0123456789abcdef HERALD_PUBLISH_KEY=$key \
  HERALD_HOST=127.0.0.1 HERALD_HISTORY_TTL=$ttl HERALD_LOG_LEVEL=warning "$herald" serve --port 0 >"$out" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.1; done
port=$(sed -n 's|listening on ws://127.0.0.1:\([0-9]*\)/|\1|p' "$out")
[ -n "$port" ] || { echo "the server did not start" >&2; exit 1; }

python3 - "$server" "$port" "$key" "$ids" <<'PY'
import json, sys, threading, time, urllib.request

pid, port, key, ids = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
phase = "baseline"
start = time.monotonic()

def rss_mib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def streams():
    request = urllib.request.Request(base + "/admin/stats", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["streams"]

samples = []
def sample():
    samples.append((time.monotonic() - start, phase, streams(), rss_mib()))
    print(f"{samples[-1][0]:6.0f} s  {phase:<9} {samples[-1][2]:>8} streams  {samples[-1][3]:7.1f} MiB", flush=True)

def sampler():
    while phase != "done":
        sample()
        time.sleep(1)

threading.Thread(target=sampler, daemon=True).start()
time.sleep(3)
phase = "publish"
batch = 2500
for first in range(0, ids, batch):
    entries = [{"detail-type": "Entity Updated", "detail": {"entityId": f"order-{index}", "message": "m"}}
               for index in range(first, min(first + batch, ids))]
    request = urllib.request.Request(base + "/events", data=json.dumps(entries).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)["failedEntryCount"] == 0
published = time.monotonic() - start
phase = "expire"
while streams() != 0:
    time.sleep(0.5)
forgotten = time.monotonic() - start
phase = "forgotten"
time.sleep(5)
phase = "done"
time.sleep(1.1)
baseline = min(s[3] for s in samples if s[1] == "baseline")
peak = max(s[3] for s in samples)
after = samples[-1][3]
print(f"{ids} ids published in {published - 3:.1f} s; all forgotten at {forgotten:.0f} s; "
      f"RSS baseline {baseline:.1f} MiB, peak {peak:.1f} MiB, 5 s after {after:.1f} MiB")
PY
