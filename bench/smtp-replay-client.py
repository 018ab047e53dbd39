#!/usr/bin/env python3
"""An SMTP client for bench/replay.sh that plays the client side of recorded sessions against a
replay server and checks every reply (python3 stdlib only).

  smtp-replay-client.py CASSETTE PORT [--connections N] [--seed S] [--deadline SECONDS] [--label L]

Reads CASSETTE (as bench/make-cassette.py writes it: one text chunk per event), picks N of its
sessions at random (seeded; with replacement when N exceeds them) and, one connection after the
other, sends each recorded client chunk and reads the reply up to its last line (`NNN text`),
timing each round trip with time.monotonic_ns. A reply is correct when it equals the recorded
one, with the queue id of "queued as ID" ignored (a replay may answer the message from another
recorded session with the same path, and so another queue id). Prints one JSON object.
"""
import argparse
import json
import random
import re
import socket
import statistics
import sys
import time

QUEUE_ID = re.compile(rb"queued as [0-9A-Za-z]+")
LAST_LINE = re.compile(rb"(?:^|\n)\d{3} [^\n]*\r\n$")


def load(path):
    """Per session: the greeting, then a list of (client bytes, recorded reply bytes)."""
    sessions = {}
    with open(path, encoding="utf-8") as lines:
        next(lines)  # the header
        for line in lines:
            event = json.loads(line)
            if event["ev"] != "data":
                continue
            steps = sessions.setdefault(event["s"], [[None, b""]])
            payload = event["text"].encode()
            if event["dir"] == "c2s":
                steps.append([payload, b""])
            else:
                steps[-1][1] += payload
    return [steps for _, steps in sorted(sessions.items())]


def read_reply(sock, deadline):
    data = b""
    while not LAST_LINE.search(data):
        if time.monotonic() > deadline:
            raise TimeoutError("deadline passed waiting for a reply")
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed after {data[:80]!r}")
        data += chunk
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cassette")
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deadline", type=float, default=120)
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    began_load = time.monotonic()
    sessions = load(args.cassette)
    load_s = time.monotonic() - began_load
    rng = random.Random(args.seed)
    picks = [rng.randrange(len(sessions)) for _ in range(args.connections)]
    deadline = time.monotonic() + args.deadline
    round_trips = []  # ns
    by_verb = {}  # the request's first word (or "body" for a DATA body): round trips in ns
    wrong = []
    lines_sent = 0
    done = 0
    failures = []
    began = time.monotonic_ns()
    for pick in picks:
        if time.monotonic() > deadline:
            failures.append("deadline")
            break
        steps = sessions[pick]
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=10) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                greeting = read_reply(sock, deadline)
                if greeting != steps[0][1]:
                    wrong.append({"session": pick + 1, "step": 0, "got": greeting[:120].decode(errors="replace")})
                for number, (request, expected) in enumerate(steps[1:], start=1):
                    sent = time.monotonic_ns()
                    sock.sendall(request)
                    lines_sent += request.count(b"\n")
                    reply = read_reply(sock, deadline)
                    took = time.monotonic_ns() - sent
                    round_trips.append(took)
                    verb = request.split(b" ", 1)[0].split(b"\r", 1)[0].decode(errors="replace").upper()
                    by_verb.setdefault(verb if verb in ("EHLO", "MAIL", "RCPT", "DATA", "QUIT") else "body", []).append(took)
                    if QUEUE_ID.sub(b"queued as *", reply) != QUEUE_ID.sub(b"queued as *", expected):
                        wrong.append({"session": pick + 1, "step": number, "sent": request[:60].decode(errors="replace"),
                                      "got": reply[:120].decode(errors="replace"),
                                      "expected": expected[:120].decode(errors="replace")})
            done += 1
        except (OSError, TimeoutError, ConnectionError) as error:
            failures.append(f"session {pick + 1}: {error!r}")
            if len(failures) > 20:
                break
    elapsed = (time.monotonic_ns() - began) / 1e9
    ordered = sorted(round_trips)

    def percentile(p):
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] / 1000 if ordered else None

    print(json.dumps({
        "label": args.label, "recorded_sessions": len(sessions), "connections": args.connections, "completed": done,
        "round_trips": len(round_trips), "client_lines": lines_sent, "elapsed_s": round(elapsed, 3),
        "sessions_per_s": round(done / elapsed, 1) if elapsed else None,
        "rtt_mean_us": round(statistics.mean(ordered) / 1000, 1) if ordered else None,
        "rtt_p50_us": percentile(0.50), "rtt_p99_us": percentile(0.99),
        "rtt_mean_us_by_request": {verb: round(statistics.mean(times) / 1000, 1) for verb, times in sorted(by_verb.items())},
        "wrong_replies": len(wrong), "wrong_examples": wrong[:3], "failures": failures[:5], "cassette_load_s": round(load_s, 2),
    }))
    return 0 if done == args.connections and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
