"""CPU seconds used so far by every process of the stack (from its control channel) and by any
extra NAME=PID given, from /proc: where the time goes.

    python3 cpu.py 127.0.0.1:8475 loadgen=1234
"""
import json
import os
import sys
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of pid and every descendant still running."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in os.listdir(f"/proc/{p}/task"):
                kids = open(f"/proc/{p}/task/{task}/children").read().split()
                todo.extend(int(k) for k in kids)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


control = sys.argv[1]
processes = json.load(urllib.request.urlopen(f"http://{control}/processes"))
pids = {p["name"]: p["pid"] for p in processes if p["pid"]}
for extra in sys.argv[2:]:
    name, pid = extra.split("=")
    pids[name] = int(pid)
print(json.dumps({name: cpu_seconds(pid) for name, pid in pids.items()}))
