import os, sys, time, json, statistics
from pymongo import MongoClient
P = open('/tmp/ferret-natural/ports').read().split()[0]
c = MongoClient(f"mongodb://127.0.0.1:{P}/?directConnection=true", socketTimeoutMS=600000)
db = c.usactar; logs = db.logs
RUNS = int(os.environ.get("RUNS", "50"))
out = open('/tmp/ferret-natural/results.jsonl', 'a')

def pct(xs, p):
    xs = sorted(xs); k = max(0, min(len(xs)-1, int(round(p/100*len(xs)+0.5))-1)); return xs[k]

MAXMS = int(os.environ.get("MAXMS", "60000"))
def once(fn):
    t = time.perf_counter()
    try:
        r = fn()
    except Exception as e:
        r = "ERROR " + str(e)[:160]
    return r, time.perf_counter() - t
def run(name, fn, runs=RUNS, slow=0.5, slow_runs=1):
    la0 = os.getloadavg()[0]
    r, first = once(fn)
    print("  first run", name, round(first*1000, 1), "ms", str(r)[:200], flush=True)
    n = runs if first < slow else slow_runs
    ts = [first]
    for _ in range(n - 1):
        r, d = once(fn); ts.append(d)
    la1 = os.getloadavg()[0]
    ms = [x*1000 for x in ts]
    rec = dict(name=name, runs=len(ms), p50=round(statistics.median(ms), 2), p99=round(pct(ms, 99), 2),
               max=round(max(ms), 2), load1=f"{la0:.2f}->{la1:.2f}", result=r)
    print(json.dumps(rec), flush=True); out.write(json.dumps(rec) + "\n"); out.flush()
    return rec

def find(filt, sort=None, limit=50, proj=None):
    def f():
        cur = logs.find(filt, proj).limit(limit).max_time_ms(MAXMS)
        if sort: cur = cur.sort(sort)
        docs = list(cur)
        offs = [d.get('kafka', {}).get('offset') for d in docs]
        desc = all(a > b for a, b in zip(offs, offs[1:]))
        asc = all(a < b for a, b in zip(offs, offs[1:]))
        return dict(n=len(docs), first=offs[:1], last=offs[-1:], order='desc' if desc else 'asc' if asc else 'mixed')
    return f

def count(filt, cap=10000):
    return lambda: logs.count_documents(filt, limit=cap, maxTimeMS=MAXMS)

def explain(filt, sort=None, limit=50):
    cmd = {"find": "logs", "filter": filt, "limit": limit}
    if sort: cmd["sort"] = sort
    e = db.command("explain", cmd)
    return {k: e.get(k) for k in ("filterPushdown", "sortPushdown", "limitPushdown")} | {"plan": e.get("queryPlanner")}
