#!/usr/bin/env bash
# Profiles one Herald scenario with callgrind (instructions, independent of machine load) or perf
# (CPU samples, kernel included): a release `herald serve` on core 0, `herald bench` on core 1,
# collection only while the scenario's work runs, then the top frames.
#   connect   S4: 5,000 connections (HS256 token, subscribe, ack), 500 handshakes in flight
#             (callgrind: 500, 10 in flight)                                       → per connection
#   paced     S4-paced: the same 5,000 at 1,000 a second (perf only)               → per connection
#   latency   S1 at 20/s: 5,000 subscribers of one entity, 20 publishes/s (perf only) → per delivery
#   publish   S2: 10,000 connections over 1,000 entities, 2,000 publishes/s (callgrind: 1,000
#             over 100, closed loop)                                               → per publish
# Usage: bash scripts/profile-herald.sh connect|paced|latency|publish callgrind|perf [OUT_DIR]
# callgrind: the server runs under valgrind (about 50× slower): figures are instruction counts
# (Ir), not time. perf: `perf record -e cpu-clock -g` on the server at full speed (this VM has no
# hardware counters), so its shares move with the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${1:?connect or publish}"
TOOL="${2:?callgrind or perf}"
OUT="${3:-/tmp/herald-profile-$SCENARIO-$TOOL-$(date +%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
HERALD="${HERALD_BIN:-$(swift build -c release --product herald --show-bin-path)/herald}"
[[ -x "$HERALD" ]] || { echo "build first: swift build -c release --product herald" >&2; exit 1; }
SERVER_BIN="$HERALD"
if [[ "$TOOL" == callgrind ]]; then
    # Valgrind 3.19 cannot read Swift 6's DWARF 5: profile a copy without debug info (symbols stay).
    SERVER_BIN="$OUT/herald-nodebug"
    objcopy --strip-debug "$HERALD" "$SERVER_BIN"
fi
SECRET=profile-secret-0123456789abcdef-0123456789abcdef
KEY=profile-publish-key
SERVER=""
BENCH=""
cleanup() {
    [[ -n "$BENCH" ]] && kill "$BENCH" 2>/dev/null || true
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

serve=(serve --host 127.0.0.1 --port 0 --jwt-secret "$SECRET" --publish-key "$KEY" --log-level warning)
if [[ "$TOOL" == callgrind ]]; then
    taskset -c 0 valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
        "$SERVER_BIN" "${serve[@]}" >"$OUT/server.out" 2>"$OUT/server.err" &
else
    taskset -c 0 "$HERALD" "${serve[@]}" >"$OUT/server.out" 2>"$OUT/server.err" &
fi
SERVER=$!
port=""
for _ in $(seq 1 600); do
    port="$(sed -n 's|^listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$OUT/server.out" | head -1)"
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || { echo "the server did not start: $(tail -3 "$OUT/server.err")" >&2; exit 1; }

# Under valgrind, fewer and slower; with perf, S4 and S2 of scripts/bench-vs-nchan.sh.
case "$SCENARIO-$TOOL" in
    connect-callgrind) args=(--connections 500 --entities 100 --rate 0 --duration 30s --connect-concurrency 10) ;;
    publish-callgrind) args=(--connections 1000 --entities 100 --rate max --window 4 --duration 10s --connect-concurrency 10) ;;
    connect-perf) args=(--connections 5000 --entities 100 --rate 0 --duration 1s --connect-concurrency 500) ;;
    paced-perf) args=(--connections 5000 --entities 100 --rate 0 --duration 1s --connect-concurrency 500 --connect-rate 1000) ;;
    latency-perf) args=(--connections 5000 --entities 1 --rate 20 --duration 12s) ;;
    publish-perf) args=(--connections 10000 --entities 1000 --rate 2000 --duration 12s --source-addresses 4) ;;
    *) echo "unknown scenario $SCENARIO or tool $TOOL" >&2; exit 2 ;;
esac
start() {
    if [[ "$TOOL" == callgrind ]]; then callgrind_control -i on "$SERVER" >/dev/null
    else perf record -e cpu-clock -g -o "$OUT/perf.data" -p "$SERVER" 2>"$OUT/perf.err" & PERF=$!; fi
}
stop() {
    if [[ "$TOOL" == callgrind ]]; then callgrind_control -d "$SERVER" >/dev/null; callgrind_control -i off "$SERVER" >/dev/null
    else kill -INT "$PERF"; wait "$PERF" || true; fi
}
# connect, paced: collect during the connect phase; publish, latency: once connected, during the publish phase.
[[ "$SCENARIO" == connect || "$SCENARIO" == paced ]] && start
taskset -c 1 "$HERALD" bench --url "http://127.0.0.1:$port" --jwt-secret "$SECRET" --publish-key "$KEY" --threads 1 --server-pid "$SERVER" \
    --json "${args[@]}" >"$OUT/bench.json" 2>"$OUT/bench.err" &
BENCH=$!
until grep -q "ready in" "$OUT/bench.err" 2>/dev/null; do sleep 0.2; kill -0 "$BENCH" 2>/dev/null || break; done
if [[ "$SCENARIO" == connect || "$SCENARIO" == paced ]]; then
    stop
else
    start
    until grep -q "closing" "$OUT/bench.err" 2>/dev/null; do sleep 0.2; kill -0 "$BENCH" 2>/dev/null || break; done
    stop
fi
wait "$BENCH" || true
BENCH=""
grep "ready in" "$OUT/bench.err" || true
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["connect"]; print("connections ready", c["ready"], "· server CPU µs/connection", c["serverCpuUsPerConnection"], "· publishes sent", d["publish"]["sent"], "· deliveries", d["deliveries"]["received"], "· server CPU µs/delivery", d["deliveries"]["serverCpuUsPerDelivery"], "· p99 ms", d["latencyMs"]["p99"])' "$OUT/bench.json" | tee "$OUT/figures.txt" || true
if [[ "$TOOL" == callgrind ]]; then
    file="$(ls -t "$OUT"/callgrind.out* | head -1)"
    callgrind_annotate --inclusive=yes "$file" 2>/dev/null | swift demangle --simplified | head -80 >"$OUT/inclusive.txt"
    callgrind_annotate "$file" 2>/dev/null | swift demangle --simplified | head -80 >"$OUT/self.txt"
    echo "totals and top frames: $OUT/inclusive.txt, $OUT/self.txt"
else
    perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -v "^$" | swift demangle --simplified | head -80 >"$OUT/self.txt"
    perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v "^$" | swift demangle --simplified | head -80 >"$OUT/inclusive.txt"
    echo "top frames: $OUT/self.txt, $OUT/inclusive.txt"
fi
