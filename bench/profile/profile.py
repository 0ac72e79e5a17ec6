"""Per-process CPU of the local stack and flame graphs of its services under one load.

    python3 profile.py BIN INFERNO_BIN STATE_DIR BASELINE_URL DURATION USERS OUT

BIN holds loadgen; INFERNO_BIN inferno-collapse-perf and inferno-flamegraph. The load: USERS
simultaneous requests of one prediction each, through the stack's NGINX into ingest, for 5 s of
warm-up plus DURATION; during DURATION, perf samples ingest, logs-writer and live-forwarder and
/proc counts every process's CPU. The same load on NGINX's fixed 202 (BASELINE_URL) first.
Writes OUT/<service>.svg, OUT/<service>.folded and OUT/profile.json; prints the table.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stack_procs import processes, stack_file, tree_cpu  # noqa: E402

bin_dir, inferno, state_dir, baseline_url, duration, users, out = sys.argv[1:8]
duration, users = int(duration), int(users)
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data = os.path.join(root, "loadgen/data/predictions.json")
stack = stack_file(state_dir)
ingress = f"http://127.0.0.1:{stack['ports']['ingress']}"
PROFILED = ["ingest", "logs-writer", "live-forwarder"]
WARMUP = 5
CORES = os.cpu_count()


def loadgen(url, seconds, report):
    cmd = [f"{bin_dir}/loadgen", "run", "-f", data, "--url", url, "--concurrence", str(users),
           "-n", "100000000", "--timeout", f"{seconds}s", "--report", report]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


print(f"==> baseline: NGINX's fixed 202, {users} simultaneous, {WARMUP + duration} s", flush=True)
loadgen(baseline_url, WARMUP + duration, f"{out}/baseline.json").wait()
base = json.load(open(f"{out}/baseline.json"))

print(f"==> pipeline: {users} simultaneous single predictions, {WARMUP} s warm-up + {duration} s profiled", flush=True)
pids = processes(stack)
gen = loadgen(f"{ingress}/input", WARMUP + duration + 2, f"{out}/pipeline.json")
time.sleep(WARMUP)
watched = dict(pids, loadgen=gen.pid)
cpu0 = {name: tree_cpu(pid) for name, pid in watched.items()}
t0 = time.time()
perf = subprocess.Popen(
    ["perf", "record", "-q", "-F", "99", "--call-graph", "dwarf,16384", "-o", f"{out}/perf.data",
     "-p", ",".join(str(pids[s]) for s in PROFILED), "--", "sleep", str(duration)],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
perf_cpu = 0.0
while perf.poll() is None:
    # perf's own cost, sampled while it runs (it exits with the sleep).
    perf_cpu = max(perf_cpu, tree_cpu(perf.pid))
    time.sleep(0.5)
window = time.time() - t0
cpu1 = {name: tree_cpu(pid) for name, pid in watched.items()}
if perf.returncode != 0:
    sys.exit(f"perf record failed ({perf.returncode}): {perf.stderr.read()}")
gen.wait()
pipe = json.load(open(f"{out}/pipeline.json"))
spent = {name: cpu1[name] - cpu0[name] for name in cpu1 if name in cpu0}
accepted_per_s = pipe["succeeded"] / pipe["elapsed_secs"]
baseline_per_s = base["succeeded"] / base["elapsed_secs"]
accepted_in_window = accepted_per_s * window

print("==> flame graphs (perf script | inferno)", flush=True)
# +pid: each sample's header names its process, not only its thread.
script = subprocess.run(["perf", "script", "-F", "+pid", "-i", f"{out}/perf.data"], check=True,
                        capture_output=True).stdout
folded = subprocess.run([f"{inferno}/inferno-collapse-perf", "--pid"], input=script, check=True,
                        capture_output=True).stdout.decode().splitlines()
by_pid = {str(pids[s]): s for s in PROFILED}
samples = {}
for service in PROFILED:
    # --pid names each stack's root frame "<thread name>-<pid>" (logs-writer and live-forwarder
    # are one binary: only the pid tells them apart).
    mine = [line for line in folded if by_pid.get(line.split(";", 1)[0].rsplit("-", 1)[-1]) == service]
    # inferno weighs each sample by its period (cpu-clock: nanoseconds): the sum is CPU time.
    samples[service] = sum(int(line.rsplit(" ", 1)[1]) for line in mine) / 1e9
    with open(f"{out}/{service}.folded", "w") as f:
        f.write("\n".join(mine) + "\n")
    title = (f"{service}: {users} simultaneous single predictions, {accepted_per_s:,.0f} accepted/s, "
             f"{duration} s at 99 Hz ({samples[service]:.2f} CPU-s sampled)")
    with open(f"{out}/{service}.svg", "wb") as f:
        subprocess.run([f"{inferno}/inferno-flamegraph", "--title", title, "--width", "1600",
                        f"{out}/{service}.folded"], check=True, stdout=f)
os.remove(f"{out}/perf.data")

# Where each service's sampled CPU went: the share of its samples whose stack holds a frame of
# each kind (inclusive, so the kinds overlap: an HTTP handler's system call counts in both).
KINDS = [
    ("system calls (kernel)", lambda f: f.startswith("entry_SYSCALL_64")),
    ("HTTP server (hyper)", lambda f: "hyper::proto" in f),
    ("JSON (serde_json)", lambda f: "serde_json" in f),
    ("Kafka client (librdkafka)", lambda f: f.startswith("rd_kafka") or f.startswith("rdk:")),
    ("MongoDB driver and BSON", lambda f: "mongodb::" in f or "bson::" in f),
    ("gRPC (tonic, h2)", lambda f: "tonic::" in f or "h2::" in f),
    ("memory allocation", lambda f: f in ("malloc", "free", "_int_malloc", "_int_free", "__GI___libc_malloc",
                                          "__GI___libc_free", "cfree", "realloc")),
    ("logs and spans (tracing)", lambda f: "tracing_subscriber" in f or "tracing_core" in f),
]
kinds = {}
for service in PROFILED:
    weights = {name: 0 for name, _ in KINDS}
    total = 0
    for line in open(f"{out}/{service}.folded"):
        if not line.strip():
            continue
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        total += int(n)
        for name, test in KINDS:
            if any(test(f) for f in frames):
                weights[name] += int(n)
    kinds[service] = {name: (w / total if total else None) for name, w in weights.items()}

result = {
    "users": users, "duration_s": duration, "window_s": window, "cores": CORES,
    "baseline_per_s": baseline_per_s, "accepted_per_s": accepted_per_s,
    "ratio": accepted_per_s / baseline_per_s, "failed": pipe["failed"],
    "ingest_p50_ms": pipe["latency"]["p50_ms"], "ingest_p99_ms": pipe["latency"]["p99_ms"],
    "cpu_seconds": spent, "perf_cpu_seconds": perf_cpu, "sampled_cpu_seconds": samples,
    "kinds": kinds,
}
json.dump(result, open(f"{out}/profile.json", "w"), indent=2)

print()
print(f"accepted {accepted_per_s:,.0f}/s (NGINX's fixed 202 {baseline_per_s:,.0f}/s, ratio {result['ratio']:.3f}), "
      f"ingest p50 {result['ingest_p50_ms']:.1f} ms p99 {result['ingest_p99_ms']:.1f} ms, {pipe['failed']} failed")
print(f"CPU during the {window:.1f} s window ({CORES} cores = {CORES * window:.0f} CPU-s; perf itself {perf_cpu:.1f}):")
print("| process | CPU-s | share of the cores | ms per 1,000 accepted |")
print("|---|---|---|---|")
for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
    if s >= 0.05:
        print(f"| {name} | {s:.1f} | {100 * s / (CORES * window):.0f} % | {1e6 * s / accepted_in_window:.0f} |")
print()
print("Where each service's sampled CPU went (share of its samples whose stack holds such a frame; kinds overlap):")
print("| kind | " + " | ".join(PROFILED) + " |")
print("|---|" + "---|" * len(PROFILED))
for name, _ in KINDS:
    cells = ["not measured" if kinds[s][name] is None else f"{100 * kinds[s][name]:.0f} %" for s in PROFILED]
    print(f"| {name} | " + " | ".join(cells) + " |")
print()
for service in PROFILED:
    print(f"{service}: {out}/{service}.svg ({samples[service]:.2f} CPU-s sampled)")
