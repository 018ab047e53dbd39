#!/usr/bin/env python3
"""Writes benchmark cassettes (docs/cassette-format.md, version 1) directly, for bench/replay.sh
(python3 stdlib only, deterministic for a seed).

  make-cassette.py smtp OUT --sessions N [--seed S]
      N SMTP sessions as a Postfix MX would have answered them: banner, EHLO, MAIL, one or two
      RCPT, then DATA and QUIT, or QUIT after a refusal. Sessions differ where real ones do:
      client address and EHLO name, sender (a pool of 200), recipients (a pool of max(2N, 50)
      mailboxes, each with a fixed fate: 80 % exist and get 250, 15 % are unknown and get 550,
      5 % are greylisted and get 450; refusals name the address, as Postfix's do), the message
      (headers with a unique Date and Message-ID, 2-10 body lines of varied words) and the
      queue id in the final 250. So the conversation tree branches at RCPT and at the message.

  make-cassette.py timing OUT --mode chunks|steps [--count 200] [--min-ms 1] [--max-ms 500] [--seed S]
      One line-protocol session with COUNT delays drawn log-uniform from MIN-MAX ms, after a
      greeting line "READY":
      chunks: the client sends "GO", the server answers with COUNT lines, line i DELAY[i] after
              the one before it (the first DELAY[0] after GO);
      steps:  COUNT request/reply steps: "STEP i" is answered DELAY[i] after it, and the client
              sends the next step 0.2 ms after the reply.
      bench/timing-fidelity.py reads the delays back from the cassette.

Prints a one-line summary to stderr.
"""
import argparse
import json
import math
import random
import sys

HEADER = {"format": "replayd-cassette", "version": 1, "tool": "bench/make-cassette.py",
          "created": "2026-11-22T12:00:00.000000Z", "source": "edit"}

EHLO_REPLY = ("250-mx1.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
              "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n")
WORDS = ("the quarterly report is attached please review before friday meeting notes agenda invoice "
         "payment overdue reminder shipping tracking number order confirmed thanks regards team "
         "schedule update server maintenance window tonight backup completed successfully").split()
QUEUE_ID_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def start_time(seconds):
    whole = int(seconds)
    micros = int(round((seconds - whole) * 1e6))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"2026-11-22T{8 + hours % 12:02d}:{minutes:02d}:{secs:02d}.{micros:06d}Z"


class Writer:
    def __init__(self, out):
        self.out = out
        self.out.write(json.dumps(HEADER, separators=(",", ":")) + "\n")
        self.lines = 1

    def event(self, session, t, ev, **fields):
        line = {"s": session, "t": f"{t:.6f}", "ev": ev}
        line.update(fields)
        # t is a number with 6 digits: written by hand so json does not quote it.
        text = json.dumps(line, separators=(",", ":"), ensure_ascii=False)
        text = text.replace(f'"t":"{t:.6f}"', f'"t":{t:.6f}', 1)
        self.out.write(text + "\n")
        self.lines += 1


def smtp(args):
    rng = random.Random(args.seed)
    n = args.sessions
    mailboxes = max(2 * n, 50)
    fates = []  # per mailbox: 250, 550 or 450
    for _ in range(mailboxes):
        r = rng.random()
        fates.append(250 if r < 0.80 else 550 if r < 0.95 else 450)
    counts = {250: 0, 550: 0, 450: 0}
    delivered = 0
    with open(args.out, "w", encoding="utf-8") as out:
        w = Writer(out)
        clock = 0.0
        for s in range(1, n + 1):
            clock += rng.uniform(0.001, 0.2)
            client = f"10.{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(1, 255)}:{rng.randrange(32768, 61000)}"
            w.event(s, 0.0, "open", client=client, server="192.0.2.25:25", start=start_time(clock))
            t = 0.0

            def step(seconds):
                nonlocal t
                t += seconds
                return t

            w.event(s, step(rng.uniform(0.0003, 0.002)), "data", dir="s2c", text="220 mx1.example.net ESMTP Postfix (Debian/GNU)\r\n")
            host = f"host{rng.randrange(10000)}.client{rng.randrange(500)}.example.org"
            w.event(s, step(rng.uniform(0.0002, 0.001)), "data", dir="c2s", text=f"EHLO {host}\r\n")
            w.event(s, step(rng.uniform(0.0001, 0.0005)), "data", dir="s2c", text=EHLO_REPLY)
            sender = f"sender{rng.randrange(200)}@example.org"
            w.event(s, step(rng.uniform(0.0002, 0.001)), "data", dir="c2s", text=f"MAIL FROM:<{sender}> SIZE={rng.randrange(500, 5000)}\r\n")
            w.event(s, step(rng.uniform(0.0005, 0.003)), "data", dir="s2c", text="250 2.1.0 Ok\r\n")
            recipients = rng.sample(range(mailboxes), 2 if rng.random() < 0.15 else 1)
            accepted = []
            for r in recipients:
                address = f"user{r}@example.net"
                w.event(s, step(rng.uniform(0.0002, 0.001)), "data", dir="c2s", text=f"RCPT TO:<{address}>\r\n")
                fate = fates[r]
                counts[fate] += 1
                if fate == 250:
                    reply = "250 2.1.5 Ok\r\n"
                    accepted.append(address)
                elif fate == 550:
                    reply = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table\r\n"
                else:
                    reply = f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/example.net.html\r\n"
                w.event(s, step(rng.uniform(0.001, 0.02) if fate == 450 else rng.uniform(0.0005, 0.005)), "data", dir="s2c", text=reply)
            if accepted:
                delivered += 1
                w.event(s, step(rng.uniform(0.0002, 0.001)), "data", dir="c2s", text="DATA\r\n")
                w.event(s, step(rng.uniform(0.0001, 0.0005)), "data", dir="s2c", text="354 End data with <CR><LF>.<CR><LF>\r\n")
                message_id = f"{rng.getrandbits(48):012x}.{s}@client.example.org"
                lines = [f"From: Sender <{sender}>", f"To: <{accepted[0]}>",
                         f"Subject: {' '.join(rng.choice(WORDS) for _ in range(rng.randrange(2, 7)))}",
                         f"Date: Sun, 22 Nov 2026 {8 + s % 12:02d}:{s % 60:02d}:{rng.randrange(60):02d} +0000",
                         f"Message-ID: <{message_id}>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", ""]
                for _ in range(rng.randrange(2, 11)):
                    lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12))))
                body = "\r\n".join(lines) + "\r\n.\r\n"
                w.event(s, step(rng.uniform(0.0002, 0.002)), "data", dir="c2s", text=body)
                queue_id = "".join(rng.choice(QUEUE_ID_ALPHABET) for _ in range(rng.randrange(10, 13)))
                w.event(s, step(rng.uniform(0.002, 0.03)), "data", dir="s2c", text=f"250 2.0.0 Ok: queued as {queue_id}\r\n")
            w.event(s, step(rng.uniform(0.0002, 0.001)), "data", dir="c2s", text="QUIT\r\n")
            w.event(s, step(rng.uniform(0.0001, 0.0005)), "data", dir="s2c", text="221 2.0.0 Bye\r\n")
            w.event(s, step(0.00005), "close", dir="s2c", how="fin")
            w.event(s, step(0.0001), "close", dir="c2s", how="fin")
            w.event(s, step(0.000001), "end")
        lines = w.lines
    print(f"make-cassette: {args.out}: {n} SMTP sessions, {lines} lines, {delivered} with DATA; "
          f"RCPT replies 250: {counts[250]}, 550: {counts[550]}, 450: {counts[450]}; {mailboxes} mailboxes", file=sys.stderr)


def timing(args):
    rng = random.Random(args.seed)
    low, high = math.log(args.min_ms), math.log(args.max_ms)
    delays = [math.exp(rng.uniform(low, high)) / 1000 for _ in range(args.count)]
    with open(args.out, "w", encoding="utf-8") as out:
        w = Writer(out)
        w.event(1, 0.0, "open", client="127.0.0.1:40000", server="127.0.0.1:7000", start=start_time(1))
        # A greeting first, so the client's clock starts once the connection is set up on the
        # replay side (accepting and registering a connection is not a recorded delay).
        w.event(1, 0.0005, "data", dir="s2c", text="READY\r\n")
        t = 0.001
        if args.mode == "chunks":
            w.event(1, t, "data", dir="c2s", text="GO\r\n")
            for i, delay in enumerate(delays):
                t += delay
                w.event(1, t, "data", dir="s2c", text=f"chunk {i:03d}\r\n")
        else:
            for i, delay in enumerate(delays):
                w.event(1, t, "data", dir="c2s", text=f"STEP {i:03d}\r\n")
                t += delay
                w.event(1, t, "data", dir="s2c", text=f"REPLY {i:03d}\r\n")
                t += 0.0002
        w.event(1, t + 0.0001, "close", dir="s2c", how="fin")
        w.event(1, t + 0.0002, "close", dir="c2s", how="fin")
        w.event(1, t + 0.0003, "end")
    ordered = sorted(delays)
    print(f"make-cassette: {args.out}: {args.mode}, {args.count} delays log-uniform {args.min_ms}-{args.max_ms} ms "
          f"(seed {args.seed}): sum {sum(delays):.2f} s, median {ordered[len(ordered) // 2] * 1000:.1f} ms, "
          f"min {ordered[0] * 1000:.2f} ms, max {ordered[-1] * 1000:.1f} ms", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    p = sub.add_parser("smtp")
    p.add_argument("out")
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--seed", type=int, default=20261122)
    p.set_defaults(run=smtp)
    p = sub.add_parser("timing")
    p.add_argument("out")
    p.add_argument("--mode", choices=("chunks", "steps"), required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--min-ms", type=float, default=1.0)
    p.add_argument("--max-ms", type=float, default=500.0)
    p.add_argument("--seed", type=int, default=20261122)
    p.set_defaults(run=timing)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
