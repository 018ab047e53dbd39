#!/usr/bin/env python3
"""Many short TCP connections, for bench/proxy.sh (python3 stdlib only).

  tcp-rr.py serve PORT
      An echo server on 127.0.0.1:PORT (asyncio): reads what a connection sends and sends it
      back, until the client closes. Prints "listening on 127.0.0.1:PORT" to stderr when ready.

  tcp-rr.py client PORT [--count N] [--size B] [--deadline S] [--label NAME]
      N sequential cycles of: connect to 127.0.0.1:PORT, send B bytes, receive the same B bytes
      back (checked byte for byte), close. Every socket operation times out after 5 s, and the
      whole run stops at the deadline (default 60 s). Prints one JSON object: connections per
      second and per-connection latency percentiles in microseconds.
"""
import asyncio
import json
import os
import socket
import statistics
import sys
import time


async def serve(port):
    async def echo(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", port, backlog=512, reuse_address=True)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def client(port, count, size, deadline, label):
    # Deterministic, not all text: the same bytes every run and for every proxy.
    payload = bytes((i * 7 + 13) % 256 for i in range(size))
    latencies = []
    errors = 0
    first_error = None
    started = time.perf_counter()
    stop_at = started + deadline
    for _ in range(count):
        if time.perf_counter() > stop_at:
            break
        began = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(payload)
                received = b""
                while len(received) < size:
                    chunk = sock.recv(size - len(received))
                    if not chunk:
                        break
                    received += chunk
                if received != payload:
                    raise ValueError(f"got {len(received)} bytes back, not the {size} sent")
        except (OSError, ValueError) as error:
            errors += 1
            first_error = first_error or repr(error)
            continue
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p):
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6, 1)

    print(json.dumps({
        "label": label, "attempted": len(latencies) + errors, "completed": len(latencies), "errors": errors,
        "first_error": first_error, "elapsed_s": round(elapsed, 4),
        "connections_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else None,
        "p50_us": percentile(50), "p99_us": percentile(99),
        "mean_us": round(statistics.mean(latencies) * 1e6, 1) if latencies else None,
    }))
    return 0 if errors == 0 and len(latencies) == count else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "serve":
        try:
            asyncio.run(serve(int(argv[2])))
        except KeyboardInterrupt:
            pass
        return 0
    if len(argv) >= 3 and argv[1] == "client":
        options = {"--count": "2000", "--size": "100", "--deadline": "60", "--label": ""}
        rest = argv[3:]
        while rest:
            if rest[0] not in options or len(rest) < 2:
                print(__doc__, file=sys.stderr)
                return 2
            options[rest[0]] = rest[1]
            rest = rest[2:]
        return client(int(argv[2]), int(options["--count"]), int(options["--size"]),
                      float(options["--deadline"]), options["--label"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
