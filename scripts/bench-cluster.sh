#!/usr/bin/env bash
# Herald with the PostgreSQL cluster broker on this machine, against Herald with the in-memory
# broker, in one run. Prints one JSON line per run: server CPU per delivery (node 1's own),
# deliveries/s, publish → receive latency, events sent and skipped, and the CPU seconds
# PostgreSQL's processes used in the run.
#
# Usage: bash scripts/bench-cluster.sh [NODES] [ROUNDS]
#
# NODES = 1 (the default): one node, memory and postgres alternating, ROUNDS times (default 1):
#   S1   5,000 subscribers of one entity, closed loop
#   S2   10,000 connections over 1,000 entities, 2,000 publishes/s, one event a request
#   P1   1,000 connections over 1,000 entities, 10,000 events/s, one event a request (64 publish connections)
#   P10  1,000 connections over 1,000 entities, 10,000 events/s, 10 events a request (POST /events, 16 publish connections)
# NODES = 2 or 3: that many nodes of one cluster, postgres only: the subscribers on node 1, the
#   publishes through every node in turn (herald bench --publish-url), P1 and P10.
#
# Node 1 runs on core 0, the load generator on core 1; the other nodes and PostgreSQL (Debian's,
# a throw-away cluster in a temporary folder, default settings: fsync and synchronous commit on)
# are not pinned. Everything listens on 127.0.0.1.
#
# PG_STATEMENTS=1 loads pg_stat_statements and prints, after each postgres run, its statements by
# total time (to stderr).
# HERALD_SERVER_BIN=/path/to/herald measures that build's server with this build's generator
# (e.g. an older commit's release build); a server without --cluster-secret is started without it.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES="${1:-1}"
ROUNDS="${2:-1}"
[[ "$NODES" =~ ^[1-3]$ ]] || { echo "NODES must be 1, 2 or 3" >&2; exit 1; }
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$BIN/initdb" ]] || { echo "needs PostgreSQL: apt-get install postgresql" >&2; exit 1; }
swift build -c release --product herald >/dev/null
HERALD="$(swift build -c release --product herald --show-bin-path)/herald"
SERVER_BIN="${HERALD_SERVER_BIN:-$HERALD}"
WORK="$(mktemp -d /tmp/herald-bench-cluster.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_postgres() { if [[ $(id -u) == 0 ]]; then chown -R postgres "$WORK"; runuser -u postgres -- "$@"; else "$@"; fi; }
as_postgres "$BIN/initdb" -D "$WORK/data" -U herald -A trust -E UTF8 >/dev/null
PG_OPTIONS=()
[[ "${PG_STATEMENTS:-0}" == 1 ]] && PG_OPTIONS=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all)
as_postgres "$BIN/postgres" -D "$WORK/data" -k "$WORK" -p "$PG_PORT" -c listen_addresses=127.0.0.1 "${PG_OPTIONS[@]}" >"$WORK/postgres.log" 2>&1 &
LAUNCHER=$!
SERVERS=()
PORTS=()
POSTMASTER=""
stop_servers() {
    local pid
    for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null || true; done
    SERVERS=()
}
cleanup() {
    stop_servers
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
CLUSTER_ARGS=()
# Read whole first: `grep -q` in a pipe can end it early, and pipefail would then say no.
[[ "$("$SERVER_BIN" serve --help 2>&1)" == *--cluster-secret* ]] && CLUSTER_ARGS=(--cluster-secret bench-cluster-secret-0123456789abcdef-0123456789)

# CPU ticks (1/100 s) of every process of the PostgreSQL server started here.
postgres_ticks() {
    local total=0 pid fields
    for pid in "$POSTMASTER" $(pgrep -P "$POSTMASTER" || true); do
        fields="$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null || echo "0 0")"
        total=$((total + ${fields% *} + ${fields#* }))
    done
    echo "$total"
}

# start_node CORE BROKER — a node (pinned to CORE unless it is "-"); its port goes to PORTS.
start_node() {
    local core="$1" broker="$2" out="$WORK/server.$RANDOM.out" pin=()
    [[ "$core" != - ]] && pin=(taskset -c "$core")
    local extra=()
    [[ "$broker" != memory ]] && extra=("${CLUSTER_ARGS[@]}")
    "${pin[@]}" "$SERVER_BIN" serve --host 127.0.0.1 --port 0 --jwt-secret "$SECRET" --publish-key "$KEY" --log-level warning \
        --broker "$broker" "${extra[@]}" >"$out" 2>>"$WORK/herald.log" &
    SERVERS+=($!)
    local port=""
    for _ in $(seq 1 100); do
        port="$(sed -n 's|^listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out")"
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    PORTS+=("$port")
}

# run MODE NODES NAME bench-args… — fresh servers (and, for postgres, a fresh database), one JSON line.
run() {
    local mode="$1" nodes="$2" name="$3" broker=memory
    shift 3
    if [[ "$mode" == postgres ]]; then
        local database="bench_$RANDOM$RANDOM"
        psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres -c "CREATE DATABASE $database"
        [[ "${PG_STATEMENTS:-0}" == 1 ]] && psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d "$database" \
            -c "CREATE EXTENSION pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
        broker="postgres://herald@127.0.0.1:$PG_PORT/$database?sslmode=disable"
    fi
    local publish=() index
    PORTS=()
    start_node 0 "$broker"
    for index in $(seq 2 "$nodes"); do start_node - "$broker"; done
    if [[ "$nodes" -gt 1 ]]; then
        for index in "${PORTS[@]}"; do publish+=(--publish-url "http://127.0.0.1:$index"); done
    fi
    sleep 0.5  # a cluster node turns ready once it listens
    local before after
    before="$(postgres_ticks)"
    taskset -c 1 "$HERALD" bench --url "http://127.0.0.1:${PORTS[0]}" --jwt-secret "$SECRET" --publish-key "$KEY" \
        --server-pid "${SERVERS[0]}" --json "${publish[@]}" "$@" >"$WORK/bench.json" 2>/dev/null
    after="$(postgres_ticks)"
    stop_servers
    if [[ "$mode" == postgres && "${PG_STATEMENTS:-0}" == 1 ]]; then
        # Where the database's time went: the statements of this run, the costliest first.
        psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d "$database" -c "SELECT calls, round(total_exec_time) AS total_ms,
            round((total_exec_time / calls)::numeric, 3) AS ms_per_call, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS statement
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time DESC LIMIT 8" >&2
    fi
    python3 - "$mode" "$nodes" "$name" "$*" "$before" "$after" "$WORK/bench.json" <<'PY'
import json, sys
mode, nodes, name, args, before, after, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
j = json.load(open(path)); d = j["deliveries"]; l = j["latencyMs"]; p = j["publish"]
print(json.dumps({"scenario": name, "mode": mode, "nodes": nodes, "args": args, "serverCpuUsPerDelivery": d["serverCpuUsPerDelivery"],
                  "deliveriesPerSecond": d["perSecond"], "received": d["received"], "missing": d["missing"], "duplicates": d["duplicates"],
                  "p50Ms": l["p50"], "p99Ms": l["p99"], "maxMs": l["max"], "eventsSent": p["sent"], "eventsSkipped": p["skipped"],
                  "eventsPerSecond": round(p["sent"] / p["seconds"]) if p["seconds"] else None, "failed": p["failed"], "errors": p["errors"],
                  "postgresCpuSeconds": (after - before) / 100}))
PY
}

P1=(--connections 1000 --entities 1000 --rate 10000 --duration 8s --publish-connections 64)
P10=(--connections 1000 --entities 1000 --rate 10000 --duration 8s --events-per-publish 10 --publish-connections 16)
for _ in $(seq 1 "$ROUNDS"); do
    if [[ "$NODES" == 1 ]]; then
        for mode in memory postgres; do
            run "$mode" 1 S1 --connections 5000 --entities 1 --rate max --duration 6s
            run "$mode" 1 S2 --connections 10000 --entities 1000 --rate 2000 --duration 8s
            run "$mode" 1 P1 "${P1[@]}"
            run "$mode" 1 P10 "${P10[@]}"
        done
    else
        run postgres "$NODES" P1 "${P1[@]}"
        run postgres "$NODES" P10 "${P10[@]}"
    fi
done
