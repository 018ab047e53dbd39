#!/usr/bin/env python3
"""Writes a large, deterministic classic pcap for the import benchmark.

Ethernet + IPv4 + TCP with valid IP and TCP checksums. Thousands of connections with
overlapping lifetimes (a few hundred open at once): SMTP sessions on port 25, small HTTP
exchanges and bulk HTTP downloads (Content-Length bodies) on port 80, so that tshark's
HTTP and SMTP dissectors reassemble every stream. Each connection has a handshake and
ends in FINs (90 %) or a RST (10 %). About 1 % of data segments are retransmitted, 1 %
reordered and 0.1 % missing from the capture (the receiver acknowledges them anyway).

Usage: make-capture.py OUT.pcap [--connections N] [--seed S] [--bulk-mb MB]
Prints a one-line summary (bytes, packets, connections, peak concurrency) on stderr.
"""
import argparse
import random
import struct
import sys
import time

MSS = 1448
CLIENT_MAC = b"\x02\x00\x00\x00\x01\x01"
SERVER_MAC = b"\x02\x00\x00\x00\x02\x02"
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def checksum(data):
    """RFC 1071 checksum: the sum of 16-bit words is the number modulo 0xffff (2**16 = 1 mod 0xffff).

    A remainder of 0 means the ones' complement sum is 0xffff (the data is never all zeros),
    whose complement is 0; writing 0xffff instead would be equivalent but Wireshark flags it.
    """
    if len(data) & 1:
        data += b"\0"
    total = int.from_bytes(data, "big") % 0xFFFF
    return ~total & 0xFFFF if total else 0


def frame(src, dst, sport, dport, seq, ack, flags, payload=b"", syn_options=False):
    options = b"\x02\x04\x05\xb4\x01\x03\x03\x07" if syn_options else b""
    tcp_len = 20 + len(options) + len(payload)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (20 + len(options)) // 4 << 4, flags, 0xFFFF if not flags & RST else 0, 0, 0) + options
    pseudo = src + dst + struct.pack("!HH", 6, tcp_len)
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    from_client = src[1] == 1
    macs = SERVER_MAC + CLIENT_MAC if from_client else CLIENT_MAC + SERVER_MAC
    return macs + b"\x08\x00" + ip + tcp + payload


class Connection:
    """All packets of one connection, as (time, frame), sorted by time."""

    def __init__(self, index, start, kind, rng, pool, stats):
        self.rng = rng
        self.pool = pool
        self.stats = stats
        self.t = start
        self.packets = []
        self.client = bytes([10, 1, 1 + index // 250 % 250, 1 + index % 250])
        self.server = bytes([10, 2, 0, 1 + index % 20])
        self.cport = 1024 + (index * 7) % 60000
        self.sport = 25 if kind == "smtp" else 80
        self.next = {"c": rng.getrandbits(32), "s": rng.getrandbits(32)}
        self.unacked_segments = {"c": 0, "s": 0}
        self.rtt = rng.uniform(0.002, 0.080)
        getattr(self, kind)()
        self.packets.sort(key=lambda p: p[0])

    def emit(self, t, side, flags, payload=b"", syn_options=False, seq=None):
        other = "s" if side == "c" else "c"
        src, dst, sp, dp = ((self.client, self.server, self.cport, self.sport) if side == "c"
                            else (self.server, self.client, self.sport, self.cport))
        ack = self.next[other] if flags & ACK else 0
        self.packets.append((t, frame(src, dst, sp, dp, self.next[side] if seq is None else seq, ack,
                                      flags, payload, syn_options)))

    def handshake(self):
        rtt = self.rtt
        self.emit(self.t, "c", SYN, syn_options=True)
        self.next["c"] += 1
        self.emit(self.t + rtt / 2, "s", SYN | ACK, syn_options=True)
        self.next["s"] += 1
        self.t += rtt
        self.emit(self.t, "c", ACK)

    def send(self, side, data, rate=None):
        """Sends `data` as MSS segments; ~1 % retransmitted, ~1 % reordered, ~0.1 % lost."""
        rng = self.rng
        other = "s" if side == "c" else "c"
        self.t += self.rtt / 2
        gap = MSS * 8 / rate if rate else 0.0001
        segments = []
        for offset in range(0, len(data), MSS):
            chunk = data[offset:offset + MSS]
            last = offset + MSS >= len(data)
            segments.append([self.t, self.next[side], chunk, PSH | ACK if last else ACK])
            self.next[side] += len(chunk)
            self.t += gap
        for i in range(len(segments) - 1):
            if rng.random() < 0.01:  # reordered: swap times with the next segment
                segments[i][0], segments[i + 1][0] = segments[i + 1][0] + 0.00001, segments[i][0]
                self.stats["reordered"] += 1
        end = self.next[side]
        for t, seq, chunk, flags in segments:
            if rng.random() < 0.001:
                self.stats["lost"] += 1
                continue
            self.next[side] = seq  # emit with the segment's own sequence number
            self.emit(t, side, flags, chunk)
            if rng.random() < 0.01:
                self.emit(t + max(0.2, 3 * self.rtt), side, flags, chunk)
                self.stats["retransmitted"] += 1
            self.unacked_segments[side] += 1
            if self.unacked_segments[side] >= 2:
                self.next[side] = seq + len(chunk)
                self.emit(t + self.rtt / 2, other, ACK)
                self.unacked_segments[side] = 0
        self.next[side] = end
        if self.unacked_segments[side]:
            self.emit(self.t + self.rtt / 2, other, ACK)
            self.unacked_segments[side] = 0
        self.t += self.rtt / 2
        self.stats["payload"] += len(data)

    def think(self, low, high):
        self.t += self.rng.uniform(low, high)

    def close(self):
        rng = self.rng
        if rng.random() < 0.1:
            self.emit(self.t, rng.choice("cs"), RST | ACK)
            return
        first, second = ("c", "s") if rng.random() < 0.5 else ("s", "c")
        self.emit(self.t, first, FIN | ACK)
        self.next[first] += 1
        self.t += self.rtt / 2
        self.emit(self.t, second, FIN | ACK)
        self.next[second] += 1
        self.t += self.rtt / 2
        self.emit(self.t, first, ACK)

    def body(self, size):
        start = self.rng.randrange(0, len(self.pool) - size)
        return self.pool[start:start + size]

    def smtp(self):
        rng = self.rng
        self.handshake()
        self.send("s", b"220 mx.bench.example ESMTP ready\r\n")
        self.think(0.01, 0.5)
        self.send("c", b"EHLO client%d.bench.example\r\n" % rng.randrange(10000))
        self.send("s", b"250-mx.bench.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
        for _ in range(rng.randint(1, 3)):
            self.think(0.01, 1.0)
            self.send("c", b"MAIL FROM:<sender%d@bench.example>\r\n" % rng.randrange(1000))
            self.send("s", b"250 2.1.0 Ok\r\n")
            self.send("c", b"RCPT TO:<rcpt%d@bench.example>\r\n" % rng.randrange(1000))
            self.send("s", b"250 2.1.5 Ok\r\n")
            self.send("c", b"DATA\r\n")
            self.send("s", b"354 End data with <CR><LF>.<CR><LF>\r\n")
            lines = b"".join(b"Line %d of a message body that is plain text.\r\n" % i for i in range(rng.randint(10, 120)))
            self.send("c", b"Subject: bench\r\n\r\n" + lines + b".\r\n")
            self.send("s", b"250 2.0.0 Ok: queued as %X\r\n" % rng.getrandbits(40))
        self.think(0.01, 0.5)
        self.send("c", b"QUIT\r\n")
        self.send("s", b"221 2.0.0 Bye\r\n")
        self.close()

    def http(self, requests, size, rate):
        self.handshake()
        for _ in range(requests):
            self.send("c", b"GET /object/%d HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
                      % self.rng.randrange(10 ** 6))
            self.think(0.001, 0.05)
            headers = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % size
            self.send("s", headers + self.body(size), rate)
            self.think(0.05, 2.0)
        self.close()

    def web(self):
        self.http(self.rng.randint(1, 3), self.rng.randint(2000, 60000), 20e6)

    def bulk(self):
        self.http(1, self.rng.randint(100_000, 600_000), 100e6)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds over which connections start")
    args = parser.parse_args()
    began = time.monotonic()
    rng = random.Random(args.seed)
    pool = rng.randbytes(4 << 20)
    stats = {"payload": 0, "retransmitted": 0, "reordered": 0, "lost": 0}
    epoch = 1_795_000_000.0
    kinds = ["smtp"] * 66 + ["web"] * 22 + ["bulk"] * 12
    starts = sorted((epoch + rng.uniform(0, args.duration), rng.choice(kinds)) for _ in range(args.connections))

    import heapq
    active = []  # (time of next packet, connection index, packet index, connection)
    next_start = 0
    packets = written = peak = 0
    with open(args.output, "wb", buffering=4 << 20) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while active or next_start < len(starts):
            if next_start < len(starts) and (not active or starts[next_start][0] <= active[0][0]):
                start, kind = starts[next_start]
                conn = Connection(next_start, start, kind, random.Random(args.seed * 1_000_003 + next_start), pool, stats)
                heapq.heappush(active, (conn.packets[0][0], next_start, 0, conn))
                next_start += 1
                peak = max(peak, len(active))
                continue
            t, index, position, conn = heapq.heappop(active)
            data = conn.packets[position][1]
            seconds = int(t)
            out.write(struct.pack("<IIII", seconds, int((t - seconds) * 1e6), len(data), len(data)))
            out.write(data)
            packets += 1
            written += 16 + len(data)
            if position + 1 < len(conn.packets):
                heapq.heappush(active, (conn.packets[position + 1][0], index, position + 1, conn))
    print(f"{args.output}: {written + 24} bytes, {packets} packets, {len(starts)} connections, "
          f"peak {peak} open at once, {stats['payload']} payload bytes, {stats['retransmitted']} retransmitted, "
          f"{stats['reordered']} reordered, {stats['lost']} lost segments, {time.monotonic() - began:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
