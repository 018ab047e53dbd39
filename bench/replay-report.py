#!/usr/bin/env python3
"""Turns bench/out/replay-runs.jsonl (bench/replay.sh) into a markdown report (python3 stdlib only).

  replay-report.py RUNS OUTPUT.md --load BEFORE AFTER --out DIR --versions TEXT
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess


def median_range(values, fmt="{:.0f}"):
    if not values:
        return "n/a"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def top_symbols(path, limit=15):
    """(percent, symbol) lines of a `perf report --sort symbol --stdio -g none` file."""
    rows = []
    try:
        for line in open(path, errors="replace"):
            match = re.match(r"\s+([0-9.]+)%\s+\[([.kK])\]\s+(.*)", line)
            if match:
                where = "kernel" if match.group(2) in "kK" else "user"
                rows.append((float(match.group(1)), where, re.split(r"\s{2,}", match.group(3).strip())[0]))
    except FileNotFoundError:
        return []
    rows = rows[:limit]
    if shutil.which("swift") and rows:
        result = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(r[2] for r in rows),
                                capture_output=True, text=True, timeout=120)
        names = result.stdout.split("\n")
        rows = [(p, w, names[i] if i < len(names) and names[i] else s) for i, (p, w, s) in enumerate(rows)]
    return rows


def dsos(path, limit=8):
    rows = []
    try:
        for line in open(path, errors="replace"):
            match = re.match(r"\s+([0-9.]+)%\s+(\S+)", line)
            if match and not line.lstrip().startswith("#"):
                rows.append((float(match.group(1)), match.group(2)))
    except FileNotFoundError:
        return []
    return rows[:limit]


def short(symbol, width=110):
    symbol = symbol.replace("|", "\\|")
    return symbol if len(symbol) <= width else symbol[:width - 1] + "…"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs")
    parser.add_argument("output")
    parser.add_argument("--load", nargs=2, default=("?", "?"))
    parser.add_argument("--out", default="bench/out")
    parser.add_argument("--versions", default="")
    args = parser.parse_args()
    runs = [json.loads(line) for line in open(args.runs) if line.strip()]
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    lines = [
        f"Machine: {os.cpu_count()} cores ({model}), {subprocess.run(['uname', '-sr'], capture_output=True, text=True).stdout.strip()}; "
        f"load average before {args.load[0]}, after {args.load[1]}",
        f"Versions: {args.versions}", "",
    ]

    part1 = [r for r in runs if r.get("part") == 1]
    if part1:
        lines += ["## Part 1: sessions per second, smtp-source -s 50 against smtp-sink and replay", ""]
        recording = next((r for r in part1 if r["row"] == "recording"), None)
        if recording:
            lines.append(f"Recorded: {recording['sessions']} sessions, {recording['cassette_bytes']} bytes, "
                         f"{recording['distinct_server_chunks']} distinct server chunks, {recording.get('distinct_client_chunks')} distinct client chunks.")
        lines += ["", "| server | sessions/s, median (min-max) | vs smtp-sink | server CPU µs per session | smtp-source CPU µs per session | peak RSS MB | failed runs |",
                  "|---|---|---|---|---|---|---|"]
        rate = {}
        cpu = {}
        for name in ("smtp-sink", "similar", "bytes"):
            rows = [r for r in part1 if r["row"] == name]
            good = [r for r in rows if r.get("source_rc") == 0]
            rate[name] = [r["messages"] / r["elapsed_s"] for r in good]
            cpu[name] = [r["sample"]["cpu_s"] / r["messages"] * 1e6 for r in good if r.get("sample", {}).get("cpu_s") is not None]
            rss = [r.get("peak_rss_kb", 0) / 1024 for r in good]
            versus = f"{statistics.median(rate[name]) / statistics.median(rate['smtp-sink']):.2f}x" if rate[name] and rate.get("smtp-sink") else "n/a"
            source_cpu = [r["source_cpu_s"] / r["messages"] * 1e6 for r in good if r.get("source_cpu_s") is not None]
            lines.append(f"| {name} | {median_range(rate[name])} | {versus} | {median_range(cpu[name])} | {median_range(source_cpu)} | "
                         f"{median_range(rss, '{:.1f}')} | {len(rows) - len(good)} of {len(rows)} |")
        if rate.get("similar") and rate.get("bytes") and rate.get("smtp-sink"):
            s, b, k = (statistics.median(rate[n]) for n in ("similar", "bytes", "smtp-sink"))
            lines += ["", f"- similar vs smtp-sink: {s / k:.2f}x (target ≥ 1.0x: {'met' if s >= k else 'NOT met'})",
                      f"- similar vs bytes: {s / b:.2f}x the sessions/s; matching costs {(1 - s / b) * 100:.0f} % of bytes' throughput "
                      f"(target ≤ 20 %: {'met' if s / b >= 0.8 else 'NOT met'})"]
            if cpu.get("similar") and cpu.get("bytes"):
                cs, cb = statistics.median(cpu["similar"]), statistics.median(cpu["bytes"])
                lines.append(f"- server CPU per session: similar {cs:.0f} µs, bytes {cb:.0f} µs: matching adds {(cs / cb - 1) * 100:.0f} %")
            # Per round, the ratios of the runs next to each other.
            per_round = []
            for round_ in sorted({r["round"] for r in part1 if "round" in r}):
                by = {r["row"]: r for r in part1 if r.get("round") == round_ and r.get("source_rc") == 0}
                if all(n in by for n in ("smtp-sink", "similar", "bytes")):
                    rs = {n: by[n]["messages"] / by[n]["elapsed_s"] for n in by}
                    per_round.append(f"round {round_}: similar/smtp-sink {rs['similar'] / rs['smtp-sink']:.2f}x, similar/bytes {rs['similar'] / rs['bytes']:.2f}x")
            if per_round:
                lines.append("- per round: " + "; ".join(per_round))
        check = next((r for r in part1 if r["row"] == "check"), None)
        if check:
            lines += ["", f"Check run (1000 sessions, --report): smtp-source exit {check['source_rc']}, {check['connections']} connections, "
                          f"{check['client_messages']} client messages, {check['matched']} matched (levels {check['levels']}), "
                          f"{check['mismatches']} mismatches, {check['sessions_followed']} recorded sessions followed, {check['unused']} unused."]
        for name in ("similar", "bytes"):
            perf = next((r for r in part1 if r["row"] == f"perf-{name}"), None)
            if not perf:
                continue
            lines += ["", f"### Profile: --match {name} (perf record -e cpu-clock -g, {perf['messages'] / perf['elapsed_s']:.0f} sessions/s under perf)", "",
                      "By library (self time):", ""]
            lines += [f"- {p:.1f} % {d}" for p, d in dsos(f"{args.out}/p1-perf-{name}.dso.txt")]
            lines += ["", "| self % | where | symbol |", "|---|---|---|"]
            lines += [f"| {p:.1f} | {w} | `{short(s)}` |" for p, w, s in top_symbols(f"{args.out}/p1-perf-{name}.symbols.txt")]
            try:
                inclusive = open(f"{args.out}/p1-perf-{name}.inclusive.txt").read().strip()
                lines += ["", "Inclusive (children) share of ReplayCore functions, bench/perf-inclusive.py:", "", "```", inclusive, "```"]
            except FileNotFoundError:
                pass

    part2 = [r for r in runs if r.get("part") == 2]
    if part2:
        lines += ["", "## Part 2: choosing cost against recorded sessions (--match similar --no-delay)", "",
                  "| recorded sessions | cassette MB | startup s (CPU s) | peak RSS MB (after start / end) | replay CPU µs per round trip | client RTT µs p50 / p99 | sessions/s | wrong replies |",
                  "|---|---|---|---|---|---|---|---|"]
        by_request = []
        base = None
        for r in sorted(part2, key=lambda r: r["sessions"]):
            client = r.get("client") or {}
            trips = client.get("round_trips") or 0
            # Whole-process CPU (/proc/PID/stat): per-thread sums lose the threads that exited.
            cpu_us = (r["cpu_at_end_s"] - r["cpu_at_listen_s"]) / trips * 1e6 if trips and r.get("cpu_at_end_s") is not None else None
            if base is None and cpu_us:
                base = cpu_us
            rss0 = (r["after_start"].get("vmhwm_kb") or 0) / 1024
            rss1 = (r["sample"].get("vmhwm_kb") or 0) / 1024
            by_request.append(f"- {r['sessions']} sessions: " + ", ".join(f"{k} {v:.0f}" for k, v in (client.get("rtt_mean_us_by_request") or {}).items()))
            lines.append(f"| {r['sessions']} | {r['cassette_bytes'] / 1e6:.1f} | {r['startup_s']:.2f} ({r.get('cpu_at_listen_s')}) | {rss0:.0f} / {rss1:.0f} | "
                         f"{cpu_us:.0f} ({cpu_us / base:.2f}x) | {client.get('rtt_p50_us')} / {client.get('rtt_p99_us')} | "
                         f"{client.get('sessions_per_s')} | {client.get('wrong_replies')} of {trips} |"
                         if cpu_us else f"| {r['sessions']} | failed: {client.get('failures')} |")
        lines += ["", "Client round trip, mean µs by request:", ""] + by_request
        lines.append("")
        lines.append("Startup includes reading the cassette and compiling it into the conversation tree; CPU per round trip is the "
                     "replay process's CPU time during the client's run divided by its round trips (one round trip: a command "
                     "line, or a DATA body of several lines, and its reply).")

    part3 = [r for r in runs if r.get("part") == 3]
    if part3:
        lines += ["", "## Part 3: timing fidelity (200 delays, log-uniform 1-500 ms)", "",
                  "| cassette | --match | recorded sum s | measured sum s | abs error p50 ms | p99 ms | max ms (at delay ms) | signed p50 ms | early | over 1 / 2 ms | schedule error p50 / p99 ms |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in part3:
            x = r.get("result") or {}
            if not x:
                lines.append(f"| {r['row']} | {r['match']} | failed (rc {r['client_rc']}) |")
                continue
            lines.append(f"| {r['row']} | {r['match']} | {x['recorded_sum_s']} | {x['measured_sum_s']} | {x['abs_error_p50_ms']} | "
                         f"{x['abs_error_p99_ms']} | {x['abs_error_max_ms']} ({x['max_at_delay_ms']}) | {x['signed_error_p50_ms']} | {x['early']} | {x.get('over_1ms', '-')} / {x.get('over_2ms', '-')} | "
                         f"{x.get('schedule_error_p50_ms') if x.get('schedule_error_p50_ms') is not None else '-'} / {x.get('schedule_error_p99_ms') if x.get('schedule_error_p99_ms') is not None else '-'} |")
        if part3[0].get("recorded"):
            lines += ["", f"Delays: {part3[0]['recorded']}"]
    text = "\n".join(lines) + "\n"
    open(args.output, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
