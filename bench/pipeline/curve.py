"""The throughput-latency curve of the pipeline against NGINX answering a fixed 202, in one run.

    python3 curve.py WORK BIN BASELINE_URL STATE_DIR DURATION "10 32 128 512" "1 100" READY_S [RATE]

RATE (predictions per second, optional) caps the pipeline's load at a steady rate, as requests
of BATCHES predictions (loadgen --rate RATE/BATCHES): a sustained rate, rather than as many as
the machine takes. The baseline stays uncapped (the ceiling).

First the idle stack: how long `experiments up` took to be ready (READY_S, timed by run.sh)
and every process's resident memory.

For each predictions-per-request (BATCHES) and each number of simultaneous requests (USERS):
  1. baseline: loadgen posts to NGINX's fixed 202 for DURATION seconds;
  2. pipeline: loadgen posts through the stack's NGINX into ingest for DURATION seconds, while
     probe.py measures 202 -> visible in /api/live, and /proc gives each process's CPU seconds
     and the broker's JMX exporter the records and produce/fetch requests Kafka served;
  3. the pipeline drains: every accepted prediction in MongoDB and in Redis before the next
     point (accepted == MongoDB == Redis is checked at every point, so none hides in the next).
The seed's own command (10 simultaneous, 10,000 requests) before the curve, on the fresh stack,
and again after it. Prints the table and writes
every number to WORK/curve.json.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stack_procs import processes as stack_processes, stack_file, tree_cpu, tree_rss  # noqa: E402

work, bin_dir, baseline_url, state_dir, duration = sys.argv[1:6]
duration = int(duration)
users_list = [int(u) for u in sys.argv[6].split()]
batches = [int(b) for b in sys.argv[7].split()]
ready_s = float(sys.argv[8])
rate = float(sys.argv[9]) if len(sys.argv) > 9 and sys.argv[9] else None
# 10,000/s for 60 s is 600,000 documents for a store that writes 2,500-5,000 a second here.
drain_limit = int(os.environ.get("DRAIN_LIMIT", "600"))
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
data = os.path.join(root, "loadgen/data/predictions.json")
stack = stack_file(state_dir)
ports = stack["ports"]
ingress = f"http://127.0.0.1:{ports['ingress']}"
jmx = f"http://127.0.0.1:{ports['kafka-jmx']}/metrics"
def get_json(url, timeout=30, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def processes():
    return stack_processes(stack)


def cpu_now(extra=None):
    pids = processes()
    pids.update(extra or {})
    return {name: tree_cpu(pid) for name, pid in pids.items()}


def kafka_counters():
    """Records in, produce requests and fetch requests the broker served so far (JMX exporter)."""
    text = urllib.request.urlopen(jmx, timeout=10).read().decode()
    out = {"records_in": 0.0, "produce_requests": 0.0, "fetch_requests": 0.0}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)\{?([^}]*)\}?\s+(\S+)$", line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2), float(m.group(3))
        low = (name + labels).lower()
        # The all-topics total only (no topic label), so each record counts once.
        if "brokertopicmetrics" in low and "messagesinpersec" in low and "topic=" not in low and name.endswith("_count"):
            out["records_in"] += value
        elif "requestmetrics" in low and "requestspersec" in low and name.endswith("_count"):
            if 'request="produce"' in low:
                out["produce_requests"] += value
            elif 'request="fetch"' in low or 'request="fetchconsumer"' in low:
                out["fetch_requests"] += value
    return out


def pct(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))]


def loadgen(url, users, batch, seconds, report, n=100_000_000, rate=None):
    cmd = [f"{bin_dir}/loadgen", "run", "-f", data, "--url", url, "--concurrence", str(users),
           "--batch", str(batch), "-n", str(n), "--timeout", f"{seconds}s", "--report", report]
    if rate:
        cmd += ["--rate", f"{rate / batch:g}"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stats():
    return get_json(f"{ingress}/api/stats", timeout=90)


def drain(expected, limit=None):
    """Waits until both stores hold `expected` predictions; returns (seconds, live, logs)."""
    limit = limit or drain_limit
    start = time.time()
    s = {"live_total": -1, "logs_total": -1}
    while time.time() - start < limit:
        try:
            s = stats()
        except Exception as e:  # a slow count: try again
            print(f"    /api/stats: {e}; retrying", flush=True)
        if s["live_total"] >= expected and s["logs_total"] >= expected:
            return time.time() - start, s["live_total"], s["logs_total"], True
        time.sleep(1)
    return time.time() - start, s["live_total"], s["logs_total"], False


idle = {name: tree_rss(pid) for name, pid in processes().items()}
idle_total = sum(idle.values())
print(f"stack: ready {ready_s:.1f} s after `experiments up` (target at most 15 s: {'met' if ready_s <= 15 else 'NOT met'}); "
      f"idle resident {idle_total / 2**30:.2f} GiB (target at most 2 GiB: {'met' if idle_total <= 2 * 2**30 else 'NOT met'})")
print("  " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(idle.items(), key=lambda kv: -kv[1])), flush=True)

def seed_command(when):
    """The seed's own command on the stack as it is now; returns its figures and the store's size."""
    global total_accepted
    stored = stats()["logs_total"]
    print(f"==> the seed's command {when} ({stored:,} stored): loadgen run -f loadgen/data/predictions.json "
          "--concurrence 10 -n 10000 --timeout 3m", flush=True)
    report = f"{work}/seed-{when.replace(' ', '-')}.json"
    loadgen(f"{ingress}/input", 10, 1, 180, report, n=10000).wait()
    seed = json.load(open(report))
    total_accepted += seed["succeeded"]
    drained_s, live, logs, drained = drain(total_accepted)
    return {"when": when, "stored_before": stored,
            "elapsed_s": seed["elapsed_secs"], "requests_per_s": seed["requests_per_sec"],
            "p50_ms": seed["latency"]["p50_ms"], "p99_ms": seed["latency"]["p99_ms"],
            "succeeded": seed["succeeded"], "failed": seed["failed"],
            "zero_loss": drained and live == logs == total_accepted}


points = []
total_accepted = stats()["live_total"]
# What a user sees first: the seed's command on the stack just started, before the curve fills
# the store (each document costs FerretDB more as the collection and its indexes grow).
seed_fresh = seed_command("on the fresh stack")
for batch in batches:
    for users in users_list:
        label = f"{users} simultaneous, {batch} per request" + (f", capped at {rate:,.0f} predictions/s" if rate else "")
        print(f"==> {label}: baseline (NGINX fixed 202), {duration} s", flush=True)
        b_report = f"{work}/baseline-{users}-{batch}.json"
        loadgen(baseline_url, users, batch, duration, b_report).wait()
        base = json.load(open(b_report))

        print(f"==> {label}: pipeline, {duration} s", flush=True)
        p_report = f"{work}/pipeline-{users}-{batch}.json"
        k0 = kafka_counters()
        probe = subprocess.Popen([sys.executable, f"{here}/probe.py", ingress, str(duration)],
                                 stdout=subprocess.PIPE, text=True)
        gen = loadgen(f"{ingress}/input", users, batch, duration, p_report, rate=rate)
        c0 = cpu_now({"loadgen": gen.pid})
        time.sleep(max(0, duration - 1))
        c1 = cpu_now({"loadgen": gen.pid})
        gen.wait()
        k1 = kafka_counters()
        probe_out = json.loads(probe.communicate()[0])
        pipe = json.load(open(p_report))
        accepted = pipe["succeeded"] * batch + len(probe_out["samples_ms"]) + probe_out["not_visible_in_30s"]
        in_flight = pipe.get("unanswered", 0) * batch
        total_accepted += accepted
        drained_s, live, logs, drained = drain(total_accepted)
        exact = drained and live == logs and total_accepted <= live <= total_accepted + in_flight
        total_accepted = live if exact else total_accepted
        spent = {k: c1[k] - c0[k] for k in c1 if k in c0}
        window = duration - 1
        records = k1["records_in"] - k0["records_in"]
        produces = k1["produce_requests"] - k0["produce_requests"]
        fetches = k1["fetch_requests"] - k0["fetch_requests"]
        lag = probe_out["samples_ms"]
        point = {
            "users": users, "batch": batch, "rate_cap": rate,
            "baseline_requests_per_s": base["requests_per_sec"],
            "baseline_predictions_per_s": base["succeeded"] * batch / base["elapsed_secs"],
            "accepted_per_s": pipe["succeeded"] * batch / pipe["elapsed_secs"],
            "requests_per_s": pipe["succeeded"] / pipe["elapsed_secs"],
            "failed": pipe["failed"], "failed_by_status": pipe["failed_by_status"],
            "ingest_p50_ms": pipe["latency"]["p50_ms"], "ingest_p99_ms": pipe["latency"]["p99_ms"],
            "visible_p50_ms": pct(lag, 0.5), "visible_p99_ms": pct(lag, 0.99),
            "probes": len(lag), "not_visible_in_30s": probe_out["not_visible_in_30s"],
            # Each probe: when it was accepted (Unix s) and how long until visible (ms).
            "probe_samples": [[round(t, 3), round(ms, 1)] for t, ms in zip(probe_out["accepted_at"], lag)],
            "cpu_seconds": spent, "cpu_window_s": window,
            "records_per_produce_request": records / produces if produces else None,
            "fetch_requests_per_s": fetches / duration,
            "broker_cpu_ms_per_1000_records": 1e6 * spent.get("kafka", 0) / records / (window / duration) if records else None,
            "drained_s": drained_s, "live_total": live, "logs_total": logs,
            "expected_total": total_accepted, "zero_loss": exact, "drained": drained,
        }
        point["ratio"] = point["accepted_per_s"] / point["baseline_predictions_per_s"]
        points.append(point)
        print(f"    accepted {point['accepted_per_s']:.0f}/s (NGINX {point['baseline_predictions_per_s']:.0f}/s, "
              f"ratio {point['ratio']:.3f}), ingest p50 {point['ingest_p50_ms']:.1f} ms p99 {point['ingest_p99_ms']:.1f} ms, "
              f"visible p50 {point['visible_p50_ms']:.0f} ms p99 {point['visible_p99_ms']:.0f} ms, "
              + (f"{'zero loss' if exact else 'MISMATCH'} (drained in {drained_s:.0f} s)" if drained else
                 f"NOT drained within {drained_s:.0f} s (Redis {live}, MongoDB {logs}, {total_accepted} expected): loss not checked"),
              flush=True)

result = {"ready_s": ready_s, "idle_resident_bytes": idle, "points": points,
          "seed": {"fresh": seed_fresh, "after_curve": seed_command("after the curve")}}
json.dump(result, open(f"{work}/curve.json", "w"), indent=2)

def zero_loss(p):
    return "yes" if p["zero_loss"] else ("NO" if p["drained"] else f"not drained in {p['drained_s']:.0f} s")


print()
if rate:
    print(f"(the pipeline's load capped at {rate:,.0f} predictions/s; NGINX's uncapped)")
print("| simultaneous | per request | NGINX fixed 202, predictions/s | pipeline accepted/s | ratio | ingest p50 / p99 ms | 202 → visible p50 / p99 ms | failed | records per produce request | broker CPU ms per 1,000 records | zero loss |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for p in points:
    rpp = p["records_per_produce_request"]
    bc = p["broker_cpu_ms_per_1000_records"]
    print(f"| {p['users']} | {p['batch']} | {p['baseline_predictions_per_s']:,.0f} | {p['accepted_per_s']:,.0f} | {p['ratio']:.3f} "
          f"| {p['ingest_p50_ms']:.1f} / {p['ingest_p99_ms']:.1f} | {p['visible_p50_ms']:.0f} / {p['visible_p99_ms']:.0f} "
          f"| {p['failed']} | {rpp:.1f} | {bc:.1f} | {zero_loss(p)} |" if rpp and bc else
          f"| {p['users']} | {p['batch']} | {p['baseline_predictions_per_s']:,.0f} | {p['accepted_per_s']:,.0f} | {p['ratio']:.3f} "
          f"| {p['ingest_p50_ms']:.1f} / {p['ingest_p99_ms']:.1f} | {p['visible_p50_ms']:.0f} / {p['visible_p99_ms']:.0f} "
          f"| {p['failed']} | not measured | not measured | {zero_loss(p)} |")
print()
print("CPU seconds per process during each pipeline point (window of", points[0]["cpu_window_s"] if points else "?", "s, 2 cores):")
for p in points:
    top = sorted(p["cpu_seconds"].items(), key=lambda kv: -kv[1])
    print(f"  {p['users']:>4} x {p['batch']:>3}: " + ", ".join(f"{k} {v:.1f}" for k, v in top if v >= 0.5))
print()
for s in result["seed"].values():
    print(f"seed command {s['when']} ({s['stored_before']:,} stored): {s['succeeded']} accepted in {s['elapsed_s']:.1f} s = "
          f"{s['requests_per_s']:.0f} requests/s, p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, {s['failed']} failed, "
          f"{'zero loss' if s['zero_loss'] else 'MISMATCH'}; target at least 3,000 requests/s: {'met' if s['requests_per_s'] >= 3000 else 'NOT met'}")
# The drain checks read /api/stats, whose log total is logs-writer's own count (log_totals); once
# at the end, the collection itself is counted (slow on FerretDB: it reads every document).
final = json.loads(subprocess.run(
    [f"{bin_dir}/examples/count_logs", f"mongodb://127.0.0.1:{ports['mongodb']}/?directConnection=true"],
    check=True, capture_output=True, text=True).stdout)
live_final = stats()["live_total"]
print()
print(f"at the end: usactar.logs holds {final['documents']:,} documents (counted in {final['count_took_s']:.0f} s), "
      f"logs-writer counted {final['counted']:,}, Redis {live_final:,}: "
      f"{'equal' if final['documents'] == final['counted'] == live_final else 'MISMATCH'}")
best = max(points, key=lambda p: p["accepted_per_s"]) if points else None
if best:
    print(f"best point: {best['accepted_per_s']:,.0f} accepted/s at {best['users']} simultaneous x {best['batch']} per request; "
          f"target 10,000/s with zero loss and 202 -> visible p99 <= 250 ms: "
          f"{'met' if best['accepted_per_s'] >= 10000 and best['zero_loss'] and best['visible_p99_ms'] <= 250 else 'NOT met'}")
