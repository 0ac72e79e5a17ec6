import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { getJson, purgeLogs, wsUrl, type LogPage } from "../api";
import type { LogItem, LogsMessage } from "../push";
import { ConnectionBadge } from "../ConnectionBadge";
import { PHASES, realMatches } from "../data/matches";
import { countNewer, formatTime, mergeTail } from "../logs";
import { setQuery, useLocation } from "../router";
import { useSocket } from "../useSocket";

const PAGE = 50;
const nf = new Intl.NumberFormat("en");

export function LogsPage() {
  const { query } = useLocation();
  const phase = query.get("phase") ?? "";
  const team1 = query.get("team1") ?? "";
  const team2 = query.get("team2") ?? "";
  const filters = useMemo(() => ({ phase, team1, team2 }), [phase, team1, team2]);

  // Page state: the cursors of the pages above this one; empty = the newest page, which tails.
  const [cursors, setCursors] = useState<string[]>([]);
  const [rows, setRows] = useState<LogItem[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  const [capped, setCapped] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [newSince, setNewSince] = useState(0);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const newestCounted = useRef<string | null>(null);
  const onFirstPage = cursors.length === 0;
  const onFirstPageRef = useRef(onFirstPage);
  onFirstPageRef.current = onFirstPage;

  const [purgeEnabled, setPurgeEnabled] = useState(false);
  useEffect(() => {
    getJson<{ purge_enabled: boolean }>("/api/config")
      .then((c) => setPurgeEnabled(!!c.purge_enabled))
      .catch(() => setPurgeEnabled(false));
  }, []);

  const load = useCallback(
    async (before: string | null, signal?: AbortSignal) => {
      setLoading(true);
      try {
        const page = await getJson<LogPage>("/api/logs", { limit: PAGE, before, ...filters }, signal);
        setRows(page.items);
        setNext(page.next);
        setTotal(page.total);
        setCapped(!!page.total_capped);
        setError(null);
        if (!before) {
          newestCounted.current = page.items[0]?.id ?? newestCounted.current;
          setNewSince(0);
        }
      } catch (e) {
        if ((e as Error).name !== "AbortError") setError((e as Error).message);
      } finally {
        setLoading(false);
      }
    },
    [filters],
  );

  // The page to show: reload when the filters or the cursor change.
  const cursor = cursors[cursors.length - 1] ?? null;
  useEffect(() => {
    const ac = new AbortController();
    void load(cursor, ac.signal);
    return () => ac.abort();
  }, [load, cursor]);
  useEffect(() => {
    setCursors([]);
    newestCounted.current = null;
  }, [filters]);
  // After a failed read (503 while the store is busy or down), try again.
  useEffect(() => {
    if (!error) return;
    const t = setTimeout(() => void load(cursor), 3000);
    return () => clearTimeout(t);
  }, [error, load, cursor]);

  // The live tail, with the same filters.
  const gapReload = useRef(0);
  const onBatch = useCallback(
    (msgs: LogsMessage[]) => {
      let items: LogItem[] = [];
      let gap = false;
      for (const m of msgs) {
        if (m.type === "logs") {
          items = [...m.items, ...items];
          gap ||= m.gap;
        } else if (m.type === "lagged") gap = true;
      }
      const added = countNewer(items, newestCounted.current);
      if (items.length > 0) {
        const newest = items.reduce((a, b) => (a.id > b.id ? a : b)).id;
        if (newestCounted.current === null || newest > newestCounted.current) newestCounted.current = newest;
      }
      if (onFirstPageRef.current) {
        if (gap && Date.now() - gapReload.current > 2000) {
          // Records were skipped: the count and the rows come from the API again.
          gapReload.current = Date.now();
          void load(null);
          return;
        }
        setRows((r) => {
          const merged = mergeTail(r, items, PAGE);
          setNext(merged.length >= PAGE ? merged[merged.length - 1].id : null);
          return merged;
        });
        setFresh(new Set(items.map((i) => i.id)));
        setTotal((t) => (t === null ? t : t + added));
      } else {
        setNewSince((n) => n + added);
      }
    },
    [load],
  );
  const tailUrl = useMemo(() => wsUrl("/api/logs/ws", filters), [filters]);
  const status = useSocket<LogsMessage>(tailUrl, onBatch, {
    minIntervalMs: 250,
    // After a reconnection, records may have been missed: read the newest page again.
    onOpen: () => {
      if (onFirstPageRef.current) void load(null);
    },
  });

  const matchesForFilter = realMatches.filter((m) => !phase || m.phase === Number(phase));
  const matchValue = team1 && team2 ? `${team1}|${team2}` : "";

  return (
    <div className="logs">
      <div className="page-head">
        <h1>Logs</h1>
        <ConnectionBadge status={status} />
      </div>
      <p className="summary" aria-live="polite" aria-atomic="true">
        <span data-testid="logs-total">{total === null ? "…" : nf.format(total) + (capped ? "+" : "")}</span> records
        {phase || team1 ? " matching the filters" : " in all"}
      </p>

      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <div className="field">
          <label htmlFor="f-phase">Phase</label>
          <select
            id="f-phase"
            value={phase}
            onChange={(e) => {
              const p = e.target.value;
              const keep = realMatches.some((m) => m.phase === Number(p) && m.team1 === team1 && m.team2 === team2);
              setQuery({ phase: p, team1: !p || keep ? team1 : null, team2: !p || keep ? team2 : null });
            }}
          >
            <option value="">All phases</option>
            {PHASES.map((p) => (
              <option key={p.phase} value={p.phase}>
                {p.phase} · {p.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-match">Match</label>
          <select
            id="f-match"
            value={matchValue}
            onChange={(e) => {
              const [t1, t2] = e.target.value ? e.target.value.split("|") : [null, null];
              setQuery({ team1: t1, team2: t2 });
            }}
          >
            <option value="">All matches</option>
            {matchesForFilter.map((m) => (
              <option key={m.id} value={`${m.team1}|${m.team2}`}>
                {m.team1} – {m.team2}
                {phase ? "" : ` (${m.group ?? m.round})`}
              </option>
            ))}
            {matchValue && !matchesForFilter.some((m) => m.team1 === team1 && m.team2 === team2) ? (
              <option value={matchValue}>
                {team1} – {team2}
              </option>
            ) : null}
          </select>
        </div>
        {phase || team1 ? (
          <button type="button" className="link" onClick={() => setQuery({ phase: null, team1: null, team2: null })}>
            Clear filters
          </button>
        ) : null}
      </form>

      {error ? (
        <p className="error" role="alert">
          Could not read the logs: {error}. Trying again…
        </p>
      ) : null}

      {!onFirstPage && newSince > 0 ? (
        <p className="notice">
          {nf.format(newSince)} new records since.{" "}
          <button type="button" className="link" onClick={() => setCursors([])}>
            Show the newest
          </button>
        </p>
      ) : null}

      <div className="table-wrap">
        <table data-testid="logs-table" aria-busy={loading}>
          <caption className="sr-only">
            {onFirstPage ? "The newest records, updated live" : `Older records, page ${cursors.length + 1}`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Match</th>
              <th scope="col">Score</th>
              <th scope="col">Phase</th>
              <th scope="col">Received</th>
              <th scope="col">Id</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} className={fresh.has(r.id) ? "fresh" : undefined} data-id={r.id}>
                <td>
                  {r.team1} – {r.team2}
                </td>
                <td className="num">{r.score}</td>
                <td className="num" title={PHASES.find((p) => p.phase === r.phase)?.name}>
                  {r.phase}
                </td>
                <td>
                  <time dateTime={r.received_at} title={r.received_at}>
                    {formatTime(r.received_at)}
                  </time>
                </td>
                <td className="id">
                  <code title={`partition ${r.partition}, offset ${r.offset}`}>{r.id}</code>
                </td>
              </tr>
            ))}
            {rows.length === 0 && !loading ? (
              <tr>
                <td colSpan={5} className="empty">
                  No records{phase || team1 ? " match these filters" : " yet"}.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>

      <nav className="pager" aria-label="Pages of records">
        <button type="button" disabled={onFirstPage} onClick={() => setCursors([])}>
          ⇤ Newest
        </button>
        <button type="button" disabled={onFirstPage} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ‹ Newer
        </button>
        <span className="page-no">Page {cursors.length + 1}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors((c) => [...c, next])}>
          Older ›
        </button>
      </nav>

      {purgeEnabled ? <Purge onDone={() => (onFirstPage ? void load(null) : setCursors([]))} /> : null}
    </div>
  );
}

function Purge({ onDone }: { onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [token, setToken] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section className="card purge" aria-labelledby="purge-title">
      <h2 id="purge-title">Purge</h2>
      {!open ? (
        <button type="button" className="danger" onClick={() => setOpen(true)}>
          Purge all logs…
        </button>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            try {
              const n = await purgeLogs(token);
              setMessage(`Deleted ${nf.format(n)} records.`);
              setOpen(false);
              setToken("");
              onDone();
            } catch (err) {
              setMessage(`Purge failed: ${(err as Error).message}`);
            } finally {
              setBusy(false);
            }
          }}
        >
          <div className="field">
            <label htmlFor="purge-token">Admin token</label>
            <input id="purge-token" type="password" autoComplete="off" required value={token} onChange={(e) => setToken(e.target.value)} />
          </div>
          <button type="submit" className="danger" disabled={busy}>
            Delete every log
          </button>{" "}
          <button type="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </form>
      )}
      {message ? <p role="status">{message}</p> : null}
    </section>
  );
}
