#!/usr/bin/env bash
# Record-proxy benchmark: replayd record vs socat vs haproxy (and no proxy), in one run, on loopback.
#
# Usage: bench/proxy.sh [--rounds N] [--seconds S] [--count N]
# SCRATCH_PATH=DIR builds into DIR (default .build-release, which leaves a debug .build alone).
#
# Workloads, each through every proxy, the proxies interleaved round by round:
#   iperf-up    iperf3 -c ... -t S        bulk, client to server
#   iperf-down  iperf3 -c ... -t S -R     bulk, server to client
#   rr          bench/tcp-rr.py client    N sequential connect / send 100 B / receive 100 B / close
# Each proxy is started fresh for every workload and round, under /usr/bin/time (peak RSS, CPU
# seconds); just before it is stopped, bench/proc-sample.py reads its VmHWM and CPU per thread.
# Rows: direct (no proxy), socat, haproxy, replayd (cassette in bench/out), replayd-null (the
# cassette is a null character device: all the encoding, none of the disk).
# Once (round 1), both replayd rows also run iperf3 paced at PACED_RATES (default "2G 4G 8G", -b):
# the rate up to which replayd records every byte (above it, the recorder drops data and writes gaps).
# Writes bench/out/proxy-runs.jsonl (one line per run) and bench/out/proxy-results.md.
# Every wait is bounded; defaults (2 rounds, 5 s, 2000 connections) take about 3 minutes.
# Subsets and variants (environment): PROXY_LIST="direct replayd" runs only those rows,
# WORKLOAD_LIST="iperf-up iperf-down" only those workloads (PACED_RATES="" for no paced runs),
# REPLAYD_FLAGS=--lossless adds flags to every replayd command, e.g. the lossless bulk rows:
#   PROXY_LIST="direct replayd replayd-null" WORKLOAD_LIST="iperf-up iperf-down" PACED_RATES="" REPLAYD_FLAGS=--lossless bench/proxy.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=2
SECONDS_PER_TEST=5
COUNT=2000
PACED_RATES=${PACED_RATES-2G 4G 8G}
read -r -a EXTRA_REPLAYD_FLAGS <<< "${REPLAYD_FLAGS:-}"
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --seconds) SECONDS_PER_TEST=$2; shift 2 ;;
        --count) COUNT=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--seconds S] [--count N]" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT"
for tool in socat haproxy iperf3 python3 ss /usr/bin/time; do
    command -v $tool > /dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

echo "== building replayd (release)" >&2
SCRATCH_PATH=${SCRATCH_PATH:-.build-release}
timeout 1800 swift build -c release --scratch-path "$SCRATCH_PATH" --product replayd >&2
REPLAYD=$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)/replayd

# Ports: the first free block of 8 from 24000 (below the ephemeral range, so no client takes them).
port_free() { [ -z "$(ss -Htan "( sport = :$1 )")" ]; }
BASE=24000
while [ $BASE -lt 24400 ]; do
    ok=1
    for i in 0 1 2 3 4 5 6 7; do port_free $((BASE + i)) || { ok=0; break; }; done
    [ $ok = 1 ] && break
    BASE=$((BASE + 8))
done
IPERF_PORT=$BASE
RR_PORT=$((BASE + 1))
PROXY_PORT=$((BASE + 2))

wait_listening() {  # port seconds: bounded poll until something listens on 127.0.0.1:port
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ -n "$(ss -Hltn "( sport = :$1 )")" ] && return 0
        sleep 0.05
    done
    echo "bench: nothing listens on port $1 after $2 s" >&2
    return 1
}

# Only processes this script started and that are still running: the two servers, and the proxy
# of the moment if the script stops half-way (stop_proxy clears it once the proxy has exited).
SERVER_PIDS=()
PROXY_TIME_PID=""
PROXY_PID=""
cleanup() {
    [ -n "$PROXY_PID" ] && { kill -TERM "$PROXY_PID" 2> /dev/null || true; }
    [ -n "$PROXY_TIME_PID" ] && { wait "$PROXY_TIME_PID" 2> /dev/null || true; }
    for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    rm -f "$OUT"/iperf-*.cassette "$OUT"/rr-*.cassette "$OUT"/*.cassette.partial
}
trap cleanup EXIT

echo "== servers: iperf3 on 127.0.0.1:$IPERF_PORT, echo (bench/tcp-rr.py) on 127.0.0.1:$RR_PORT" >&2
iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" > "$OUT/iperf3-server.log" 2>&1 &
SERVER_PIDS+=($!)
python3 bench/tcp-rr.py serve "$RR_PORT" 2> "$OUT/rr-server.log" &
SERVER_PIDS+=($!)
wait_listening "$IPERF_PORT" 10
wait_listening "$RR_PORT" 10

# The null-device cassette: replayd writes OUTPUT.partial and renames it to OUTPUT once it
# listens, so the .partial is made a null device (mknod, so /dev/null itself is never touched:
# `-o /dev/null` would create /dev/null.partial and rename it over /dev/null).
NULL_OK=1
rm -f "$OUT/null-probe"
if ! mknod "$OUT/null-probe" c 1 3 2> /dev/null; then
    echo "bench: cannot mknod a null device in $OUT (needs root and a filesystem without nodev); no replayd-null row" >&2
    NULL_OK=0
fi
rm -f "$OUT/null-probe"

HAPROXY_CONFIG=$OUT/haproxy.cfg
PROXIES=(direct socat haproxy replayd)
[ $NULL_OK = 1 ] && PROXIES+=(replayd-null)
if [ -n "${PROXY_LIST:-}" ]; then
    read -r -a WANTED <<< "$PROXY_LIST"
    SELECTED=()
    for name in "${PROXIES[@]}"; do [[ " ${WANTED[*]} " == *" $name "* ]] && SELECTED+=("$name"); done
    PROXIES=("${SELECTED[@]}")
fi

# start_proxy name upstream-port label: starts it on $PROXY_PORT under /usr/bin/time.
start_proxy() {
    local name=$1 upstream=$2 label=$3
    PROXY_TIME_PID=""
    PROXY_PID=""
    rm -f "$OUT/$label.time"
    local command=()
    case $name in
        direct) return 0 ;;
        socat) command=(socat "TCP-LISTEN:$PROXY_PORT,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$upstream") ;;
        haproxy)
            cat > "$HAPROXY_CONFIG" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend bench
    bind 127.0.0.1:$PROXY_PORT
    default_backend upstream
backend upstream
    server s1 127.0.0.1:$upstream
EOF
            command=(haproxy -db -f "$HAPROXY_CONFIG") ;;
        replayd)
            rm -f "$OUT/$label.cassette" "$OUT/$label.cassette.partial"
            command=("$REPLAYD" record --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$upstream" -o "$OUT/$label.cassette" --quiet ${EXTRA_REPLAYD_FLAGS[@]+"${EXTRA_REPLAYD_FLAGS[@]}"}) ;;
        replayd-null)
            rm -f "$OUT/$label.cassette" "$OUT/$label.cassette.partial"
            mknod "$OUT/$label.cassette.partial" c 1 3
            command=("$REPLAYD" record --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$upstream" -o "$OUT/$label.cassette" --quiet ${EXTRA_REPLAYD_FLAGS[@]+"${EXTRA_REPLAYD_FLAGS[@]}"}) ;;
    esac
    echo "${command[*]//$ROOT\//}" > "$OUT/$name.cmd"
    /usr/bin/time -o "$OUT/$label.time" -f "%M %U %S %e" "${command[@]}" > "$OUT/$label.stdout" 2> "$OUT/$label.stderr" &
    PROXY_TIME_PID=$!
    wait_listening "$PROXY_PORT" 20
    PROXY_PID=$(cat "/proc/$PROXY_TIME_PID/task/$PROXY_TIME_PID/children" | awk '{print $1}')
}

# stop_proxy label: samples the proxy, stops it (SIGINT: replayd flushes and closes its cassette)
# and waits for it, at most 120 s; writes $OUT/$label.sample and .stop (seconds from signal to exit).
stop_proxy() {
    local label=$1
    [ -z "$PROXY_TIME_PID" ] && return 0
    python3 bench/proc-sample.py "$PROXY_PID" > "$OUT/$label.sample"
    local began
    began=$(date +%s%N)
    # replayd stops on SIGINT or SIGTERM; haproxy -db ignores SIGINT and stops at once on SIGTERM.
    local signal=TERM
    [[ $label == *replayd* ]] && signal=INT
    kill -$signal "$PROXY_PID" 2> /dev/null || true
    local deadline=$((SECONDS + 120))
    while kill -0 "$PROXY_TIME_PID" 2> /dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    if kill -0 "$PROXY_TIME_PID" 2> /dev/null; then
        echo "bench: $label did not stop within 120 s of SIG$signal; killing it" >&2
        kill -KILL "$PROXY_PID" 2> /dev/null || true
    fi
    wait "$PROXY_TIME_PID" 2> /dev/null || true
    PROXY_TIME_PID=""
    PROXY_PID=""
    echo $(( $(date +%s%N) - began )) | awk '{printf "%.3f\n", $1 / 1e9}' > "$OUT/$label.stop"
    # Let the kernel forget the proxy's port before the next one binds it.
    local free_by=$((SECONDS + 10))
    while ! [ -z "$(ss -Hltn "( sport = :$PROXY_PORT )")" ] && [ $SECONDS -lt $free_by ]; do sleep 0.05; done
}

# cassette_facts label: size, data and gap events of a replayd cassette, then removes it.
cassette_facts() {
    local label=$1 file=$OUT/$1.cassette
    if [ -c "$file" ]; then
        echo '{"cassette_bytes": null, "device": true}'
    elif [ -f "$file" ]; then
        local size gaps
        size=$(stat -c %s "$file")
        gaps=$(grep -c '"ev":"gap"' "$file" || true)
        echo "{\"cassette_bytes\": $size, \"gap_events\": $gaps}"
    else
        echo '{"cassette_bytes": null, "missing": true}'
    fi
    rm -f "$file" "$file.partial"
}

RUNS=$OUT/proxy-runs.jsonl
: > "$RUNS"
# record_run workload proxy round label result-file
record_run() {
    local workload=$1 name=$2 round=$3 label=$4 result=$5 cassette='{}'
    [[ $name == replayd* ]] && cassette=$(cassette_facts "$label")
    python3 - "$workload" "$name" "$round" "$OUT/$label" "$result" "$cassette" >> "$RUNS" <<'PY'
import json, os, sys
workload, name, round_, base, result_file, cassette = sys.argv[1:7]
row = {"workload": workload, "proxy": name, "round": int(round_)}
def load(path):
    try:
        return open(path).read().strip()
    except FileNotFoundError:
        return ""
result = load(result_file)
if workload.startswith(("iperf", "paced")):
    try:
        data = json.loads(result)
        end = data["end"]
        row["gbps"] = end["sum_received"]["bits_per_second"] / 1e9
        row["bytes"] = end["sum_received"]["bytes"]
        row["retransmits"] = end.get("sum_sent", {}).get("retransmits")
        if "error" in data:
            row["error"] = data["error"]
    except (ValueError, KeyError) as error:
        row["error"] = f"iperf3 gave no result: {error!r}: {result[:200]}"
else:
    try:
        row.update(json.loads(result))
    except ValueError:
        row["error"] = f"tcp-rr gave no result: {result[:200]}"
timing = load(base + ".time").split()
# GNU time prints "Command exited with non-zero status N" first when the exit status is not 0.
numbers = [t for t in timing if t.replace(".", "", 1).isdigit()]
if len(numbers) >= 4:
    row["peak_rss_kb"] = int(numbers[-4])
    row["cpu_s"] = float(numbers[-3]) + float(numbers[-2])
sample = load(base + ".sample")
if sample:
    row["sample"] = json.loads(sample)
stop = load(base + ".stop")
if stop:
    row["stop_s"] = float(stop)
stderr = load(base + ".stderr")
# replayd says at exit what the writer could not keep up with (the cassette has gap events there):
# "the cassette is incomplete: N data event(s), B bytes, were dropped because the writer fell behind".
import re
dropped = re.search(r"(\d+) data event\(s\), (\d+) bytes, were dropped", stderr)
if name.startswith("replayd"):
    row["dropped_bytes"] = int(dropped.group(2)) if dropped else 0
if stderr:
    row["stderr"] = stderr[-400:]
row.update(json.loads(cassette))
print(json.dumps(row))
PY
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    WORKLOADS=(iperf-up iperf-down rr)
    [ -n "${WORKLOAD_LIST:-}" ] && read -r -a WORKLOADS <<< "$WORKLOAD_LIST"
    # Once: replayd with iperf3 paced (-b), to find the rate up to which it records every byte.
    [ "$round" = 1 ] && for rate in $PACED_RATES; do WORKLOADS+=("paced-$rate"); done
    for workload in "${WORKLOADS[@]}"; do
        for name in "${PROXIES[@]}"; do
            [[ $workload == paced-* && $name != replayd* ]] && continue
            label=$workload-$name
            upstream=$IPERF_PORT
            [ $workload = rr ] && upstream=$RR_PORT
            port=$PROXY_PORT
            [ $name = direct ] && port=$upstream
            start_proxy "$name" "$upstream" "$label"
            echo "== round $round: $workload through $name" >&2
            result=$OUT/$label.result
            case $workload in
                iperf-up) timeout $((SECONDS_PER_TEST + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$SECONDS_PER_TEST" -J > "$result" || true ;;
                iperf-down) timeout $((SECONDS_PER_TEST + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$SECONDS_PER_TEST" -R -J > "$result" || true ;;
                paced-*) timeout $((SECONDS_PER_TEST + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$SECONDS_PER_TEST" -b "${workload#paced-}" -J > "$result" || true ;;
                rr) timeout 90 python3 bench/tcp-rr.py client "$port" --count "$COUNT" --deadline 60 --label "$name" > "$result" || true ;;
            esac
            stop_proxy "$label"
            record_run "$workload" "$name" "$round" "$label" "$result"
            tail -1 "$RUNS" | cut -c1-240 >&2
        done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 bench/proxy-report.py "$RUNS" "$OUT/proxy-results.md" \
    --load "$LOAD_BEFORE" "$LOAD_AFTER" --rounds "$ROUNDS" --seconds "$SECONDS_PER_TEST" --count "$COUNT" \
    --commands "$OUT" --versions "$("$REPLAYD" --version 2>&1 | head -1); $(socat -V | sed -n 2p | cut -d' ' -f1-3); $(haproxy -v | head -1 | cut -d' ' -f1-3); $(iperf3 --version | head -1 | cut -d' ' -f1-2)"
