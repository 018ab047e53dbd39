#!/usr/bin/env bash
# Import benchmark: replayd import vs tcpflow vs tshark on one large generated capture.
#
# Usage: bench/run.sh [--runs N] [--connections N]
# Builds replayd (release), generates bench/out/capture.pcap once (deterministic), then times
# each tool N times (default 3) with hyperfine (or a loop), recording peak RSS with
# /usr/bin/time -f %M on every run. Prints a table and writes bench/out/results.md.
# Every step is bounded in time (STEP_TIMEOUT seconds per run, default 900).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
RUNS=3
CONNECTIONS=5000
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
while [ $# -gt 0 ]; do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--connections N]" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT"

# /usr/bin/time (GNU time, Debian package "time") gives the peak RSS.
if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (Debian package time)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    timeout 300 $SUDO apt-get install -y time >&2
fi
for tool in tcpflow tshark python3; do
    command -v $tool >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

echo "== building replayd (release)" >&2
timeout 1800 swift build -c release --product replayd >&2
REPLAYD=$(swift build -c release --show-bin-path)/replayd

CAPTURE=$OUT/capture.pcap
if [ ! -s "$CAPTURE" ] || [ ! -s "$OUT/capture.txt" ] || ! grep -q " $CONNECTIONS connections" "$OUT/capture.txt"; then
    echo "== generating $CAPTURE" >&2
    timeout 600 python3 bench/make-capture.py "$CAPTURE" --connections "$CONNECTIONS" 2> "$OUT/capture.txt"
fi
cat "$OUT/capture.txt" >&2
CAPTURE_BYTES=$(stat -c %s "$CAPTURE")
# Read it once so every tool starts with the file in the page cache.
cat "$CAPTURE" > /dev/null

# Each tool: a name and a command line that reassembles every stream of the capture.
REPLAYD_OK=1
if ! "$REPLAYD" --help 2>&1 | grep -qE "^ +import( |$)"; then
    echo "bench: this replayd has no import subcommand; its row is n/a" >&2
    REPLAYD_OK=0
fi
declare -A COMMANDS
COMMANDS[replayd]="$REPLAYD import $CAPTURE -o $OUT/replayd.cassette"
COMMANDS[tcpflow]="tcpflow -r $CAPTURE -o $OUT/tcpflow"
# tshark: one pass with TCP desegmentation and out-of-order reassembly on; the HTTP and SMTP
# dissectors reassemble every PDU (HTTP bodies by Content-Length); conv,tcp lists every stream.
COMMANDS[tshark]="tshark -r $CAPTURE -o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE -T fields -e tcp.stream -e tcp.reassembled.length -z conv,tcp"
PREPARE_replayd="rm -f $OUT/replayd.cassette $OUT/replayd.cassette.partial"
PREPARE_tcpflow="rm -rf $OUT/tcpflow && mkdir -p $OUT/tcpflow"
PREPARE_tshark="true"
TOOLS=(replayd tcpflow tshark)

run_tool() {  # name -> writes $OUT/<name>.times (seconds, one a line) and <name>.rss (KB, one a line)
    local name=$1 prepare_var="PREPARE_$1"
    local prepare=${!prepare_var}
    local command="timeout $STEP_TIMEOUT /usr/bin/time -a -o $OUT/$name.rss -f %M ${COMMANDS[$name]} > $OUT/$name.stdout 2> $OUT/$name.stderr"
    rm -f "$OUT/$name.rss" "$OUT/$name.times" "$OUT/$name.json"
    echo "\`${COMMANDS[$name]//$ROOT\//}\`" > "$OUT/$name.cmd"
    echo "== $name: ${COMMANDS[$name]}" >&2
    if command -v hyperfine > /dev/null; then
        timeout $((STEP_TIMEOUT * (RUNS + 1))) hyperfine --runs "$RUNS" --prepare "$prepare" --export-json "$OUT/$name.json" \
            --shell bash "$command" >&2
        python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
            "$OUT/$name.json" > "$OUT/$name.times"
    else
        for _ in $(seq "$RUNS"); do
            bash -c "$prepare"
            local began ended
            began=$(date +%s.%N)
            bash -c "$command"
            ended=$(date +%s.%N)
            echo "$ended - $began" | bc -l >> "$OUT/$name.times"
        done
    fi
}

for name in "${TOOLS[@]}"; do
    if [ "$name" = replayd ] && [ $REPLAYD_OK = 0 ]; then continue; fi
    run_tool "$name"
done

# Did each tool really reassemble the streams? (A fast run that did nothing proves nothing.)
CHECKS=$OUT/checks.txt
: > "$CHECKS"
if [ $REPLAYD_OK = 1 ]; then
    echo "replayd: $(grep -c '"ev":"open"' "$OUT/replayd.cassette" || true) sessions and $(grep -c '"ev":"data"' "$OUT/replayd.cassette" || true) data events in the cassette" >> "$CHECKS"
fi
echo "tcpflow: $(find "$OUT/tcpflow" -type f ! -name report.xml | wc -l) stream files, $(du -sb "$OUT/tcpflow" | cut -f1) bytes" >> "$CHECKS"
echo "tshark: $(grep -cE '^[0-9.]+:[0-9]+ +<-> ' "$OUT/tshark.stdout" || true) conversations listed, $(awk -F'\t' '$2 != "" {n++; b += $2} END {print n + 0 " reassembled PDUs, " b + 0 " bytes"}' "$OUT/tshark.stdout")" >> "$CHECKS"
cat "$CHECKS" >&2

python3 - "$OUT" "$CAPTURE_BYTES" "$REPLAYD_OK" "$RUNS" <<'PY'
import os, statistics, subprocess, sys
out, capture_bytes, replayd_ok, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
rows = {}
for name in ("replayd", "tcpflow", "tshark"):
    try:
        times = [float(x) for x in open(f"{out}/{name}.times") if x.strip()]
        rss = [int(x) for x in open(f"{out}/{name}.rss") if x.strip().isdigit()]
    except FileNotFoundError:
        continue
    if times and rss:
        mean = statistics.mean(times)
        rows[name] = (mean, min(times), max(times), capture_bytes / 1e6 / mean, max(rss) / 1024)
def fmt(name):
    if name not in rows:
        return f"| {name} | n/a | n/a | n/a |"
    mean, low, high, rate, rss = rows[name]
    return f"| {name} | {mean:.2f} ({low:.2f}-{high:.2f}) | {rate:.0f} | {rss:.0f} |"
lines = [
    f"Capture: {capture_bytes / 1e6:.0f} MB ({open(f'{out}/capture.txt').read().strip()})",
    f"Machine: {os.cpu_count()} cores, {subprocess.run(['uname', '-sr'], capture_output=True, text=True).stdout.strip()}; {runs} runs each, file in page cache",
    "",
    "| tool | wall s, mean (min-max) | MB/s of capture | peak RSS MB |",
    "|---|---|---|---|",
] + [fmt(n) for n in ("replayd", "tcpflow", "tshark")]
if "replayd" in rows:
    r = rows["replayd"]
    for other in ("tcpflow", "tshark"):
        if other in rows:
            o = rows[other]
            lines.append(f"\nreplayd vs {other}: {o[0] / r[0]:.2f}x the speed, {r[4] / o[4]:.2f}x the peak RSS")
    lines.append(f"\nTarget (faster than tcpflow, peak RSS under 100 MB): "
                 f"{'met' if 'tcpflow' in rows and r[0] < rows['tcpflow'][0] and r[4] < 100 else 'NOT met'}")
lines += ["", "Commands:", *[f"- {open(f'{out}/{n}.cmd').read().strip()}" for n in ("replayd", "tcpflow", "tshark") if os.path.exists(f"{out}/{n}.cmd")],
          "", "Checks (each tool really reassembled):", *[f"- {l.strip()}" for l in open(f"{out}/checks.txt")]]
text = "\n".join(lines) + "\n"
open(f"{out}/results.md", "w").write(text)
print(text)
PY
