import sys, os
sys.path.insert(0, '/tmp/ferret-natural')
from timeq import *
M = {"team1": "Argentina", "team2": "France"}
PH = {"phase": 4}
which = sys.argv[1:]
TOTAL = int(os.environ.get("TOTAL", "1000000"))
ID = None; IDS = {}
if set(which) & {"asc", "e"}:
    import sqlite3
    sq = sqlite3.connect("file:/tmp/ferret-natural/state/data/usactar.sqlite?mode=ro", uri=True)
    tb = sq.execute("SELECT table_name FROM _ferretdb_collections WHERE name='logs'").fetchone()[0]
    for depth in (1, 50, 500000):
        IDS[depth], off = sq.execute(f'SELECT _ferretdb_sjson->>\'$._id\', _ferretdb_sjson->>\'$.kafka.offset\' FROM "{tb}" ORDER BY _ferretdb_record_id DESC LIMIT 1 OFFSET {depth-1}').fetchone()
        assert off == TOTAL - depth, (off, depth)
    ID = IDS[1]

if "explain" in which:
    for name, f, s, l in [("none sort_id", {}, {"_id": -1}, 50), ("none natural-1", {}, {"$natural": -1}, 50),
                          ("none nosort", {}, None, 50), ("match natural-1", M, {"$natural": -1}, 50),
                          ("match nosort", M, None, 50), ("_id eq", {"_id": "x"}, None, 50),
                          ("phase eq", PH, None, 50), ("offset lt natural-1", {"kafka.offset": {"$lt": 5}}, {"$natural": -1}, 50)]:
        print(name, json.dumps(explain(f, s, l), default=str))

if "a" in which:   # read-api today: sort _id -1, limit 50 (+ the count it runs alongside)
    run("a1 first page: {} sort{_id:-1} limit50", find({}, {"_id": -1}))
    run("a2 match page: M sort{_id:-1} limit50", find(M, {"_id": -1}))
    run("a3 phase page: phase4 sort{_id:-1} limit50", find(PH, {"_id": -1}))
    run("a4 match count (cap 10000)", count(M))
    run("a5 phase count (cap 10000)", count(PH))
if "b" in which:
    run("b natural-1 limit50 no filter", find({}, {"$natural": -1}))
if "c" in which:
    run("c natural-1 limit50 match", find(M, {"$natural": -1}))
if "d" in which:
    run("d natural-1 limit50 phase", find(PH, {"$natural": -1}))
if "asc" in which:  # no sort on capped: natural ascending, streaming
    run("f nosort (natural asc) limit50 no filter", find({}, None))
    run("g nosort (natural asc) limit50 match", find(M, None))
    run("h nosort (natural asc) limit50 phase", find(PH, None))
    run("i _id equality (pushed down)", lambda: logs.find_one({"_id": ID})["_id"])
if "e" in which:   # next pages / live tail
    newest = logs.find_one({"_id": ID})  # not used for position; positions from offsets
    TOTAL = int(os.environ.get("TOTAL", "1000000"))
    for depth in (50, 500000):
        x = TOTAL - depth  # kafka.offset of the document `depth` from the newest (fill: offset = insertion index)
        run(f"e1 next page natural-1 + kafka.offset<$lt {depth} from newest", find({"kafka.offset": {"$lt": x}}, {"$natural": -1}))
        run(f"e2 next page today: _id<$lt id@{depth} sort _id-1", find({"_id": {"$lt": IDS[depth]}}, {"_id": -1}))
        run(f"e3 nosort(asc) kafka.offset>=$gte {depth} from newest limit50", find({"kafka.offset": {"$gte": x}}, None))
    lt = logs.find_one({"kafka.offset": TOTAL - 1})["logged_at"]
    run("e4 live tail today: logged_at>=newest-ish sort{logged_at:-1,_id:-1} limit500",
        find({"logged_at": {"$gte": lt}}, [("logged_at", -1), ("_id", -1)], limit=500))
    run("e5 live tail: natural-1 limit500 no filter", find({}, {"$natural": -1}, limit=500))
