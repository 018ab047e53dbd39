#!/usr/bin/env bash
# Replay benchmarks (issue 6): replayd replay against Postfix's smtp-sink, the cost of choosing
# among many recorded sessions, and timing fidelity. Loopback only, one run side by side.
#
# Usage: bench/replay.sh [--rounds N] [--messages N] [--record N] [--parts "1 2 3"]
# SCRATCH_PATH=DIR builds into DIR (default .build-release, which leaves a debug .build alone).
#
# Part 1, sessions per second: smtp-source -s 50 -m MESSAGES (default 10000; one message per
#   session) against (a) smtp-sink itself, (b) replayd replay --match similar --no-delay --quiet
#   of a cassette recorded from smtp-source talking to smtp-sink through replayd record (RECORD
#   sessions, default 100, one at a time), (c) the same with --match bytes (--loop: 100 recorded sessions serve
#   10000 connections in accept order). Rows interleaved round by round, the order turning each round (default 3 rounds), each
#   server started fresh on its own port. Then one more similar and one bytes run under
#   `perf record -e cpu-clock -g` (PERF=0 skips them), and a check run with --report.
# Part 2, choosing cost: cassettes of SIZES (default "10 1000 100000") generated SMTP sessions
#   (bench/make-cassette.py smtp, cached in bench/out), each replayed with --match similar
#   --no-delay --quiet; bench/smtp-replay-client.py plays CONNECTIONS (default 2000) recorded
#   sessions picked at random, checking every reply. Startup time (launch to "listening on"),
#   peak RSS, replay CPU per client round trip and the client's round-trip latency.
# Part 3, timing fidelity: bench/make-cassette.py timing (200 delays log-uniform 1-500 ms, seed
#   20261122, 12.99 s in all), "chunks" (one request, 200 timed chunks) and "steps" (200 timed
#   request/reply steps), replayed with the default --match similar (and --match bytes, unless
#   TIMING_MODES="similar"); bench/timing-fidelity.py measures each delay.
# Writes bench/out/replay-runs.jsonl (one line per run) and bench/out/replay-results.md
# (bench/replay-report.py). Every wait is bounded; defaults take about 6 minutes here.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=3
MESSAGES=10000
RECORD=100
PARTS="1 2 3"
SIZES=${SIZES:-10 1000 100000}
CONNECTIONS=${CONNECTIONS:-2000}
TIMING_MODES=${TIMING_MODES:-similar bytes}
PERF=${PERF:-1}
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --messages) MESSAGES=$2; shift 2 ;;
        --record) RECORD=$2; shift 2 ;;
        --parts) PARTS=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--messages N] [--record N] [--parts \"1 2 3\"]" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT"

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
if ! command -v smtp-sink > /dev/null && [ ! -x /usr/sbin/smtp-sink ]; then
    echo "installing postfix (smtp-sink, smtp-source)" >&2
    timeout 600 env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y postfix >&2
fi
export PATH=$PATH:/usr/sbin
for tool in smtp-sink smtp-source python3 ss /usr/bin/time; do
    command -v $tool > /dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
if [ "$PERF" = 1 ] && ! command -v perf > /dev/null; then
    echo "bench: perf is not installed (apt-get install -y linux-perf); no profiles" >&2
    PERF=0
fi

echo "== building replayd (release)" >&2
SCRATCH_PATH=${SCRATCH_PATH:-.build-release}
timeout 2400 swift build -c release --scratch-path "$SCRATCH_PATH" --product replayd >&2
REPLAYD=$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)/replayd
"$REPLAYD" replay --help 2>&1 | grep -- "--match" > /dev/null || { echo "bench: this replayd has no replay --match" >&2; exit 1; }

# Ports: the first free block of 64 from 25000; every server run takes the next one, so no run
# meets the TIME_WAIT connections of the one before.
port_free() { [ -z "$(ss -Htan "( sport = :$1 )")" ]; }
BASE=25000
while [ $BASE -lt 26000 ]; do
    ok=1
    for i in $(seq 0 63); do port_free $((BASE + i)) || { ok=0; break; }; done
    [ $ok = 1 ] && break
    BASE=$((BASE + 64))
done
NEXT_PORT=$BASE
take_port() { PORT=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1)); [ $PORT -lt $((BASE + 64)) ] || { echo "bench: out of ports" >&2; exit 1; }; }

wait_listening() {  # port seconds: bounded poll until something listens on 127.0.0.1:port
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ -n "$(ss -Hltn "( sport = :$1 )")" ] && return 0
        sleep 0.01
    done
    echo "bench: nothing listens on port $1 after $2 s" >&2
    return 1
}

# Only processes this script started: the server of the moment (under /usr/bin/time) and perf.
SERVER_PID=""
SERVER_TIME_PID=""
PERF_PID=""
cleanup() {
    [ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2> /dev/null || true; wait "$PERF_PID" 2> /dev/null || true; }
    [ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID" 2> /dev/null || true; }
    [ -n "$SERVER_TIME_PID" ] && { wait "$SERVER_TIME_PID" 2> /dev/null || true; }
    rm -f "$OUT"/*.cassette.partial
}
trap cleanup EXIT

# start_server label command...: starts it under /usr/bin/time; SERVER_PID is the server itself.
start_server() {
    local label=$1
    shift
    rm -f "$OUT/$label.time"
    echo "${*//$ROOT\//}" > "$OUT/$label.cmd"
    STARTED_NS=$(date +%s%N)
    /usr/bin/time -o "$OUT/$label.time" -f "%M %U %S %e" "$@" > "$OUT/$label.stdout" 2> "$OUT/$label.stderr" &
    SERVER_TIME_PID=$!
    local deadline=$((SECONDS + 5))
    SERVER_PID=""
    while [ -z "$SERVER_PID" ] && [ $SECONDS -lt $deadline ]; do
        SERVER_PID=$(cat "/proc/$SERVER_TIME_PID/task/$SERVER_TIME_PID/children" 2> /dev/null | awk '{print $1}')
        [ -z "$SERVER_PID" ] && sleep 0.01
    done
    [ -n "$SERVER_PID" ] || { echo "bench: $label did not start" >&2; return 1; }
}

# stop_server label: SIGTERM, bounded wait (60 s), then SIGKILL.
stop_server() {
    local label=$1
    [ -z "$SERVER_TIME_PID" ] && return 0
    kill -TERM "$SERVER_PID" 2> /dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$SERVER_TIME_PID" 2> /dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
    if kill -0 "$SERVER_TIME_PID" 2> /dev/null; then
        echo "bench: $label did not stop within 60 s of SIGTERM; killing it" >&2
        kill -KILL "$SERVER_PID" 2> /dev/null || true
    fi
    wait "$SERVER_TIME_PID" 2> /dev/null || true
    SERVER_TIME_PID=""
    SERVER_PID=""
}

RUNS=$OUT/replay-runs.jsonl
: > "$RUNS"
# row json...: appends one JSON object (python merges the objects given).
row() {
    python3 -c 'import json, sys
merged = {}
for text in sys.argv[1:]:
    merged.update(json.loads(text) if text.strip() else {})
print(json.dumps(merged))' "$@" >> "$RUNS"
    tail -1 "$RUNS" | cut -c1-300 >&2
}

proc_cpu() {  # pid -> CPU seconds (user+system) of the whole process, exited threads included
    awk -v ticks="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / ticks}' "/proc/$1/stat" 2> /dev/null || echo null
}

time_facts() {  # label -> {"peak_rss_kb":..,"cpu_s":..} from /usr/bin/time
    local numbers
    numbers=$(grep -oE '^[0-9]+ [0-9.]+ [0-9.]+ [0-9.:]+$' "$OUT/$1.time" 2> /dev/null | tail -1 || true)
    [ -z "$numbers" ] && { echo '{}'; return; }
    echo "$numbers" | awk '{printf "{\"peak_rss_kb\": %d, \"cpu_s\": %.2f}\n", $1, $2 + $3}'
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Part 1: sessions per second against smtp-sink.
# ---------------------------------------------------------------------------------------------
part1() {
    local cassette=$OUT/smtp-sink.cassette
    echo "== part 1: recording $RECORD smtp-source sessions through replayd record" >&2
    take_port; local sink_port=$PORT
    take_port; local record_port=$PORT
    start_server record-sink smtp-sink -u nobody "127.0.0.1:$sink_port" 256
    local sink_time_pid=$SERVER_TIME_PID sink_pid=$SERVER_PID
    wait_listening "$sink_port" 10
    rm -f "$cassette"
    start_server record "$REPLAYD" record --listen "127.0.0.1:$record_port" --upstream "127.0.0.1:$sink_port" -o "$cassette" --quiet
    wait_listening "$record_port" 20
    # One session at a time: with -s N, smtp-source's last N-1 messages carry a longer Message-Id
    # (its counter goes below zero, printed as 8 hex digits), and --match bytes would wait forever
    # for bytes a live client with a short id never sends.
    timeout 60 smtp-source -s 1 -m "$RECORD" "127.0.0.1:$record_port" > "$OUT/record-source.log" 2>&1 \
        || { echo "bench: smtp-source failed while recording: $(tail -3 "$OUT/record-source.log")" >&2; exit 1; }
    kill -INT "$SERVER_PID"
    local deadline=$((SECONDS + 30))
    while kill -0 "$SERVER_TIME_PID" 2> /dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
    wait "$SERVER_TIME_PID" 2> /dev/null || true
    SERVER_PID=$sink_pid SERVER_TIME_PID=$sink_time_pid
    stop_server record-sink
    local recorded
    recorded=$(grep -c '"ev":"open"' "$cassette" || true)
    echo "recorded $recorded sessions, $(grep -c '"ev":"data"' "$cassette" || true) data events" >&2
    [ "$recorded" = "$RECORD" ] || { echo "bench: expected $RECORD sessions in $cassette" >&2; exit 1; }
    row '{"part": 1, "row": "recording"}' "{\"sessions\": $recorded, \"cassette_bytes\": $(stat -c %s "$cassette"), \"distinct_server_chunks\": $(grep '"dir":"s2c"' "$cassette" | sed 's/.*"dir":"s2c",//' | sort -u | wc -l), \"distinct_client_chunks\": $(grep '"dir":"c2s"' "$cassette" | sed 's/.*"dir":"c2s",//' | sort -u | wc -l)}"

    # The order turns each round (sink, similar, bytes; then similar, bytes, sink; ...): on this
    # VM a run's place in the round moved its result by several per cent (the same binary in
    # three places of one round), so no row may always run first.
    local order=(smtp-sink similar bytes)
    for round in $(seq "$ROUNDS"); do
        for slot in 0 1 2; do
            local name=${order[$(( (slot + round - 1) % 3 ))]}
            take_port
            local label=p1-$name-$round
            case $name in
                smtp-sink) start_server "$label" smtp-sink -u nobody "127.0.0.1:$PORT" 256 ;;
                similar) start_server "$label" "$REPLAYD" replay "$cassette" --listen "127.0.0.1:$PORT" --match similar --no-delay --quiet ;;
                bytes) start_server "$label" "$REPLAYD" replay "$cassette" --listen "127.0.0.1:$PORT" --match bytes --loop --no-delay --quiet ;;
            esac
            wait_listening "$PORT" 30
            echo "== round $round: smtp-source -s 50 -m $MESSAGES against $name" >&2
            local began ended rc=0
            began=$(date +%s%N)
            timeout 300 /usr/bin/time -o "$OUT/$label.source-time" -f "%U %S" smtp-source -s 50 -m "$MESSAGES" "127.0.0.1:$PORT" > "$OUT/$label.source" 2>&1 || rc=$?
            ended=$(date +%s%N)
            local sample source_cpu
            sample=$(python3 bench/proc-sample.py "$SERVER_PID")
            source_cpu=$(tail -1 "$OUT/$label.source-time" | awk 'NF == 2 {printf "%.2f", $1 + $2; exit} {print "null"}')
            stop_server "$label"
            row "{\"part\": 1, \"row\": \"$name\", \"round\": $round, \"messages\": $MESSAGES, \"source_rc\": $rc, \"source_cpu_s\": ${source_cpu:-null}}" \
                "{\"elapsed_s\": $(( (ended - began) / 1000 ))e-6, \"source_tail\": $(tail -c 200 "$OUT/$label.source" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}" \
                "{\"sample\": $sample}" "$(time_facts "$label")"
        done
    done

    echo "== part 1: check run (--report) and profiles" >&2
    take_port
    start_server p1-check "$REPLAYD" replay "$cassette" --listen "127.0.0.1:$PORT" --match similar --no-delay --quiet --report "$OUT/p1-check.json"
    wait_listening "$PORT" 30
    local rc=0
    timeout 120 smtp-source -s 50 -m 1000 "127.0.0.1:$PORT" > "$OUT/p1-check.source" 2>&1 || rc=$?
    stop_server p1-check
    row '{"part": 1, "row": "check"}' "$(python3 - "$OUT/p1-check.json" "$rc" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
connections = report["connections"]
steps = [s for c in connections for s in c["steps"]]
levels = {}
for s in steps:
    levels[s.get("level", s["result"])] = levels.get(s.get("level", s["result"]), 0) + 1
print(json.dumps({"source_rc": int(sys.argv[2]), "connections": len(connections), "client_messages": len(steps),
                  "matched": sum(1 for s in steps if s["result"] == "matched"),
                  "mismatches": sum(len(c["mismatches"]) if isinstance(c["mismatches"], list) else c["mismatches"] for c in connections), "levels": levels,
                  "sessions_followed": len({c.get("session") for c in connections}), "unused": len(report["unused"])}))
PY
)"

    if [ "$PERF" = 1 ]; then
        for name in similar bytes; do
            take_port
            local label=p1-perf-$name flags=(--match similar)
            [ $name = bytes ] && flags=(--match bytes --loop)
            start_server "$label" "$REPLAYD" replay "$cassette" --listen "127.0.0.1:$PORT" "${flags[@]}" --no-delay --quiet
            wait_listening "$PORT" 30
            perf record -e cpu-clock -g -F 2000 -p "$SERVER_PID" -o "$OUT/$label.perf.data" > "$OUT/$label.perf.log" 2>&1 &
            PERF_PID=$!
            sleep 0.5
            local began ended rc=0
            began=$(date +%s%N)
            timeout 300 smtp-source -s 50 -m "$MESSAGES" "127.0.0.1:$PORT" > "$OUT/$label.source" 2>&1 || rc=$?
            ended=$(date +%s%N)
            kill -INT "$PERF_PID" 2> /dev/null || true
            local deadline=$((SECONDS + 60))
            while kill -0 "$PERF_PID" 2> /dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
            wait "$PERF_PID" 2> /dev/null || true
            PERF_PID=""
            stop_server "$label"
            # Self time by symbol, and by library; the call graph of the top symbols for reading.
            timeout 300 perf report -i "$OUT/$label.perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.7 \
                > "$OUT/$label.symbols.txt" 2> /dev/null || true
            timeout 300 perf report -i "$OUT/$label.perf.data" --no-children --sort dso --stdio -g none \
                > "$OUT/$label.dso.txt" 2> /dev/null || true
            timeout 300 perf report -i "$OUT/$label.perf.data" --children --sort symbol --stdio -g none --percent-limit 3 \
                > "$OUT/$label.children.txt" 2> /dev/null || true
            timeout 300 perf script -i "$OUT/$label.perf.data" -F comm,tid,ip,sym > "$OUT/$label.script.txt" 2> /dev/null || true
            timeout 300 python3 bench/perf-inclusive.py "$OUT/$label.script.txt" --match ReplayCore --limit 25 \
                --callers-of LoggerV11metadataKey > "$OUT/$label.inclusive.txt" || true
            rm -f "$OUT/$label.script.txt"
            row "{\"part\": 1, \"row\": \"perf-$name\", \"messages\": $MESSAGES, \"source_rc\": $rc, \"elapsed_s\": $(( (ended - began) / 1000 ))e-6}"
        done
    fi
}

# ---------------------------------------------------------------------------------------------
# Part 2: choosing cost against the number of recorded sessions.
# ---------------------------------------------------------------------------------------------
part2() {
    for size in $SIZES; do
        local cassette=$OUT/smtp-$size.cassette
        if [ ! -s "$cassette" ] || [ ! -s "$cassette.txt" ]; then
            echo "== generating $cassette" >&2
            timeout 1200 python3 bench/make-cassette.py smtp "$cassette" --sessions "$size" 2> "$cassette.txt"
        fi
        cat "$cassette.txt" >&2
        take_port
        local label=p2-$size
        start_server "$label" "$REPLAYD" replay "$cassette" --listen "127.0.0.1:$PORT" --match similar --no-delay --quiet
        # Startup: from launch to "listening on" (printed once the cassette is loaded and compiled).
        local deadline=$((SECONDS + 900)) listening_ns=""
        while [ $SECONDS -lt $deadline ] && kill -0 "$SERVER_PID" 2> /dev/null; do
            if grep -q "^listening on" "$OUT/$label.stderr" 2> /dev/null; then listening_ns=$(date +%s%N); break; fi
            sleep 0.01
        done
        [ -n "$listening_ns" ] || { echo "bench: replay of $cassette did not listen: $(tail -3 "$OUT/$label.stderr")" >&2; stop_server "$label"; continue; }
        local startup started
        started=$(python3 bench/proc-sample.py "$SERVER_PID")
        local cpu_started
        cpu_started=$(proc_cpu "$SERVER_PID")
        startup=$(( (listening_ns - STARTED_NS) / 1000 ))e-6
        echo "== $size sessions: listening after ${startup} s; $CONNECTIONS client sessions" >&2
        local result rc=0
        result=$(timeout 900 python3 bench/smtp-replay-client.py "$cassette" "$PORT" --connections "$CONNECTIONS" --deadline 600 --label "$size") || rc=$?
        local sample
        sample=$(python3 bench/proc-sample.py "$SERVER_PID")
        local cpu_ended
        cpu_ended=$(proc_cpu "$SERVER_PID")
        stop_server "$label"
        row "{\"part\": 2, \"row\": \"similar\", \"sessions\": $size, \"client_rc\": $rc, \"startup_s\": $startup}" \
            "{\"cpu_at_listen_s\": $cpu_started, \"cpu_at_end_s\": $cpu_ended}" \
            "{\"after_start\": $started}" "{\"sample\": $sample}" "{\"client\": ${result:-null}}" "$(time_facts "$label")" \
            "{\"cassette_bytes\": $(stat -c %s "$cassette")}"
    done
}

# ---------------------------------------------------------------------------------------------
# Part 3: timing fidelity.
# ---------------------------------------------------------------------------------------------
part3() {
    for mode in chunks steps; do
        local cassette=$OUT/timing-$mode.cassette
        timeout 60 python3 bench/make-cassette.py timing "$cassette" --mode "$mode" 2> "$cassette.txt"
        cat "$cassette.txt" >&2
        for match in $TIMING_MODES; do
            take_port
            local label=p3-$mode-$match
            start_server "$label" "$REPLAYD" replay "$cassette" --listen "127.0.0.1:$PORT" --proto line --match "$match" --quiet
            wait_listening "$PORT" 30
            echo "== timing: $mode, --match $match" >&2
            local result rc=0
            result=$(timeout 120 python3 bench/timing-fidelity.py "$cassette" "$PORT" --deadline 90 --label "$mode-$match") || rc=$?
            stop_server "$label"
            row "{\"part\": 3, \"row\": \"$mode\", \"match\": \"$match\", \"client_rc\": $rc}" "{\"result\": ${result:-null}}" \
                "{\"recorded\": $(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read().strip()))' "$cassette.txt")}"
        done
    done
}

for part in $PARTS; do "part$part"; done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 bench/replay-report.py "$RUNS" "$OUT/replay-results.md" --load "$LOAD_BEFORE" "$LOAD_AFTER" \
    --out "$OUT" --versions "$("$REPLAYD" --version 2>&1 | head -1); postfix $(dpkg-query -W -f '${Version}' postfix 2> /dev/null || echo unknown)"
