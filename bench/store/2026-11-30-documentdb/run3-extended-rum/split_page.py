"""read-api's page is two queries run at once (find ... sort _id -1 limit 50, and for a filter
count_documents limit 10,000): each timed alone here, 30 times, on run 3's 1,000,000 documents.

    split_page.py <mongodb uri>
"""
import sys
import time

from pymongo import MongoClient

db = MongoClient(sys.argv[1]).usactar
FILTERS = {
    "first page": {},
    "match (Argentina v Saudi Arabia)": {"team1": "Argentina", "team2": "Saudi Arabia"},
    "match (Argentina v Mexico)": {"team1": "Argentina", "team2": "Mexico"},
    "team (Argentina)": {"team1": "Argentina"},
    "phase 1": {"phase": 1},
    "phase 4": {"phase": 4},
}


def timed(fn, n=30):
    ts = []
    for _ in range(n):
        s = time.monotonic()
        fn()
        ts.append((time.monotonic() - s) * 1000)
    ts.sort()
    return f"p50 {ts[len(ts) // 2]:.1f} / p99 {ts[-1]:.1f} ms"


print("query\tfind limit 50\tcount limit 10000 (matches)")
for name, f in FILTERS.items():
    find = timed(lambda: list(db.logs.find(f).sort("_id", -1).limit(50)))
    if f:
        n = db.logs.count_documents(f, limit=10000)
        count = timed(lambda: db.logs.count_documents(f, limit=10000)) + f" ({n})"
    else:
        count = "- (read-api sums log_totals)"
    print(f"{name}\t{find}\t{count}")
