#!/usr/bin/env python3
"""Inclusive CPU share of functions from `perf script -F comm,tid,ip,sym` output (python3 stdlib
only; demangles Swift names with `swift demangle` when it is on the PATH).

  perf-inclusive.py SCRIPT.txt [--match ReplayCore] [--limit 25] [--callers-of SUBSTRING]

Prints, per function whose mangled name contains MATCH, the percentage of samples with it
anywhere on the stack; with --callers-of, also which MATCH function calls the first frame
containing SUBSTRING (e.g. the Logger metadata setter), by share of all samples.
"""
import argparse
import collections
import shutil
import subprocess


def stacks(path):
    current = []
    for line in open(path, errors="replace"):
        if not line.strip() or line[0] not in " \t":
            if current:
                yield current
            current = []
            continue
        parts = line.strip().split(None, 1)
        current.append(parts[1] if len(parts) > 1 else "?")
    if current:
        yield current


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("script")
    parser.add_argument("--match", default="ReplayCore")
    parser.add_argument("--limit", type=int, default=25)
    parser.add_argument("--callers-of", default=None)
    args = parser.parse_args()
    total = 0
    inclusive = collections.Counter()
    callers = collections.Counter()
    for stack in stacks(args.script):
        total += 1
        for frame in set(stack):
            if args.match in frame:
                inclusive[frame] += 1
        if args.callers_of:
            for index, frame in enumerate(stack):
                if args.callers_of in frame:
                    caller = next((f for f in stack[index + 1:] if args.match in f), "?")
                    callers[caller] += 1
                    break
    names = [f for f, _ in inclusive.most_common(args.limit)] + [f for f, _ in callers.most_common(5)]
    readable = dict(zip(names, names))
    if shutil.which("swift") and names:
        result = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                                capture_output=True, text=True, timeout=120)
        readable.update(zip(names, result.stdout.split("\n")))
    print(f"samples: {total}")
    for frame, count in inclusive.most_common(args.limit):
        print(f"{100 * count / total:5.1f}% {readable[frame][:160]}")
    if args.callers_of:
        print(f"callers of {args.callers_of}:")
        for frame, count in callers.most_common(5):
            print(f"{100 * count / total:5.1f}% {readable[frame][:160]}")


if __name__ == "__main__":
    main()
