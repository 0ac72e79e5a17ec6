"""The plans of read-api's page queries on a FerretDB: which index each uses, and what it costs.

    explain.py <mongodb uri>

The queries as read-api sends them (services/read-api/src/logs.rs `page`): a find sorted by
`_id` descending, limit 50, unfiltered, by match, by team, by phase; and the filtered total
(`count_documents` with limit 10,000, which the Rust driver sends as an aggregate). Prints one
`plan` line per query (the index names and scan kinds found in the plan, the time the server
reports), then each plan in full. Run by bench/store/run.sh for the documentdb backend.
"""

import json
import sys
import time

from pymongo import MongoClient

FILTERS = {
    "first page": {},
    "match page (time_queries)": {"team1": "Argentina", "team2": "Saudi Arabia"},
    "match page (issue 16)": {"team1": "Argentina", "team2": "Mexico"},
    "team page": {"team1": "Argentina"},
    "phase page": {"phase": 1},
    "phase page (issue 16, phase 4)": {"phase": 4},
}


def walk(node, found):
    """Index names, node types and timings anywhere in a plan (PostgreSQL's EXPLAIN JSON)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Index Name":
                found["indexes"].add(v)
            elif k == "Node Type":
                found["nodes"].append(v)
            elif k in ("Execution Time", "executionTimeMillis"):
                found["ms"] = v
            walk(v, found)
    elif isinstance(node, list):
        for v in node:
            walk(v, found)


def main():
    db = MongoClient(sys.argv[1]).usactar
    full = []
    for name, flt in FILTERS.items():
        cmds = [(f"{name}: find sort _id -1 limit 50",
                 {"find": "logs", "filter": flt, "sort": {"_id": -1}, "limit": 50})]
        if flt:
            cmds.append((f"{name}: count limit 10000",
                         {"aggregate": "logs", "cursor": {},
                          "pipeline": [{"$match": flt}, {"$limit": 10000},
                                       {"$group": {"_id": 1, "n": {"$sum": 1}}}]}))
        for label, cmd in cmds:
            started = time.monotonic()
            try:
                plan = db.command({"explain": cmd, "verbosity": "executionStats"})
            except Exception as e:  # an explain refused is a finding too
                print(f"plan {label}: explain failed: {e}")
                continue
            wall = (time.monotonic() - started) * 1000
            found = {"indexes": set(), "nodes": [], "ms": None}
            walk(plan, found)
            print(f"plan {label}: indexes {sorted(found['indexes']) or 'NONE'}; "
                  f"nodes {' > '.join(found['nodes'])}; server {found['ms']} ms; explain wall {wall:.0f} ms")
            plan.pop("$clusterTime", None)
            full.append((label, plan))
    for label, plan in full:
        print(f"\n### {label}")
        print(json.dumps(plan, indent=1, default=str)[:6000])


if __name__ == "__main__":
    main()
