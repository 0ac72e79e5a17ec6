"""End-to-end lag probe: posts one marker prediction at a time through the ingress and measures
how long until /api/live shows it (202 → visible). Prints one JSON line of samples in ms.

    python3 probe.py http://127.0.0.1:8080 60
"""
import json
import sys
import time
import urllib.request

base, seconds = sys.argv[1], float(sys.argv[2])
tag = f"Probe {int(time.time())}"
samples, lost, n = [], 0, 0
deadline = time.time() + seconds
while time.time() < deadline:
    n += 1
    team1, team2 = f"{tag} {n} a", f"{tag} {n} b"
    body = json.dumps({"team1": team1, "team2": team2, "score": "1-0", "phase": 1}).encode()
    req = urllib.request.Request(f"{base}/input", data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 202:
                continue
    except Exception:
        continue
    accepted = time.perf_counter()
    query = urllib.parse.urlencode({"phase": 1, "team1": team1, "team2": team2})
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/live?{query}", timeout=10) as r:
                live = json.load(r)
            if any(m["total"] >= 1 for p in live["phases"] for m in p["matches"]):
                samples.append((time.perf_counter() - accepted) * 1000)
                break
        except Exception:
            pass
        if time.perf_counter() - accepted > 30:
            lost += 1
            break
        time.sleep(0.01)
    time.sleep(0.2)
print(json.dumps({"samples_ms": samples, "not_visible_in_30s": lost, "probes": n}))
