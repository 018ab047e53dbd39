#!/usr/bin/env python3
"""Measures how faithfully a replay server reproduces recorded delays (python3 stdlib only).

  timing-fidelity.py CASSETTE PORT [--deadline SECONDS] [--label L]

CASSETTE is one written by `bench/make-cassette.py timing`: its delays are read back from the
events' times. A greeting the server sends first is read before the clock starts.
- chunks mode (the client sends "GO", the server answers with N lines): each line's delay is
  measured as the time between its arrival and the previous line's (the first: since GO was
  sent), time.monotonic_ns taken as soon as the line is complete.
- steps mode (N "STEP i" / "REPLY i" exchanges): each delay is measured from sending STEP i to
  the arrival of REPLY i.
The error is measured minus recorded. Prints one JSON object: the error's median, p99 and max of
its absolute value, the signed median (a constant lag shows there), how many delays came more
than 0.05 ms early, and in chunks mode the error of each line's arrival against its recorded
offset from GO (the schedule replay keeps).
"""
import argparse
import json
import socket
import sys
import time


def recorded(path):
    events = [json.loads(line) for line in open(path, encoding="utf-8")][1:]
    data = [e for e in events if e["ev"] == "data"]
    greeting = b""
    while data and data[0]["dir"] == "s2c":
        greeting += data.pop(0)["text"].encode()
    if data and data[0]["dir"] == "c2s" and all(e["dir"] == "s2c" for e in data[1:]):
        mode = "chunks"
        times = [e["t"] for e in data]
        delays = [b - a for a, b in zip(times, times[1:])]
        lines = [e["text"].encode() for e in data[1:]]
        return mode, greeting, data[0]["text"].encode(), delays, lines
    mode = "steps"
    requests = [e for e in data if e["dir"] == "c2s"]
    replies = [e for e in data if e["dir"] == "s2c"]
    delays = [r["t"] - q["t"] for q, r in zip(requests, replies)]
    return mode, greeting, [q["text"].encode() for q in requests], delays, [r["text"].encode() for r in replies]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cassette")
    parser.add_argument("port", type=int)
    parser.add_argument("--deadline", type=float, default=120)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    mode, greeting, requests, delays, expected = recorded(args.cassette)
    deadline = time.monotonic() + args.deadline
    measured = []
    wrong = 0
    with socket.create_connection(("127.0.0.1", args.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""

        def next_line():
            nonlocal buffer
            while b"\n" not in buffer:
                if time.monotonic() > deadline:
                    raise TimeoutError("deadline passed")
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed early")
                buffer += chunk
            arrived = time.monotonic_ns()
            line, buffer = buffer[:buffer.index(b"\n") + 1], buffer[buffer.index(b"\n") + 1:]
            return line, arrived

        # The greeting (if any) first: the clock starts once the replay has set the connection up.
        while greeting and len(buffer) < len(greeting):
            if time.monotonic() > deadline:
                raise TimeoutError("deadline passed waiting for the greeting")
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed before its greeting")
            buffer += chunk
        wrong += buffer[:len(greeting)] != greeting
        buffer = buffer[len(greeting):]
        if mode == "chunks":
            before = time.monotonic_ns()
            sock.sendall(requests)
            for want in expected:
                line, arrived = next_line()
                wrong += line != want
                measured.append((arrived - before) / 1e9)
                before = arrived
        else:
            for request, want in zip(requests, expected):
                sent = time.monotonic_ns()
                sock.sendall(request)
                line, arrived = next_line()
                wrong += line != want
                measured.append((arrived - sent) / 1e9)
    errors_ms = [(m - d) * 1000 for m, d in zip(measured, delays)]
    # chunks: also each line's arrival against the recorded schedule (its offset from GO), which
    # is what replay keeps: a late chunk does not delay the ones after it, so the next delay as
    # the client sees it is shorter (the "early" count).
    schedule_ms = []
    if mode == "chunks":
        at = recorded_at = 0.0
        for m, d in zip(measured, delays):
            at += m
            recorded_at += d
            schedule_ms.append(abs(at - recorded_at) * 1000)
    absolute = [abs(e) for e in errors_ms]
    worst = max(range(len(absolute)), key=absolute.__getitem__)
    worst_five = sorted(range(len(absolute)), key=absolute.__getitem__)[-5:]
    print(json.dumps({
        "label": args.label, "mode": mode, "delays": len(delays), "measured": len(measured), "wrong_lines": wrong,
        "recorded_sum_s": round(sum(delays), 3), "measured_sum_s": round(sum(measured), 3),
        "abs_error_p50_ms": round(percentile(absolute, 0.50), 3), "abs_error_p99_ms": round(percentile(absolute, 0.99), 3),
        "abs_error_max_ms": round(absolute[worst], 3), "max_at_delay_ms": round(delays[worst] * 1000, 2),
        "signed_error_p50_ms": round(percentile(errors_ms, 0.50), 3),
        "early": sum(1 for e in errors_ms if e < -0.05),
        "over_1ms": sum(1 for e in absolute if e > 1), "over_2ms": sum(1 for e in absolute if e > 2),
        "worst": [{"index": i, "delay_ms": round(delays[i] * 1000, 2), "error_ms": round(errors_ms[i], 3)} for i in reversed(worst_five)],
        "schedule_error_p50_ms": round(percentile(schedule_ms, 0.50), 3) if schedule_ms else None,
        "schedule_error_p99_ms": round(percentile(schedule_ms, 0.99), 3) if schedule_ms else None,
    }))
    return 0 if len(measured) == len(delays) and wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
