#!/usr/bin/env python3
"""Turns bench/out/proxy-runs.jsonl (from bench/proxy.sh) into a Markdown report (stdout and a file).

  proxy-report.py RUNS.jsonl OUT.md [--load BEFORE AFTER] [--rounds N] [--seconds S] [--count N]
                  [--commands DIR] [--versions TEXT]
"""
import json
import os
import statistics
import subprocess
import sys

PROXIES = ("direct", "socat", "haproxy", "replayd", "replayd-null")
PEERS = ("socat", "haproxy")


def main(argv):
    runs_path, out_path = argv[1], argv[2]
    options = {"--rounds": "?", "--seconds": "?", "--count": "?", "--commands": None, "--versions": ""}
    load = ("?", "?")
    rest = argv[3:]
    while rest:
        if rest[0] == "--load":
            load = (rest[1], rest[2])
            rest = rest[3:]
        else:
            options[rest[0]] = rest[1]
            rest = rest[2:]
    runs = [json.loads(line) for line in open(runs_path) if line.strip()]

    def rows(workload, proxy):
        return [r for r in runs if r["workload"] == workload and r["proxy"] == proxy]

    def median_of(workload, proxy, key):
        values = [r[key] for r in rows(workload, proxy) if r.get(key) is not None and "error" not in r]
        return statistics.median(values) if values else None

    def spread(workload, proxy, key, digits):
        values = [r[key] for r in rows(workload, proxy) if r.get(key) is not None and "error" not in r]
        if not values:
            return "n/a"
        text = f"{statistics.median(values):.{digits}f}"
        if len(values) > 1:
            text += f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
        return text

    def peak_rss_mb(workloads, proxy):
        values = [r.get("peak_rss_kb") for w in workloads for r in rows(w, proxy) if r.get("peak_rss_kb")]
        return f"{max(values) / 1024:.1f}" if values else "n/a"

    def cpu_per_gb(workload, proxy):
        values = [r["cpu_s"] / (r["bytes"] / 1e9) for r in rows(workload, proxy)
                  if r.get("cpu_s") is not None and r.get("bytes")]
        return f"{statistics.median(values):.2f}" if values else "n/a"

    def recorded_share(workload, proxy):
        # Share of the carried bytes that reached the cassette (the rest became gap events).
        values = [1 - r["dropped_bytes"] / r["bytes"] for r in rows(workload, proxy)
                  if r.get("dropped_bytes") is not None and r.get("bytes")]
        if not values:
            return "n/a"
        def percent(value):
            # One decimal when a little is missing, so that a drop never reads as "100 %".
            return "100 %" if value >= 1 else f"{value * 100:.1f} %" if value > 0.99 else f"{value * 100:.0f} %"
        text = percent(statistics.median(values))
        return text + (f" ({percent(min(values))} to {percent(max(values))})" if len(values) > 1 else "")

    def ratio(a, b):
        return f"{a / b:.2f}x" if a and b else "n/a"

    present = [p for p in PROXIES if any(r["proxy"] == p for r in runs)]
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    kernel = subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Machine: {os.cpu_count()} cores ({model}), {kernel}; {options['--versions']}",
        f"{options['--rounds']} rounds, proxies interleaved; iperf3 -t {options['--seconds']}; "
        f"{options['--count']} short connections per run; load average before {load[0]}, after {load[1]}.",
        "Values are the median over rounds (min-max). Peak RSS is the largest over all runs of that proxy "
        "(GNU time %M: for socat, its largest process, the listener or one forked child).",
        "",
        "### Bulk throughput (iperf3, one TCP stream)",
        "",
        "| proxy | client→server Gbit/s | vs direct | server→client Gbit/s | vs direct | bytes recorded (up / down) | proxy CPU s per GB (up / down) | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for proxy in present:
        up, down = median_of("iperf-up", proxy, "gbps"), median_of("iperf-down", proxy, "gbps")
        direct_up, direct_down = median_of("iperf-up", "direct", "gbps"), median_of("iperf-down", "direct", "gbps")
        cpu = "n/a (no proxy)" if proxy == "direct" else f"{cpu_per_gb('iperf-up', proxy)} / {cpu_per_gb('iperf-down', proxy)}"
        rss = "n/a" if proxy == "direct" else peak_rss_mb(("iperf-up", "iperf-down"), proxy)
        recorded = f"{recorded_share('iperf-up', proxy)} / {recorded_share('iperf-down', proxy)}" if proxy.startswith("replayd") else "none (not a recorder)"
        lines.append(f"| {proxy} | {spread('iperf-up', proxy, 'gbps', 2)} | {ratio(up, direct_up)} | "
                     f"{spread('iperf-down', proxy, 'gbps', 2)} | {ratio(down, direct_down)} | {recorded} | {cpu} | {rss} |")
    lines += [
        "",
        f"### Short connections (connect, send 100 B, receive 100 B echoed, close; sequential)",
        "",
        "| proxy | connections/s | vs direct | p50 µs | p99 µs | proxy CPU s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for proxy in present:
        cps = median_of("rr", proxy, "connections_per_s")
        cpu = "n/a" if proxy == "direct" else spread("rr", proxy, "cpu_s", 2)
        rss = "n/a" if proxy == "direct" else peak_rss_mb(("rr",), proxy)
        lines.append(f"| {proxy} | {spread('rr', proxy, 'connections_per_s', 0)} | {ratio(cps, median_of('rr', 'direct', 'connections_per_s'))} | "
                     f"{spread('rr', proxy, 'p50_us', 0)} | {spread('rr', proxy, 'p99_us', 0)} | {cpu} | {rss} |")

    paced = sorted({r["workload"] for r in runs if r["workload"].startswith("paced-")},
                   key=lambda w: float(w[len("paced-"):].rstrip("GMK")) * {"G": 1e9, "M": 1e6, "K": 1e3}.get(w[-1], 1))
    if paced:
        lines += ["", "### replayd with iperf3 paced (-b): up to which rate is every byte recorded?", "",
                  "| iperf3 -b | " + " | ".join(f"{m} Gbit/s | {m} bytes recorded" for m in ("replayd", "replayd-null") if m in present) + " |",
                  "|---|" + "---|---|" * sum(m in present for m in ("replayd", "replayd-null"))]
        for workload in paced:
            cells = []
            for mine in ("replayd", "replayd-null"):
                if mine in present:
                    cells += [spread(workload, mine, "gbps", 2), recorded_share(workload, mine)]
            lines.append(f"| {workload[len('paced-'):]} | " + " | ".join(cells) + " |")

    lines += ["", "### Ratios (median over rounds; above 1 = replayd faster)", "",
              "| | client→server | server→client | connections/s | p50 latency (replayd / peer) |", "|---|---|---|---|---|"]
    for mine in ("replayd", "replayd-null"):
        if mine not in present:
            continue
        for peer in PEERS + ("direct",):
            if peer not in present:
                continue
            p50_mine, p50_peer = median_of("rr", mine, "p50_us"), median_of("rr", peer, "p50_us")
            lines.append(
                f"| {mine} vs {peer} | {ratio(median_of('iperf-up', mine, 'gbps'), median_of('iperf-up', peer, 'gbps'))} | "
                f"{ratio(median_of('iperf-down', mine, 'gbps'), median_of('iperf-down', peer, 'gbps'))} | "
                f"{ratio(median_of('rr', mine, 'connections_per_s'), median_of('rr', peer, 'connections_per_s'))} | "
                f"{ratio(p50_mine, p50_peer)} |")

    # Where replayd's CPU goes: event-loop threads (forwarding, copying each read for the recorder)
    # and the writer thread (encoding JSON/base64 and write(2)), sampled just before SIGINT.
    lines += ["", "### replayd: CPU seconds by thread (sampled before stopping; median over rounds)", "",
              "| run | event loops (NIO-*) | cassette writer (TP-*) | other | seconds from SIGINT to exit | cassette bytes per byte recorded | gap events in the cassette |",
              "|---|---|---|---|---|---|---|"]
    for workload in ("iperf-up", "iperf-down", "rr", *paced):
        for mine in ("replayd", "replayd-null"):
            found = [r for r in rows(workload, mine) if r.get("sample")]
            if not found:
                continue
            def part(r, prefix):
                threads = r["sample"].get("threads", {})
                if prefix is None:
                    return sum(v for k, v in threads.items() if not k.startswith(("NIO-", "TP-")))
                return sum(v for k, v in threads.items() if k.startswith(prefix))
            loops = statistics.median(part(r, "NIO-") for r in found)
            writer = statistics.median(part(r, "TP-") for r in found)
            other = statistics.median(part(r, None) for r in found)
            stops = [r["stop_s"] for r in found if r.get("stop_s") is not None]
            per_byte = [r["cassette_bytes"] / (r["bytes"] - r.get("dropped_bytes", 0)) for r in found
                        if r.get("cassette_bytes") and r.get("bytes")]
            gaps = [r.get("gap_events") for r in found if r.get("gap_events") is not None]
            lines.append(f"| {workload} {mine} | {loops:.2f} | {writer:.2f} | {other:.2f} | "
                         f"{statistics.median(stops):.2f} | "
                         f"{f'{statistics.median(per_byte):.2f}' if per_byte else 'n/a'} | "
                         f"{max(gaps) if gaps else 'n/a'} |")

    errors = [r for r in runs if "error" in r or r.get("errors")]
    if errors:
        lines += ["", "### Errors", ""] + [f"- {r['workload']} {r['proxy']} round {r['round']}: "
                                            f"{r.get('error') or r.get('first_error')}" for r in errors]
    if options["--commands"]:
        lines += ["", "Proxy command lines:"]
        for proxy in present:
            path = os.path.join(options["--commands"], f"{proxy}.cmd")
            if os.path.exists(path):
                lines.append(f"- {proxy}: `{open(path).read().strip()}`")
    text = "\n".join(lines) + "\n"
    open(out_path, "w").write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
