#!/usr/bin/env python3
"""Prints one JSON object about a running process, for bench/proxy.sh (python3 stdlib only):
peak RSS so far (VmHWM, KB), and CPU seconds (user+system) per thread and in all.

  proc-sample.py PID
"""
import json
import os
import sys

pid = sys.argv[1]
ticks = os.sysconf("SC_CLK_TCK")
result = {"pid": int(pid), "vmhwm_kb": None, "threads": {}, "cpu_s": 0.0}
try:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            result["vmhwm_kb"] = int(line.split()[1])
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{task}/stat").read()
        except OSError:
            continue
        # The thread name is in parentheses and may hold spaces; the fields after it are plain.
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
        result["threads"][name] = round(result["threads"].get(name, 0.0) + cpu, 2)
        result["cpu_s"] += cpu
except OSError as error:
    result["error"] = repr(error)
result["cpu_s"] = round(result["cpu_s"], 2)
print(json.dumps(result))
