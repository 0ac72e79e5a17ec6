"""Cheaper capped totals? On run 3's data: read-api's count_documents(limit 10,000) against the
same cap counted through the ordered index (an aggregate $match, $sort _id -1, $limit, $count).

    count_alternatives.py <mongodb uri>
"""
import sys
import time

from pymongo import MongoClient

db = MongoClient(sys.argv[1]).usactar


def timed(fn, n=15):
    ts = []
    for _ in range(n):
        s = time.monotonic()
        r = fn()
        ts.append((time.monotonic() - s) * 1000)
    ts.sort()
    return f"p50 {ts[len(ts) // 2]:.1f} / max {ts[-1]:.1f} ms -> {r}"


for name, f in {"phase 1": {"phase": 1}, "team (Argentina)": {"team1": "Argentina"},
                "match (Argentina v Mexico)": {"team1": "Argentina", "team2": "Mexico"}}.items():
    print(name, "count_documents limit 10000:", timed(lambda: db.logs.count_documents(f, limit=10000)))
    pipe = [{"$match": f}, {"$sort": {"_id": -1}}, {"$limit": 10000}, {"$count": "n"}]
    print(name, "aggregate $match $sort _id -1 $limit 10000 $count:",
          timed(lambda: next(db.logs.aggregate(pipe), {}).get("n")))
    for cap in (1000,):
        print(name, f"count_documents limit {cap}:", timed(lambda: db.logs.count_documents(f, limit=cap)))
