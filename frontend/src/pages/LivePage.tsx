import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { wsUrl } from "../api";
import { ConnectionBadge } from "../ConnectionBadge";
import { PHASES, describeResult, findRealMatch, phaseName, realMatches, resultScore } from "../data/matches";
import { applyLiveMessages, emptyLiveState, formatShare, phaseTotals, sameScore, type LiveState } from "../live";
import type { LiveMessage, MatchView } from "../push";
import { setQuery, useLocation } from "../router";
import { useSocket } from "../useSocket";

const nf = new Intl.NumberFormat("en");

interface MatchOption {
  key: string;
  team1: string;
  team2: string;
  live?: MatchView;
  date?: string;
  round?: string;
}

/** The matches of a phase to choose from: the real ones, then any other that got predictions. */
function matchOptions(phase: number, state: LiveState): MatchOption[] {
  const out: MatchOption[] = [];
  const seen = new Set<string>();
  for (const m of realMatches) {
    if (m.phase !== phase) continue;
    const live = state.matches[m.id] ?? state.matches[`${phase}:${m.team2}:${m.team1}`];
    out.push({ key: `${m.team1}:${m.team2}`, team1: m.team1, team2: m.team2, live, date: m.date, round: m.group ?? m.round });
    seen.add(m.id);
    seen.add(`${phase}:${m.team2}:${m.team1}`);
  }
  const extra = Object.values(state.matches)
    .filter((m) => m.phase === phase && !seen.has(m.id))
    .sort((a, b) => a.team1.localeCompare(b.team1) || a.team2.localeCompare(b.team2));
  for (const m of extra) out.push({ key: `${m.team1}:${m.team2}`, team1: m.team1, team2: m.team2, live: m });
  return out;
}

export function LivePage() {
  const { query } = useLocation();
  const [state, setState] = useState<LiveState>(emptyLiveState);
  const url = useMemo(() => wsUrl("/api/live/ws"), []);
  const onBatch = useCallback((msgs: LiveMessage[]) => setState((s) => applyLiveMessages(s, msgs)), []);
  // A new connection starts with a snapshot; until it comes, keep showing the old numbers.
  const status = useSocket<LiveMessage>(url, onBatch, { minIntervalMs: 250 });

  const totals = useMemo(() => phaseTotals(state), [state]);
  const qPhase = Number(query.get("phase"));
  const phase = PHASES.some((p) => p.phase === qPhase) ? qPhase : null;

  // Once the first snapshot is in, pick defaults: the busiest phase, its busiest match.
  const defaulted = useRef(false);
  useEffect(() => {
    if (defaulted.current || !state.ready) return;
    defaulted.current = true;
    if (phase !== null && query.get("team1")) return;
    let p = phase;
    if (p === null) {
      p = 1;
      let best = -1;
      for (const ph of PHASES) if ((totals[ph.phase] ?? 0) > best) [p, best] = [ph.phase, totals[ph.phase] ?? 0];
    }
    const opts = matchOptions(p, state);
    const top = [...opts].sort((a, b) => (b.live?.total ?? 0) - (a.live?.total ?? 0))[0];
    setQuery({ phase: p, team1: top?.team1, team2: top?.team2 }, { replace: true });
  }, [state, phase, query, totals]);

  const shownPhase = phase ?? 1;
  const options = useMemo(() => matchOptions(shownPhase, state), [shownPhase, state]);
  const team1 = query.get("team1");
  const team2 = query.get("team2");
  const selected = options.find((o) => o.team1 === team1 && o.team2 === team2) ?? options[0];

  return (
    <div className="live">
      <div className="page-head">
        <h1>Live predictions</h1>
        <ConnectionBadge status={status} backendError={state.error} />
      </div>
      <p className="summary" aria-live="polite" aria-atomic="true">
        <span data-testid="grand-total">{nf.format(state.total)}</span> predictions in all
        {state.ready ? "" : " (waiting for data…)"}
      </p>

      <fieldset className="phases">
        <legend>Phase</legend>
        {PHASES.map((p) => (
          <label key={p.phase} className={p.phase === shownPhase ? "on" : ""}>
            <input
              type="radio"
              name="phase"
              value={p.phase}
              checked={p.phase === shownPhase}
              onChange={() => {
                const first = [...matchOptions(p.phase, state)].sort((a, b) => (b.live?.total ?? 0) - (a.live?.total ?? 0))[0];
                setQuery({ phase: p.phase, team1: first?.team1, team2: first?.team2 });
              }}
            />
            <span className="ph-name">{p.name}</span>
            <span className="ph-count" aria-label={`${totals[p.phase] ?? 0} predictions`}>
              {nf.format(totals[p.phase] ?? 0)}
            </span>
          </label>
        ))}
      </fieldset>

      <div className="field">
        <label htmlFor="match">Match</label>
        <select
          id="match"
          value={selected?.key ?? ""}
          onChange={(e) => {
            const o = options.find((x) => x.key === e.target.value);
            if (o) setQuery({ phase: shownPhase, team1: o.team1, team2: o.team2 });
          }}
        >
          {options.map((o) => (
            <option key={o.key} value={o.key}>
              {o.team1} – {o.team2}
              {o.round ? ` · ${o.round}` : ""} · {nf.format(o.live?.total ?? 0)} predictions
            </option>
          ))}
        </select>
      </div>

      {selected ? (
        <MatchCard phase={shownPhase} team1={selected.team1} team2={selected.team2} live={selected.live} />
      ) : (
        <p>No match in this phase.</p>
      )}
    </div>
  );
}

// Re-renders only when its match changed: the reducer keeps unchanged matches as they were.
const MatchCard = memo(function MatchCard({ phase, team1, team2, live }: { phase: number; team1: string; team2: string; live?: MatchView }) {
  const option = { team1, team2 };
  const real = findRealMatch(phase, option.team1, option.team2);
  const realScore = real ? resultScore(real, option.team1) : null;
  const top = live?.scores[0];
  const maxShare = live?.scores[0]?.share ?? 0;
  const guessed = sameScore(top?.score, realScore);
  const titleId = "match-title";

  return (
    <section className="card match" aria-labelledby={titleId} data-testid="match-card">
      <h2 id={titleId}>
        {option.team1} <span className="vs">vs</span> {option.team2}
      </h2>
      <p className="meta">
        {phaseName(phase)}
        {real ? ` · ${real.group ?? real.round} · ${real.date}` : " · not a match of the tournament's data"}
      </p>
      <dl className="stats">
        <div>
          <dt>Predictions</dt>
          <dd aria-live="polite" aria-atomic="true" data-testid="match-total">
            {nf.format(live?.total ?? 0)}
          </dd>
        </div>
        <div>
          <dt>Fans' favourite</dt>
          <dd data-testid="favourite">
            {top ? (
              <>
                <span className="score">{top.score}</span> <small>{formatShare(top.share)}</small>
              </>
            ) : (
              "—"
            )}
          </dd>
        </div>
        <div>
          <dt>Real result</dt>
          <dd data-testid="real-result">
            {real ? (
              <>
                <span className="score">{realScore}</span>
                {real.result.et || real.result.penalties ? <small> {describeResult(real, option.team1).replace(/^\S+ ?/, "")}</small> : null}
                {top ? (
                  <span className={`verdict ${guessed ? "yes" : "no"}`}>{guessed ? "fans got it right" : "fans got it wrong"}</span>
                ) : null}
              </>
            ) : (
              "—"
            )}
          </dd>
        </div>
      </dl>

      {live && live.scores.length > 0 ? (
        <ul className="bars" aria-label={`Predicted scores for ${option.team1} vs ${option.team2}, most predicted first`} data-testid="bars">
          {live.scores.map((s) => {
            const isReal = sameScore(s.score, realScore);
            const pct = formatShare(s.share);
            return (
              <li key={s.score} className={isReal ? "real" : undefined} data-score={s.score} data-count={s.count}>
                <span className="bar-label">{s.score}</span>
                <div
                  className="bar-track"
                  role="meter"
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(s.share * 1000) / 10}
                  aria-valuetext={`${pct}, ${s.count} predictions`}
                  aria-label={`Score ${s.score}${isReal ? " (the real result)" : ""}`}
                >
                  <div className="bar-fill" style={{ transform: `scaleX(${maxShare > 0 ? s.share / maxShare : 0})` }} />
                </div>
                <span className="bar-value">
                  {pct} <small>({nf.format(s.count)})</small>
                  {isReal ? <span className="tag">real</span> : null}
                </span>
              </li>
            );
          })}
        </ul>
      ) : (
        <p className="empty">No predictions for this match yet.</p>
      )}
    </section>
  );
});
