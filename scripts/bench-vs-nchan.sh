#!/usr/bin/env bash
# Herald vs Nginx + Nchan on the benchmark scenarios below, in one run on this machine:
#   S1 fan-out   1 entity, 5,000 and 10,000 subscribers, closed loop   → server CPU µs per delivery
#   S1 latency   5,000 and 10,000 subscribers, 20 publishes/s           → CPU µs per delivery, p50/p99
#   S2 spread    10,000 connections over 1,000 entities, 2,000 pub/s    → CPU µs per delivery, p99
#   S3 idle      19,000 subscribed connections                          → server RSS per connection
#   S4 connect   5,000 connections as fast as possible (HS256 token)    → CPU µs per connection, rate
#   S4 paced     5,000 connections at 1,000 per second                  → CPU µs per connection, p99
#   STORM        19,000 subscribed clients lose their node (SIGTERM) and reconnect to a fresh one:
#                Herald's resume with `since` (two nodes of one PostgreSQL cluster, a throw-away
#                database; one publish per entity while they are away, each checked exactly once)
#                against Nchan's plain reconnect (two nginx)   → time until all resumed, server CPU
# The server runs on core 0 (taskset -c 0; nginx: one worker, worker_cpu_affinity 1), the load
# generator (`herald bench`) on core 1. Each scenario starts a fresh server, so figures don't mix.
# Everything listens on 127.0.0.1. Prints a markdown table and keeps the raw JSON in --out.
#
# Usage: bash scripts/bench-vs-nchan.sh [--quick] [--out DIR] [--scenarios S1,S2,S3,S4,STORM]
#   --quick      smaller connection counts and 5 s phases (a few minutes in all)
#   --out DIR    where the JSON results, logs and summary.md go (default /tmp/herald-bench-DATE)
#   --scenarios  run only these (S1 = fan-out CPU and latency, S4 = both connect scenarios)
#   SCHED=1      also record core 0's scheduling (perf sched) and note the server's run slices
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
OUT=""
SCENARIOS="S1,S2,S3,S4,STORM"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out) OUT="${2:?--out needs a directory}"; shift ;;
        --scenarios) SCENARIOS="${2:?--scenarios needs a list}"; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
OUT="${OUT:-/tmp/herald-bench-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d /tmp/herald-bench-work.XXXXXX)"

# Only the processes this script started are ever signalled, by pid.
STARTED=()
stop_pid() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
BACKLOG_FILE=/proc/sys/net/core/netdev_max_backlog
ORIGINAL_BACKLOG=""
POSTMASTER=""
cleanup() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$pid"; done
    # The postmaster itself (runuser does not pass signals on): a fast shutdown.
    if [[ -n "$POSTMASTER" ]]; then kill -INT "$POSTMASTER" 2>/dev/null || true; wait "$PG_LAUNCHER" 2>/dev/null || true; rm -rf "$PG_WORK"; fi
    if [[ -n "$ORIGINAL_BACKLOG" ]]; then echo "$ORIGINAL_BACKLOG" >"$BACKLOG_FILE" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
wants() { [[ ",$SCENARIOS," == *",$1,"* ]]; }

# --- Nginx + Nchan -----------------------------------------------------------------------------
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
if [[ ! -f "$NCHAN_MODULE" ]] || ! command -v nginx >/dev/null; then
    log "installing nginx-light and libnginx-mod-nchan (apt)"
    created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        # Keep the package from starting a system-wide nginx on port 80.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light libnginx-mod-nchan >"$OUT/apt.log" 2>&1
    if [[ $created_policy == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# --- Herald --------------------------------------------------------------------------------------
log "building herald (release)"
swift build -c release --product herald >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; exit 1; }
HERALD="$(swift build -c release --product herald --show-bin-path)/herald"
# HERALD_SERVER=path: another herald binary as the server (a before/after pair); the bench stays this one.
HERALD_SERVER="${HERALD_SERVER:-$HERALD}"
CLUSTER_SECRET_FLAG=()
SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
PUBLISH_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
CLUSTER_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
# Read whole first: `grep -q` in a pipe can end it early, and pipefail would then say no.
if [[ "$("$HERALD_SERVER" serve --help 2>&1)" == *--cluster-secret* ]]; then CLUSTER_SECRET_FLAG=(--cluster-secret "$CLUSTER_SECRET"); fi

ulimit -n "$(ulimit -Hn)"
log "open-file limit $(ulimit -n); results in $OUT"

# A server writing to thousands of loopback sockets at once can overflow the per-CPU backlog
# (1000 packets by default): packets are dropped, TCP retransmits them 200 ms–1 s later, and
# latency percentiles measure that instead of the server. Raise it for the run (restored on exit)
# when this machine lets us; every run also records drops and retransmits (see the notes).
if [[ -w "$BACKLOG_FILE" ]] && (( $(cat "$BACKLOG_FILE") < 30000 )); then
    previous="$(cat "$BACKLOG_FILE")"
    if echo 30000 >"$BACKLOG_FILE" 2>/dev/null; then
        ORIGINAL_BACKLOG="$previous"
        log "net.core.netdev_max_backlog $previous → 30000 for this run"
    fi
fi

# "softnet drops, TCP retransmitted segments, of them tail-loss probes" so far, machine-wide. A
# probe is the sender resending its last segment when no ACK came within its timeout: on
# loopback, a receiver delaying its ACK (a client that just sent data and has nothing more to
# send) is what it meets, not loss.
net_counters() {
    local drops=0 _cpu dropped _rest
    while read -r _cpu dropped _rest; do drops=$((drops + 16#$dropped)); done </proc/net/softnet_stat
    local retransmits probes
    retransmits="$(awk '/^Tcp:/ { if (!seen) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") column = i; seen = 1 } else print $column }' /proc/net/snmp)"
    probes="$(awk '/^TcpExt:/ { if (!seen) { for (i = 1; i <= NF; i++) if ($i == "TCPLossProbes") column = i; seen = 1 } else print $column }' /proc/net/netstat)"
    echo "$drops $retransmits ${probes:-0}"
}

# SCHED=1: the scheduler's record of core 0 during each run (`perf sched record`), summed up as the
# server's run slices — how long its threads ran each time they woke — in $OUT/NAME-TARGET.slices
# and the notes. A handshake that arrives while the loop runs waits for the slice to end.
sched_start() {
    SCHED_PID=""
    [[ "${SCHED:-0}" == 1 ]] || return 0
    perf sched record -C 0 -o "$OUT/$1.sched" >/dev/null 2>"$OUT/$1.sched.err" &
    SCHED_PID=$!
}
sched_stop() {
    [[ -n "$SCHED_PID" ]] || return 0
    # perf may have ended already (not installed, or not allowed here): its reason is in .sched.err.
    kill -INT "$SCHED_PID" 2>/dev/null || true
    wait "$SCHED_PID" || true
    perf sched timehist -i "$OUT/$1.sched" 2>/dev/null | awk -v pid="$2" '$3 ~ ("/" pid "\\]$") || $3 ~ ("\\[" pid "\\]$") { print $NF }' | sort -n \
        | awk '{ run[NR] = $1 } END { if (NR) printf "%d %.3f %.3f %.3f %.3f\n", NR, run[int(NR * 0.5) + 1], run[int(NR * 0.9) + 1], run[int(NR * 0.99) + 1], run[NR] }' \
        >"$OUT/$1.slices"
    rm -f "$OUT/$1.sched"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The storm's Herald nodes share a throw-away PostgreSQL (Debian's, default settings, not pinned),
# started on first use. Sets PG_PORT.
start_postgres() {
    [[ -n "$POSTMASTER" ]] && return 0
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [[ -x "$bin/initdb" ]] || { echo "the storm needs PostgreSQL: apt-get install postgresql" >&2; return 1; }
    PG_PORT="$(free_port)"
    # Its own folder: the postgres user cannot enter $WORK.
    PG_WORK="$(mktemp -d /tmp/herald-bench-pg.XXXXXX)"
    as_postgres() { if [[ $(id -u) == 0 ]]; then chown -R postgres "$PG_WORK"; runuser -u postgres -- "$@"; else "$@"; fi; }
    as_postgres "$bin/initdb" -D "$PG_WORK/data" -U herald -A trust -E UTF8 >/dev/null
    as_postgres "$bin/postgres" -D "$PG_WORK/data" -k "$PG_WORK" -p "$PG_PORT" -c listen_addresses=127.0.0.1 >"$OUT/postgres.log" 2>&1 &
    PG_LAUNCHER=$!
    for _ in $(seq 1 100); do psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
    POSTMASTER="$(head -1 "$PG_WORK/data/postmaster.pid")"
}

# A fresh database of that PostgreSQL, as a --broker URL.
fresh_database() {
    local database="bench_$RANDOM$RANDOM"
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres -c "CREATE DATABASE $database" >/dev/null
    echo "postgres://herald@127.0.0.1:$PG_PORT/$database?sslmode=disable"
}

# Sets SERVER_PID (the process to measure), SERVER_MAIN (the one to stop) and URL.
# start_herald [NAME [serve-args…]] — NAME keeps its output apart when two run at once.
start_herald() {
    local out="$WORK/herald-${1:-main}.out"
    shift || true
    : >"$out"
    taskset -c 0 "$HERALD_SERVER" serve --host 127.0.0.1 --port 0 --jwt-secret "$SECRET" --publish-key "$PUBLISH_KEY" \
        --log-level warning --drain-timeout 2s "$@" >"$out" 2>>"$OUT/herald-server.log" &
    SERVER_MAIN=$!
    STARTED+=("$SERVER_MAIN")
    SERVER_PID=$SERVER_MAIN
    local port=""
    for _ in $(seq 1 300); do
        port="$(sed -n 's|^listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out" | head -1)"
        [[ -n "$port" ]] && break
        kill -0 "$SERVER_MAIN" 2>/dev/null || { echo "herald exited on start" >&2; return 1; }
        sleep 0.1
    done
    [[ -n "$port" ]] || { echo "herald did not start" >&2; return 1; }
    URL="http://127.0.0.1:$port"
    # A cluster node is ready once it has loaded the streams and listens to the database.
    for _ in $(seq 1 100); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ready")" == 200 ]] && break
        sleep 0.1
    done
}

# start_nchan [NAME] — NAME: a second nginx beside the first (the storm's fresh node).
start_nchan() {
    local port dir="$WORK/nginx${1:+-$1}"
    port="$(free_port)"
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
load_module $NCHAN_MODULE;
worker_processes 1;
worker_cpu_affinity 1;
worker_rlimit_nofile 20000;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
# Nchan needs more connection slots than sockets: at 20000, 19,000 subscribers make nginx "reuse
# connections" (it drops some handshakes). Open files stay capped by worker_rlimit_nofile.
events { worker_connections 30000; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    nchan_max_reserved_memory 256M;
    server {
        listen 127.0.0.1:$port;
        location ~ ^/sub/([\w-]+)\$ {
            nchan_subscriber websocket;
            nchan_channel_id \$1;
            nchan_subscriber_first_message newest;
        }
        location ~ ^/pub/([\w-]+)\$ {
            nchan_publisher http;
            nchan_channel_id \$1;
            nchan_message_buffer_length 1;
            nchan_message_timeout 60s;
        }
    }
}
EOF
    taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir" >>"$OUT/nginx.log" 2>&1 &
    SERVER_MAIN=$!
    STARTED+=("$SERVER_MAIN")
    SERVER_PID=""
    for _ in $(seq 1 100); do
        SERVER_PID="$(pgrep -P "$SERVER_MAIN" | head -1 || true)"
        if [[ -n "$SERVER_PID" ]] && curl -s -o /dev/null "http://127.0.0.1:$port/pub/warmup" -d x; then break; fi
        kill -0 "$SERVER_MAIN" 2>/dev/null || { echo "nginx exited on start: $(tail -3 "$dir/error.log")" >&2; return 1; }
        SERVER_PID=""
        sleep 0.1
    done
    [[ -n "$SERVER_PID" ]] || { echo "nginx did not start" >&2; return 1; }
    URL="http://127.0.0.1:$port"
}

stop_server() {
    stop_pid "$SERVER_MAIN"
    local kept=() pid
    for pid in "${STARTED[@]}"; do [[ "$pid" == "$SERVER_MAIN" ]] || kept+=("$pid"); done
    STARTED=("${kept[@]+"${kept[@]}"}")
}

# run NAME TARGET bench-args… — fresh server, bench on core 1, JSON to $OUT/NAME-TARGET.json.
run() {
    local name="$1" target="$2"
    shift 2
    local credentials=()
    if [[ "$target" == herald ]]; then
        start_herald
        credentials=(--jwt-secret "$SECRET" --publish-key "$PUBLISH_KEY")
    else
        start_nchan
    fi
    log "$name on $target (pid $SERVER_PID): $*"
    local before after
    before="$(net_counters)"
    sched_start "$name-$target"
    if ! timeout 600 taskset -c 1 "$HERALD" bench --target "$target" --url "$URL" "${credentials[@]+"${credentials[@]}"}" \
        --server-pid "$SERVER_PID" --threads 1 --json "$@" >"$OUT/$name-$target.json" 2>"$OUT/$name-$target.log"; then
        log "  bench exited non-zero: $(tail -1 "$OUT/$name-$target.log")"
    fi
    sched_stop "$name-$target" "$SERVER_PID"
    after="$(net_counters)"
    echo "$before $after" | awk '{ print $4 - $1, $5 - $2, $6 - $3 }' >"$OUT/$name-$target.net"
    stop_server
    if [[ "$target" == nchan && -s "$WORK/nginx/error.log" ]]; then cp "$WORK/nginx/error.log" "$OUT/$name-nginx-error.log"; fi
}

# storm NAME TARGET bench-args… — two fresh servers (Herald: nodes of one fresh database); the
# bench connects to the first, sends it SIGTERM, and its clients reconnect to the second.
storm() {
    local name="$1" target="$2"
    shift 2
    local credentials=() lost_main lost_pid lost_url
    if [[ "$target" == herald ]]; then
        start_postgres
        local broker
        broker="$(fresh_database)"
        start_herald lost --broker "$broker" "${CLUSTER_SECRET_FLAG[@]+"${CLUSTER_SECRET_FLAG[@]}"}" --drain-timeout 10s
        lost_main=$SERVER_MAIN lost_pid=$SERVER_PID lost_url=$URL
        start_herald fresh --broker "$broker" "${CLUSTER_SECRET_FLAG[@]+"${CLUSTER_SECRET_FLAG[@]}"}" --drain-timeout 10s
        credentials=(--jwt-secret "$SECRET" --publish-key "$PUBLISH_KEY")
    else
        start_nchan lost
        lost_main=$SERVER_MAIN lost_pid=$SERVER_PID lost_url=$URL
        start_nchan fresh
    fi
    log "$name on $target (lost pid $lost_pid, fresh pid $SERVER_PID): $*"
    local before after
    before="$(net_counters)"
    if ! timeout 600 taskset -c 1 "$HERALD" bench --target "$target" --url "$lost_url" "${credentials[@]+"${credentials[@]}"}" \
        --server-pid "$lost_pid" --storm-pid "$lost_main" --reconnect-url "$URL" --reconnect-server-pid "$SERVER_PID" \
        --threads 1 --json "$@" >"$OUT/$name-$target.json" 2>"$OUT/$name-$target.log"; then
        log "  bench exited non-zero: $(tail -1 "$OUT/$name-$target.log")"
    fi
    after="$(net_counters)"
    echo "$before $after" | awk '{ print $3 - $1, $4 - $2 }' >"$OUT/$name-$target.net"
    stop_server
    SERVER_MAIN=$lost_main
    stop_server
}

if [[ $QUICK == 1 ]]; then
    FAN_A=1000 FAN_B=2000 LAT=1000 SPREAD=2000 SPREAD_ENTITIES=200 SPREAD_RATE=1000 IDLE=4000 CONNECT=1000 SECONDS_=5s
    STORM=1000 STORM_ENTITIES=100
else
    FAN_A=5000 FAN_B=10000 LAT=5000 SPREAD=10000 SPREAD_ENTITIES=1000 SPREAD_RATE=2000 IDLE=19000 CONNECT=5000 SECONDS_=12s
    STORM=19000 STORM_ENTITIES=1000
fi

for target in nchan herald; do
    if wants S1; then
        run "S1-fanout-$FAN_A" "$target" --connections "$FAN_A" --entities 1 --rate max --duration "$SECONDS_"
        run "S1-fanout-$FAN_B" "$target" --connections "$FAN_B" --entities 1 --rate max --duration "$SECONDS_"
        run "S1-latency-$LAT" "$target" --connections "$LAT" --entities 1 --rate 20 --duration "$SECONDS_"
        run "S1-latency-$FAN_B" "$target" --connections "$FAN_B" --entities 1 --rate 20 --duration "$SECONDS_"
    fi
    if wants S2; then
        run "S2-spread-$SPREAD" "$target" --connections "$SPREAD" --entities "$SPREAD_ENTITIES" --rate "$SPREAD_RATE" --duration "$SECONDS_"
    fi
    if wants S3; then
        # Past ~14,000 connections to one address:port, Linux's ephemeral-port search slows connect()
        # down; binding the client sockets to several loopback addresses avoids it.
        run "S3-idle-$IDLE" "$target" --connections "$IDLE" --entities 1000 --rate 0 --duration 5s --source-addresses 4
    fi
    if wants S4; then
        run "S4-connect-$CONNECT" "$target" --connections "$CONNECT" --entities 100 --rate 0 --duration 1s --connect-concurrency 500
        run "S4-paced-$CONNECT" "$target" --connections "$CONNECT" --entities 100 --rate 0 --duration 1s --connect-concurrency 500 \
            --connect-rate 1000
    fi
    if wants STORM; then
        # Reconnecting at once: up to 1,000 handshakes in flight (Herald's listen backlog is 4,096, nginx's 511).
        storm "STORM-reconnect-$STORM" "$target" --connections "$STORM" --entities "$STORM_ENTITIES" --rate 0 --duration 1s \
            --source-addresses 4 --connect-concurrency 500
    fi
done

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import glob, json, os, sys

out = sys.argv[1]
results = {}
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name, _, target = os.path.basename(path)[:-5].rpartition("-")
    try:
        with open(path) as handle:
            results.setdefault(name, {})[target] = json.load(handle)
    except (OSError, ValueError):
        results.setdefault(name, {})[target] = None

def get(data, *keys):
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data

def kb(value):
    return None if value is None else value / 1024

# (label, JSON path, conversion, which generator flag can distort it: "publish", "connect" or None)
PUBLISH = "publish"
CONNECT = "connect"
STORM = "storm"
MEASURES = {
    "S1-fanout": [("server CPU µs/delivery ↓", ("deliveries", "serverCpuUsPerDelivery"), None, PUBLISH),
                  ("deliveries/s ↑", ("deliveries", "perSecond"), None, PUBLISH),
                  ("p99 latency ms ↓", ("latencyMs", "p99"), None, PUBLISH)],
    "S1-latency": [("p50 latency ms ↓", ("latencyMs", "p50"), None, PUBLISH),
                   ("p99 latency ms ↓", ("latencyMs", "p99"), None, PUBLISH),
                   ("server CPU µs/delivery ↓", ("deliveries", "serverCpuUsPerDelivery"), None, PUBLISH)],
    "S2-spread": [("server CPU µs/delivery ↓", ("deliveries", "serverCpuUsPerDelivery"), None, PUBLISH),
                  ("p99 latency ms ↓", ("latencyMs", "p99"), None, PUBLISH),
                  ("deliveries/s ↑", ("deliveries", "perSecond"), None, PUBLISH)],
    "S3-idle": [("server RSS KB/connection ↓", ("memory", "serverRssPerConnectionBytes"), kb, None)],
    "S4-connect": [("server CPU µs/connection ↓", ("connect", "serverCpuUsPerConnection"), None, None),
                   ("connections/s ↑", ("connect", "perSecond"), None, CONNECT),
                   ("handshake p50 ms ↓", ("connect", "handshakeMs", "p50"), None, CONNECT),
                   ("handshake p99 ms ↓", ("connect", "handshakeMs", "p99"), None, CONNECT),
                   ("to the 101 p99 ms ↓", ("connect", "upgradeMs", "p99"), None, CONNECT)],
    "S4-paced": [("server CPU µs/connection ↓", ("connect", "serverCpuUsPerConnection"), None, None),
                 ("handshake p50 ms ↓", ("connect", "handshakeMs", "p50"), None, CONNECT),
                 ("handshake p99 ms ↓", ("connect", "handshakeMs", "p99"), None, CONNECT),
                 ("to the 101 p50 ms ↓", ("connect", "upgradeMs", "p50"), None, CONNECT),
                 ("to the 101 p99 ms ↓", ("connect", "upgradeMs", "p99"), None, CONNECT)],
    "STORM-reconnect": [("all resumed s ↓ (Nchan: reconnected)", ("storm", "resumeSeconds"), None, STORM),
              ("all reconnected s ↓", ("storm", "reconnectSeconds"), None, STORM),
              ("resume p99 ms ↓", ("storm", "resumeMs", "p99"), None, STORM),
              ("fresh node CPU µs/client ↓", ("storm", "serverCpuUsPerClient"), None, None),
              ("fresh node CPU s ↓", ("storm", "serverCpuSeconds"), None, None),
              ("losing the node s", ("storm", "lossSeconds"), None, None)],
}

def distorted(data, phase):
    if phase == PUBLISH:
        return bool(get(data, "generator", "publishSaturated") or get(data, "generator", "behindSchedule"))
    if phase == CONNECT:
        return bool(get(data, "generator", "connectSaturated"))
    if phase == STORM:
        return (get(data, "storm", "generatorCpuPercent") or 0) >= 85
    return False

def fmt(value):
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"

def notes_for(name, target, data, phases):
    if data is None:
        return [f"{name} {target}: no result (see {name}-{target}.log)"]
    notes = []
    ready, wanted = get(data, "connect", "ready"), get(data, "config", "connections")
    if ready != wanted:
        notes.append(f"{name} {target}: {ready} of {wanted} connections ready {get(data, 'connect', 'failureReasons')}")
    missing = get(data, "deliveries", "missing") or 0
    if missing:
        notes.append(f"{name} {target}: {missing} deliveries missing of {get(data, 'deliveries', 'expected')}")
    closed = get(data, "deliveries", "closedEarly") or 0
    if closed:
        notes.append(f"{name} {target}: {closed} connections closed early {get(data, 'deliveries', 'closeCodes')}")
    errors = (get(data, "publish", "failed") or 0) + (get(data, "publish", "errors") or 0)
    if errors:
        notes.append(f"{name} {target}: {errors} publishes failed {get(data, 'publish', 'statuses')}")
    if PUBLISH in phases and distorted(data, PUBLISH):
        notes.append(f"{name} {target}: generator at {get(data, 'generator', 'publishCpuPercent')}% CPU while publishing"
                     + (" and behind schedule" if get(data, "generator", "behindSchedule") else ""))
    if CONNECT in phases and distorted(data, CONNECT):
        notes.append(f"{name} {target}: generator at {get(data, 'generator', 'connectCpuPercent')}% CPU while connecting")
    storm = get(data, "storm")
    if STORM in phases and storm is not None:
        if not storm.get("complete") and target == "herald":
            notes.append(f"{name} {target}: not every client resumed with every missed event once: {storm.get('resumed')} of "
                         f"{storm.get('clients')} resumed, events {storm.get('events')}, not recovered {storm.get('notRecovered')}, "
                         f"failures {storm.get('failureReasons')}")
        elif storm.get("resumed") != storm.get("clients") or storm.get("lost") != storm.get("clients"):
            notes.append(f"{name} {target}: {storm.get('lost')} of {storm.get('clients')} clients lost their node, "
                         f"{storm.get('resumed')} reconnected {storm.get('failureReasons')}")
        else:
            notes.append(f"{name} {target}: {storm.get('clients')} clients, losses {storm.get('lossCodes')}"
                         + (f", {storm['events']['received']} missed events received, each once, in order"
                            if target == "herald" else ""))
        if distorted(data, STORM):
            notes.append(f"{name} {target}: generator at {storm.get('generatorCpuPercent')}% CPU while reconnecting")
    try:
        with open(os.path.join(out, f"{name}-{target}.net")) as handle:
            drops, retransmits, probes = (int(field) for field in handle.read().split())
        traffic = (get(data, "deliveries", "received") or 0) + (get(data, "connect", "ready") or 0)
        if drops or retransmits > 0.01 * traffic:
            notes.append(f"{name} {target}: {drops} loopback packets dropped, {retransmits} TCP segments retransmitted, "
                         f"{probes} of them tail-loss probes (machine-wide, during the run): latency outliers may be "
                         "retransmissions; a probe answers a delayed ACK and delays no one")
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(out, f"{name}-{target}.slices")) as handle:
            count, p50, p90, p99, longest = handle.read().split()
        notes.append(f"{name} {target}: the server ran {count} times on core 0, for p50 {p50}, p90 {p90}, p99 {p99}, "
                     f"max {longest} ms each (perf sched)")
    except (OSError, ValueError):
        pass
    return notes

print("| scenario | measure | Nchan | Herald | Herald/Nchan |")
print("|---|---|---:|---:|---:|")
notes = []
for name in sorted(results, key=lambda n: (n.split("-")[0], n)):
    kind = "-".join(name.split("-")[:2])
    pair = results[name]
    measures = MEASURES.get(kind, [])
    phases = {phase for *_, phase in measures}
    for target in ("nchan", "herald"):
        notes += notes_for(name, target, pair.get(target), phases) if target in pair else [f"{name} {target}: not run"]
    for label, keys, convert, phase in measures:
        cells = []
        for target in ("nchan", "herald"):
            data = pair.get(target)
            value = get(data, *keys)
            if value is not None and convert:
                value = convert(value)
            cells.append((value, " ⚠" if distorted(data, phase) else ""))
        (nchan, nflag), (herald, hflag) = cells
        ratio = f"{herald / nchan:.2f}" if nchan and herald is not None else "–"
        print(f"| {name} | {label} | {fmt(nchan)}{nflag} | {fmt(herald)}{hflag} | {ratio} |")
print()
print("↓ lower is better, ↑ higher is better. ⚠ the load generator (one core) was at ≥ 85% CPU or behind")
print("its publish schedule in that phase, so that figure may measure the generator rather than the server")
print("(server CPU per delivery is still read from the server's /proc, but at less load than the server could take).")
if notes:
    print()
    print("Notes:")
    for note in notes:
        print(f"- {note}")
PY
log "raw results: $OUT"
