import sys, os, sqlite3, datetime
sys.path.insert(0, '/tmp/ferret-natural')
from timeq import *
which = sys.argv[1:]
sq = sqlite3.connect("file:/tmp/ferret-natural/state/data/usactar.sqlite?mode=ro", uri=True)
tb = sq.execute("SELECT table_name FROM _ferretdb_collections WHERE name='logs'").fetchone()[0]
lt_ms = sq.execute(f'SELECT _ferretdb_sjson->>\'$.logged_at\' FROM "{tb}" ORDER BY _ferretdb_record_id DESC LIMIT 1').fetchone()[0]
lt = datetime.datetime.fromtimestamp(lt_ms / 1000, datetime.timezone.utc)
if "tail" in which:
    run("e4 live tail today: logged_at>=newest sort{logged_at:-1,_id:-1} limit500",
        find({"logged_at": {"$gte": lt}}, [("logged_at", -1), ("_id", -1)], limit=500))
    run("e5 live tail: natural-1 limit500 no filter", find({}, {"$natural": -1}, limit=500))
if "rate" in which:  # streaming scan rate: no sort, filter matches only the doc at offset k -> reads k+1 docs
    for k in (10000, 100000):
        run(f"scan rate: nosort find_one kafka.offset=={k} (reads {k+1} docs)", find({"kafka.offset": k}, None, limit=1), runs=5, slow=1e9)
