"""End-to-end lag probe: posts one prediction at a time for the probe's own match (Probe v
Marker, phase 1: run.sh adds it to the fixture list, and the load never sends it), and measures
how long until /api/live counts it (202 -> visible). Prints one JSON line: the samples in ms, and
when each probe was accepted (Unix seconds), to line the slow ones up with what else happened.

    python3 probe.py http://127.0.0.1:8080 60
"""
import json
import sys
import time
import urllib.parse
import urllib.request

base, seconds = sys.argv[1], float(sys.argv[2])
query = urllib.parse.urlencode({"phase": 1, "team1": "Probe", "team2": "Marker"})
body = json.dumps({"team1": "Probe", "team2": "Marker", "score": "1-0", "phase": 1}).encode()


def total():
    with urllib.request.urlopen(f"{base}/api/live?{query}", timeout=10) as r:
        live = json.load(r)
    return sum(m["total"] for p in live["phases"] for m in p["matches"])


seen = total()
samples, accepted_at, lost, n = [], [], 0, 0
deadline = time.time() + seconds
while time.time() < deadline:
    n += 1
    req = urllib.request.Request(f"{base}/input", data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 202:
                continue
    except Exception:
        continue
    accepted, accepted_wall = time.perf_counter(), time.time()
    seen += 1
    while True:
        try:
            if total() >= seen:
                samples.append((time.perf_counter() - accepted) * 1000)
                accepted_at.append(accepted_wall)
                break
        except Exception:
            pass
        if time.perf_counter() - accepted > 30:
            lost += 1
            break
        time.sleep(0.01)
    time.sleep(0.2)
print(json.dumps({"samples_ms": samples, "accepted_at": accepted_at, "not_visible_in_30s": lost, "probes": n}))
