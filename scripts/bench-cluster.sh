#!/usr/bin/env bash
# Herald with the in-memory broker against Herald with the PostgreSQL cluster broker, one node,
# in one run on this machine: S1 (5,000 subscribers of one entity, closed loop) and S2 (10,000
# connections over 1,000 entities, 2,000 publishes/s), alternating, ROUNDS times each (default 2).
# Herald runs on core 0, the load generator on core 1; PostgreSQL (Debian's, a throw-away cluster
# in a temporary folder, default settings: fsync on) is not pinned. Everything listens on
# 127.0.0.1. Prints one JSON line per run: server CPU per delivery (Herald's own), deliveries/s,
# publish → receive latency, and the CPU seconds PostgreSQL's processes used in the run.
#
# Usage: bash scripts/bench-cluster.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-2}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$BIN/initdb" ]] || { echo "needs PostgreSQL: apt-get install postgresql" >&2; exit 1; }
swift build -c release --product herald >/dev/null
HERALD="$(swift build -c release --product herald --show-bin-path)/herald"
WORK="$(mktemp -d /tmp/herald-bench-cluster.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_postgres() { if [[ $(id -u) == 0 ]]; then chown -R postgres "$WORK"; runuser -u postgres -- "$@"; else "$@"; fi; }
as_postgres "$BIN/initdb" -D "$WORK/data" -U herald -A trust -E UTF8 >/dev/null
as_postgres "$BIN/postgres" -D "$WORK/data" -k "$WORK" -p "$PG_PORT" -c listen_addresses=127.0.0.1 >"$WORK/postgres.log" 2>&1 &
LAUNCHER=$!
SERVER=""
POSTMASTER=""
cleanup() {
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null || true
    # The postmaster itself (runuser does not pass signals on): a fast shutdown.
    [[ -n "$POSTMASTER" ]] && kill -INT "$POSTMASTER" 2>/dev/null || true
    wait "$LAUNCHER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
POSTMASTER="$(head -1 "$WORK/data/postmaster.pid")"
ulimit -n "$(ulimit -Hn)"
SECRET=bench-secret-0123456789abcdef-0123456789abcdef
KEY=bench-publish-key

# CPU ticks (1/100 s) of every process of the PostgreSQL server started here.
postgres_ticks() {
    local total=0 pid fields
    for pid in "$POSTMASTER" $(pgrep -P "$POSTMASTER" || true); do
        fields="$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null || echo "0 0")"
        total=$((total + ${fields% *} + ${fields#* }))
    done
    echo "$total"
}

# run MODE bench-args… — a fresh server (and, for postgres, a fresh database), one JSON line.
run() {
    local mode="$1" broker=memory out="$WORK/server.out"
    shift
    if [[ "$mode" == postgres ]]; then
        local database="bench_$RANDOM$RANDOM"
        psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres -c "CREATE DATABASE $database"
        broker="postgres://herald@127.0.0.1:$PG_PORT/$database?sslmode=disable"
    fi
    : >"$out"
    taskset -c 0 "$HERALD" serve --host 127.0.0.1 --port 0 --jwt-secret "$SECRET" --publish-key "$KEY" --log-level warning \
        --broker "$broker" >"$out" 2>>"$WORK/herald.log" &
    SERVER=$!
    local port=""
    for _ in $(seq 1 100); do
        port="$(sed -n 's|^listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out")"
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    sleep 0.5  # the cluster node turns ready once it listens
    local before after
    before="$(postgres_ticks)"
    taskset -c 1 "$HERALD" bench --url "http://127.0.0.1:$port" --jwt-secret "$SECRET" --publish-key "$KEY" \
        --server-pid "$SERVER" --json "$@" >"$WORK/bench.json" 2>/dev/null
    after="$(postgres_ticks)"
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
    python3 - "$mode" "$*" "$before" "$after" "$WORK/bench.json" <<'PY'
import json, sys
mode, args, before, after, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
j = json.load(open(path)); d = j["deliveries"]; l = j["latencyMs"]
print(json.dumps({"mode": mode, "args": args, "serverCpuUsPerDelivery": d["serverCpuUsPerDelivery"], "deliveriesPerSecond": d["perSecond"],
                  "received": d["received"], "missing": d["missing"], "duplicates": d["duplicates"], "p50Ms": l["p50"], "p99Ms": l["p99"],
                  "publishesSent": j["publish"]["sent"], "publishesSkipped": j["publish"]["skipped"],
                  "postgresCpuSeconds": (after - before) / 100}))
PY
}

for _ in $(seq 1 "$ROUNDS"); do
    for mode in memory postgres; do
        run "$mode" --connections 5000 --entities 1 --rate max --duration 6s
        run "$mode" --connections 10000 --entities 1000 --rate 2000 --duration 8s
    done
done
