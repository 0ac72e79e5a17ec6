# What SQLite itself could answer from FerretDB's file and indexes (bypassing FerretDB): read-only.
import sqlite3, time, statistics, os, json
db = sqlite3.connect("file:/tmp/ferret-natural/state/data/usactar.sqlite?mode=ro", uri=True)
t = db.execute("SELECT table_name FROM _ferretdb_collections WHERE name='logs'").fetchone()[0]
print("table", t)
for r in db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name=?", (t,)): print(r)
S = "_ferretdb_sjson"
Q = {
 "first page: ORDER BY record_id DESC LIMIT 50": f'SELECT {S} FROM "{t}" ORDER BY _ferretdb_record_id DESC LIMIT 50',
 "match: team1,team2 eq ORDER BY _id DESC LIMIT 50": f'SELECT {S} FROM "{t}" WHERE {S}->"team1" = \'"Argentina"\' AND {S}->"team2" = \'"France"\' ORDER BY {S}->"_id" DESC LIMIT 50',
 "phase: phase eq ORDER BY _id DESC LIMIT 50": f'SELECT {S} FROM "{t}" WHERE {S}->"phase" = \'4\' ORDER BY {S}->"_id" DESC LIMIT 50',
 "match: ORDER BY record_id DESC LIMIT 50 (no index, scan from newest)": f'SELECT {S} FROM "{t}" WHERE {S}->"team1" = \'"Argentina"\' AND {S}->"team2" = \'"France"\' ORDER BY _ferretdb_record_id DESC LIMIT 50',
}
out = open('/tmp/ferret-natural/results.jsonl', 'a')
for name, q in Q.items():
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + q)]
    ts = []
    for _ in range(50):
        t0 = time.perf_counter(); rows = db.execute(q).fetchall(); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    rec = dict(name="sqlite direct: " + name, runs=50, p50=round(statistics.median(ts), 3), p99=round(ts[-1], 3), n=len(rows), plan=plan, load1=os.getloadavg()[0])
    print(json.dumps(rec)); out.write(json.dumps(rec) + "\n")
import sys
ids = [r[0] for r in db.execute(f'SELECT {S}->"_id" FROM "{t}" ORDER BY _ferretdb_record_id DESC LIMIT 1 OFFSET 500000')]
mid = ids[0]
lt = db.execute(f'SELECT {S}->"logged_at" FROM "{t}" ORDER BY _ferretdb_record_id DESC LIMIT 1').fetchone()[0]
Q2 = {
 "first page by _id DESC (unique _id index)": (f'SELECT {S} FROM "{t}" ORDER BY {S}->"_id" DESC LIMIT 50', ()),
 "next page 500k deep: _id < cursor ORDER BY _id DESC": (f'SELECT {S} FROM "{t}" WHERE {S}->"_id" < ? ORDER BY {S}->"_id" DESC LIMIT 50', (mid,)),
 "match next page 500k deep: team1,team2, _id < cursor": (f'SELECT {S} FROM "{t}" WHERE {S}->"team1" = \'"Argentina"\' AND {S}->"team2" = \'"France"\' AND {S}->"_id" < ? ORDER BY {S}->"_id" DESC LIMIT 50', (mid,)),
 "tail: logged_at >= newest ORDER BY logged_at DESC LIMIT 500": (f'SELECT {S} FROM "{t}" WHERE {S}->"logged_at" >= ? ORDER BY {S}->"logged_at" DESC LIMIT 500', (lt,)),
}
for name, (q, a) in Q2.items():
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + q, a)]
    ts = []
    for _ in range(50):
        t0 = time.perf_counter(); rows = db.execute(q, a).fetchall(); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    rec = dict(name="sqlite direct: " + name, runs=50, p50=round(statistics.median(ts), 3), p99=round(ts[-1], 3), n=len(rows), plan=plan, load1=os.getloadavg()[0])
    print(json.dumps(rec)); out.write(json.dumps(rec) + "\n")
