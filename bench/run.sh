#!/usr/bin/env bash
# Import benchmark: replayd import vs tcpflow vs tshark on one large generated capture.
#
# Usage: bench/run.sh [--runs N] [--connections N]
# SCRATCH_PATH=DIR builds into DIR instead of .build (e.g. .build-release, to keep a debug .build as it is).
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
SCRATCH_PATH=${SCRATCH_PATH:-.build}
timeout 1800 swift build -c release --scratch-path "$SCRATCH_PATH" --product replayd >&2
REPLAYD=$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)/replayd

CAPTURE=$OUT/capture.pcap
if [ ! -s "$CAPTURE" ] || [ ! -s "$OUT/capture.txt" ] || ! grep -q " $CONNECTIONS connections" "$OUT/capture.txt"; then
    echo "== generating $CAPTURE" >&2
    timeout 600 python3 bench/make-capture.py "$CAPTURE" --connections "$CONNECTIONS" 2> "$OUT/capture.txt"
fi
cat "$OUT/capture.txt" >&2
CAPTURE_BYTES=$(stat -c %s "$CAPTURE")
# Read it once so every tool starts with the file in the page cache.
cat "$CAPTURE" > /dev/null

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Each tool: a name and a command line that reassembles every stream of the capture.
REPLAYD_OK=1
if ! "$REPLAYD" --help 2>&1 | grep -qE "^ +import( |$)"; then
    echo "bench: this replayd has no import subcommand; its row is n/a" >&2
    REPLAYD_OK=0
fi
declare -A COMMANDS
COMMANDS[replayd]="$REPLAYD import $CAPTURE -o $OUT/replayd.cassette"
# The same without the final fsync: like tcpflow, it returns once the kernel has the bytes.
COMMANDS[replayd-nosync]="$REPLAYD import $CAPTURE -o $OUT/replayd.cassette --no-sync"
COMMANDS[tcpflow]="tcpflow -r $CAPTURE -o $OUT/tcpflow"
# tshark: one pass with TCP desegmentation and out-of-order reassembly on; the HTTP and SMTP
# dissectors reassemble every PDU (HTTP bodies by Content-Length); conv,tcp lists every stream.
COMMANDS[tshark]="tshark -r $CAPTURE -o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE -T fields -e tcp.stream -e tcp.reassembled.length -z conv,tcp"
PREPARE_replayd="rm -f $OUT/replayd.cassette $OUT/replayd.cassette.partial"
PREPARE_replayd_nosync=$PREPARE_replayd
PREPARE_tcpflow="rm -rf $OUT/tcpflow && mkdir -p $OUT/tcpflow"
PREPARE_tshark="true"
TOOLS=(replayd replayd-nosync tcpflow tshark)

run_tool() {  # name -> writes $OUT/<name>.times (seconds, one a line) and <name>.rss (KB, one a line)
    local name=$1 prepare_var="PREPARE_${1//-/_}"
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
    if [[ $name == replayd* ]] && [ $REPLAYD_OK = 0 ]; then continue; fi
    run_tool "$name"
done

# Did each tool really reassemble the streams? (A fast run that did nothing proves nothing.)
CHECKS=$OUT/checks.txt
: > "$CHECKS"
if [ $REPLAYD_OK = 1 ]; then
    echo "replayd: $(grep -c '"ev":"open"' "$OUT/replayd.cassette" || true) sessions and $(grep -c '"ev":"data"' "$OUT/replayd.cassette" || true) data events in the cassette; $(grep -h 'bytes client' "$OUT/replayd.stderr" | sed 's/^replayd: //')" >> "$CHECKS"
fi
echo "tcpflow: $(find "$OUT/tcpflow" -type f ! -name report.xml | wc -l) stream files, $(du -sb "$OUT/tcpflow" | cut -f1) bytes" >> "$CHECKS"
echo "tshark: $(grep -cE '^[0-9.]+:[0-9]+ +<-> ' "$OUT/tshark.stdout" || true) conversations listed, $(awk -F'\t' '$2 != "" {n++; b += $2} END {print n + 0 " reassembled PDUs, " b + 0 " bytes"}' "$OUT/tshark.stdout")" >> "$CHECKS"
cat "$CHECKS" >&2

python3 - "$OUT" "$CAPTURE_BYTES" "$REPLAYD_OK" "$RUNS" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, os, statistics, subprocess, sys
out, capture_bytes, replayd_ok, runs, load_before, load_after = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5], sys.argv[6]
names = ("replayd", "replayd-nosync", "tcpflow", "tshark")
rows = {}
for name in names:
    try:
        times = [float(x) for x in open(f"{out}/{name}.times") if x.strip()]
        rss = [int(x) for x in open(f"{out}/{name}.rss") if x.strip().isdigit()]
    except FileNotFoundError:
        continue
    cpu = None
    try:
        result = json.load(open(f"{out}/{name}.json"))["results"][0]
        cpu = result["user"] + result["system"]
    except (FileNotFoundError, KeyError):
        pass
    if times and rss:
        mean = statistics.mean(times)
        rows[name] = (mean, statistics.median(times), min(times), max(times), capture_bytes / 1e6 / mean, max(rss) / 1024, cpu)
def fmt(name):
    if name not in rows:
        return f"| {name} | n/a | n/a | n/a | n/a | n/a |"
    mean, median, low, high, rate, rss, cpu = rows[name]
    cpu_text = f"{cpu:.2f}" if cpu is not None else "n/a"
    return f"| {name} | {mean:.2f} ({low:.2f}-{high:.2f}) | {median:.2f} | {rate:.0f} | {cpu_text} | {rss:.0f} |"
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
lines = [
    f"Capture: {capture_bytes / 1e6:.0f} MB ({open(f'{out}/capture.txt').read().strip()})",
    f"Machine: {os.cpu_count()} cores ({model}), {subprocess.run(['uname', '-sr'], capture_output=True, text=True).stdout.strip()}; "
    f"{runs} runs each, file in page cache; load average before {load_before}, after {load_after}",
    "",
    "| tool | wall s, mean (min-max) | wall s, median | MB/s of capture (mean) | CPU s (user+sys, mean) | peak RSS MB |",
    "|---|---|---|---|---|---|",
] + [fmt(n) for n in names]
for mine in ("replayd", "replayd-nosync"):
    if mine not in rows:
        continue
    r = rows[mine]
    for other in ("tcpflow", "tshark"):
        if other in rows:
            o = rows[other]
            lines.append(f"\n{mine} vs {other}: {o[0] / r[0]:.2f}x the speed (mean), {o[1] / r[1]:.2f}x (median), {r[5] / o[5]:.2f}x the peak RSS")
    lines.append(f"\nTarget for {mine} (faster than tcpflow, peak RSS under 100 MB): "
                 f"{'met' if 'tcpflow' in rows and r[0] < rows['tcpflow'][0] and r[5] < 100 else 'NOT met'}")
lines += ["", "Commands:", *[f"- {open(f'{out}/{n}.cmd').read().strip()}" for n in names if os.path.exists(f"{out}/{n}.cmd")],
          "", "Checks (each tool really reassembled):", *[f"- {l.strip()}" for l in open(f"{out}/checks.txt")]]
text = "\n".join(lines) + "\n"
open(f"{out}/results.md", "w").write(text)
print(text)
PY
