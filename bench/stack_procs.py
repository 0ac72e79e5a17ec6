"""The local stack's processes as the benchmarks see them: names and pids from the stack's own
control channel (GET /processes, with the token of the state folder's stack.json), CPU and
memory from /proc. Shared by bench/pipeline/curve.py and bench/hostile/hostile.py."""
import json
import os
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def stack_file(state_dir):
    return json.load(open(os.path.join(state_dir, "stack.json")))


def processes(stack):
    """{name: pid} of every running process of the stack (`stack`: its stack.json)."""
    req = urllib.request.Request(f"http://{stack['control']}/processes",
                                 headers={"Authorization": f"Bearer {stack['control_token']}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return {p["name"]: p["pid"] for p in json.load(r) if p["pid"]}


def status_kib(pid, field):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM); 0 when absent."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _tree(pid):
    """pid and its descendants still running."""
    todo = [pid]
    while todo:
        p = todo.pop()
        yield p
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(k) for k in open(f"/proc/{p}/task/{task}/children").read().split())
        except (FileNotFoundError, ProcessLookupError):
            pass


def tree_cpu(pid):
    """utime + stime of pid and its descendants still running, seconds."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


def tree_rss(pid):
    """Resident memory of pid and its descendants, bytes."""
    total = 0
    for p in _tree(pid):
        try:
            total += status_kib(p, "VmRSS") * 1024
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total
