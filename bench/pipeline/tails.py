"""Lines up the slow probes of a curve with what the stack's servers logged meanwhile: each point's
slowest probes with the PostgreSQL checkpoints and Redis AOF rewrites they overlap, and each
point's 202 -> visible p50 / p99 for the probes that overlap a checkpoint and those that do not.
Needs the run's state folder (KEEP_STATE=1 keeps it).

    python3 bench/pipeline/tails.py WORK/curve.json WORK/state
"""
import datetime as dt
import json
import re
import sys

curve, state = json.load(open(sys.argv[1])), sys.argv[2]


def utc(text, fmt):
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc).timestamp()


def intervals(path, start, end, stamp, fmt):
    """[(from, to)] of the lines matching `start` up to the next matching `end` (Unix s)."""
    out, opened = [], None
    for line in open(path, errors="replace"):
        m = re.match(stamp, line)
        if not m:
            continue
        t = utc(m.group(1), fmt)
        if re.search(start, line):
            opened = t
        elif re.search(end, line) and opened is not None:
            out.append((opened, t))
            opened = None
    return out


# PostgreSQL logs in UTC: "2026-12-01 00:05:11.380 UTC [17468] LOG:  checkpoint starting: wal".
checkpoints = intervals(f"{state}/logs/postgresql.log", r"checkpoint starting", r"checkpoint complete",
                        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC", "%Y-%m-%d %H:%M:%S.%f")
# Redis: "17398:M 01 Dec 2026 00:04:53.262 * Background append only file rewriting started".
rewrites = intervals(f"{state}/logs/redis.log", r"append only file rewriting started",
                     r"AOF rewrite (finished|terminated)|rewrite.*(success|fail)",
                     r"\d+:\w (\d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d+)", "%d %b %Y %H:%M:%S.%f")


def overlaps(t, ms, spans):
    return [s for s in spans if s[0] <= t + ms / 1000 and t <= s[1]]


def pct(values, q):
    """curve.py's percentile (nearest rank), so the figures compare with its table."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))] if v else None


def show(v):
    return "none" if v is None else f"{v:.0f}"


print(f"PostgreSQL checkpoints: {len(checkpoints)}, lasting {sum(b - a for a, b in checkpoints):.0f} s in all; "
      f"Redis AOF rewrites: {len(rewrites)}")
print()
print("| simultaneous × per request | probes | during a checkpoint: probes, p50 / p99 ms | outside: probes, p50 / p99 ms | slowest three: ms (checkpoint, AOF rewrite) |")
print("|---|---|---|---|---|")
for p in curve["points"]:
    samples = p.get("probe_samples") or []
    inside = [ms for t, ms in samples if overlaps(t, ms, checkpoints)]
    outside = [ms for t, ms in samples if not overlaps(t, ms, checkpoints)]
    slow = sorted(samples, key=lambda s: -s[1])[:3]
    notes = ", ".join(f"{ms:.0f} ({'yes' if overlaps(t, ms, checkpoints) else 'no'}, "
                      f"{'yes' if overlaps(t, ms, rewrites) else 'no'})" for t, ms in slow)
    print(f"| {p['users']} × {p['batch']} | {len(samples)} | {len(inside)}, {show(pct(inside, .5))} / {show(pct(inside, .99))} "
          f"| {len(outside)}, {show(pct(outside, .5))} / {show(pct(outside, .99))} | {notes} |")
