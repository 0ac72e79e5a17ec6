"""What the project's services rely on of the store, checked on a FerretDB holding fill_logs' data.

    compat.py <mongodb uri>

- read-api: its 6 indexes on usactar.logs (read-api's ensure_indexes ran in time_queries), listed
  with their keys, and creating them again is a no-op (createIndexes naming all 6 at once: the
  call that made FerretDB 1.24 panic).
- logs-writer: insert_many ordered=false of a batch holding documents already stored (a replay)
  and new ones: the new ones land, each replayed one fails with code 11000 (duplicate key).
- log_totals: the update logs-writer sends (upsert, $set + $inc, ordered=false) adds up; the
  totals fill_logs kept equal the documents stored.
The replay and the totals are checked on collections of their own (compat_logs, compat_totals),
dropped after. Prints one line per check, `ok` or `FAILED`, and exits 1 if any failed.
"""

import sys

from pymongo import MongoClient
from pymongo.errors import BulkWriteError

failed = False


def check(name, ok, detail=""):
    global failed
    failed |= not ok
    print(f"{'ok' if ok else 'FAILED'}\t{name}\t{detail}")


def main():
    client = MongoClient(sys.argv[1])
    db = client.usactar
    print(f"server buildInfo version {client.server_info().get('version')}, "
          f"ferretdb {client.server_info().get('ferretdb', {}).get('version', '-')}")

    # read-api's indexes.
    wanted = [[("received_at", 1)], [("logged_at", -1)], [("phase", 1), ("_id", -1)],
              [("team1", 1), ("_id", -1)], [("team2", 1), ("_id", -1)],
              [("team1", 1), ("team2", 1), ("_id", -1)]]
    have = {tuple((k, int(v)) for k, v in ix["key"].items()): ix["name"] for ix in db.logs.list_indexes()}
    missing = [w for w in wanted if tuple(w) not in have]
    check("read-api's 6 indexes exist", not missing, f"{len(have)} indexes: {sorted(have.values())}")
    try:
        res = db.command({"createIndexes": "logs", "indexes": [
            {"key": dict(w), "name": "_".join(f"{k}_{v}" for k, v in w)} for w in wanted]})
        check("createIndexes of all 6 again is a no-op", res.get("ok") == 1,
              {k: v for k, v in res.items() if k in ("numIndexesBefore", "numIndexesAfter", "note")})
    except Exception as e:  # FerretDB 1.24 panics here and drops the connection
        check("createIndexes of all 6 again is a no-op", False, f"{type(e).__name__}: {str(e)[:200]}")

    # logs-writer's replay: unordered insert_many meeting stored _ids.
    db.compat_logs.drop()
    some = list(db.logs.find({}, limit=3))
    db.compat_logs.insert_many(some, ordered=False)
    replay = some + [{**some[0], "_id": some[0]["_id"] + "-new"}]
    try:
        db.compat_logs.insert_many(replay, ordered=False)
        check("replay: duplicate-key errors", False, "no error at all")
    except BulkWriteError as e:
        codes = sorted(w["code"] for w in e.details["writeErrors"])
        check("replay: insert_many ordered=false -> 11000 per stored _id, the new one inserted",
              codes == [11000] * 3 and e.details["nInserted"] == 1,
              f"codes {codes}, nInserted {e.details['nInserted']}")
    check("replay: collection holds 4", db.compat_logs.count_documents({}) == 4)
    db.compat_logs.drop()

    # log_totals' update, as consumer/src/log_totals.rs sends it.
    db.compat_totals.drop()
    for through, counted in [(10, 10), (25, 15), (40, 15)]:
        res = db.command({"update": "compat_totals", "ordered": False, "updates": [
            {"q": {"_id": 0}, "u": {"$set": {"through": through}, "$inc": {"documents": counted}},
             "upsert": True}]})
    doc = db.compat_totals.find_one({"_id": 0})
    check("log_totals: upsert $set + $inc adds up", doc and doc["documents"] == 40 and doc["through"] == 40,
          f"{doc}; last reply n={res.get('n')} nModified={res.get('nModified')}")
    try:
        db.compat_totals.insert_one({"_id": 0, "documents": 1})
        check("log_totals: insert of an existing _id -> 11000", False, "no error")
    except Exception as e:
        check("log_totals: insert of an existing _id -> 11000", getattr(e, "code", None) == 11000,
              f"code {getattr(e, 'code', None)}")
    db.compat_totals.drop()
    totals = sum(max(d.get("documents", 0), 0) for d in db.log_totals.find({}))
    stored = db.logs.count_documents({})
    check("log_totals (fill_logs') sum equals the documents stored", totals == stored,
          f"totals {totals}, count_documents {stored}, estimated {db.logs.estimated_document_count()}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
