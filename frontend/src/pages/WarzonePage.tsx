import { useEffect, useRef, useState } from "react";
import { httpUrl } from "../api";
import {
  DEFAULT_THRESHOLDS,
  EDGES,
  HEALTH_MARK,
  HEALTH_WORD,
  History,
  NODE_H,
  NODE_W,
  NODES,
  SIGNALS,
  SIGNAL_WORD,
  TIMELINE_ROWS,
  describePhase,
  fmtSignal,
  isUnreachable,
  judge,
  thresholdsOf,
  type ExperimentState,
  type Health,
  type Judged,
  type MetricsAnswer,
  type Picture,
  type Reach,
  type Signal,
} from "../warzone/model";

/** How much of the past the timeline shows. */
const WINDOW_S = 180;
/** Metrics once a second; the experiment (and whether read-api answers) four times a second. */
const METRICS_EVERY_MS = 1000;
const EXPERIMENT_EVERY_MS = 250;
/** A metrics answer older than this is no longer "now": everything shows "no data". */
const METRICS_STALE_MS = 3000;

type Fetched = { kind: "ok"; body: unknown } | { kind: "none" } | { kind: "unreachable"; error: string } | { kind: "error"; message: string };

/** GET through the ingress, never throwing: what came back, in one of four kinds. */
async function fetchWarzone(path: string, params?: Record<string, number>): Promise<Fetched> {
  try {
    const res = await fetch(httpUrl(path, params), { cache: "no-store", headers: { Accept: "application/json" } });
    if (res.status === 204) return { kind: "none" };
    const body = await res.json().catch(() => null);
    if (!res.ok) return { kind: "error", message: body?.error ?? `${res.status} ${res.statusText}` };
    if (isUnreachable(body)) return { kind: "unreachable", error: body.error };
    return { kind: "ok", body };
  } catch {
    return { kind: "error", message: "the page cannot reach the ingress" };
  }
}

function useWarzoneData() {
  const history = useRef(new History());
  const [metricsAt, setMetricsAt] = useState<number | null>(null);
  const [source, setSource] = useState<string | null>("waiting for the first answer");
  const [experiment, setExperiment] = useState<ExperimentState | null>(null);
  const [experimentNote, setExperimentNote] = useState<string | null>("waiting for the first answer");
  const [reach, setReach] = useState<Reach | null>(null);
  const [, setVersion] = useState(0);
  const [reachLog, setReachLog] = useState<{ start: number; end: number | null }[]>([]);

  useEffect(() => {
    let stopped = false;
    let lastOk = 0;
    const seen = (ok: boolean) => {
      const now = Date.now();
      setReach((r) => (r && r.ok === ok ? { ...r, at: now } : { ok, at: now, since: now }));
      setReachLog((log) => {
        const open = log.length > 0 && log[log.length - 1].end === null;
        if (!ok && !open) return [...log, { start: now, end: null }].slice(-20);
        if (ok && open) return [...log.slice(0, -1), { ...log[log.length - 1], end: now }];
        return log;
      });
    };
    const pollMetrics = async () => {
      // The first answer (or the first after a gap) fills the timeline; then the last seconds.
      const gap = lastOk ? Math.ceil((Date.now() - lastOk) / 1000) + 3 : WINDOW_S;
      const r = await fetchWarzone("/api/warzone/metrics", { seconds: Math.min(WINDOW_S, Math.max(5, gap)) });
      if (stopped) return;
      if (r.kind === "ok") {
        history.current.merge(r.body as MetricsAnswer, WINDOW_S);
        lastOk = Date.now();
        setMetricsAt(lastOk);
        setSource(null);
        seen(true);
      } else if (r.kind === "unreachable") {
        setSource(`read-api, which serves the metrics, does not answer (${r.error})`);
        seen(false);
      } else if (r.kind === "error") {
        setSource(r.message);
      }
      setVersion((v) => v + 1);
    };
    const pollExperiment = async () => {
      const r = await fetchWarzone("/api/warzone/experiment");
      if (stopped) return;
      if (r.kind === "ok") {
        setExperiment(r.body as ExperimentState);
        setExperimentNote(null);
        seen(true);
      } else if (r.kind === "none") {
        setExperiment(null);
        setExperimentNote(null);
        seen(true);
      } else if (r.kind === "unreachable") {
        setExperimentNote("read-api does not answer: showing the last state it served");
        seen(false);
      } else {
        setExperimentNote(r.message);
      }
    };
    // Each loop waits for its answer before the next, so a slow source is not piled on.
    const loop = (fn: () => Promise<void>, every: number) => {
      const run = async () => {
        const t0 = Date.now();
        await fn();
        if (!stopped) setTimeout(run, Math.max(0, every - (Date.now() - t0)));
      };
      run();
    };
    loop(pollMetrics, METRICS_EVERY_MS);
    loop(pollExperiment, EXPERIMENT_EVERY_MS);
    return () => {
      stopped = true;
    };
  }, []);

  return { history: history.current, metricsAt, source, experiment, experimentNote, reach, reachLog };
}

function useNow(everyMs: number) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function WarzonePage() {
  const data = useWarzoneData();
  const now = useNow(250);
  const [selected, setSelected] = useState<string | null>(null);
  const metricsOk = data.metricsAt !== null && now - data.metricsAt < METRICS_STALE_MS;
  const source = metricsOk
    ? null
    : (data.source ?? (data.metricsAt ? `no answer for ${((now - data.metricsAt) / 1000).toFixed(0)} s` : "no answer yet"));
  const th = data.experiment ? thresholdsOf(data.experiment) : DEFAULT_THRESHOLDS;
  // The newest complete second.
  const at = Math.floor(now / 1000) - 1;
  const picture = judge(data.history, at, { metricsOk, source, reach: data.reach, now, th });
  const ready = data.metricsAt !== null;

  return (
    <section className="warzone" data-testid="warzone" data-ready={ready ? "true" : "false"} aria-labelledby="wz-title">
      <div className="wz-head">
        <h1 id="wz-title">War zone</h1>
        <p className="wz-source" role="status" data-testid="source">
          {metricsOk ? `Metrics: ${data.history.names.size} named queries from Prometheus, updated every second.` : `Metrics: no data — ${source}.`}
        </p>
      </div>
      <div className="wz-top">
        <Drawing picture={picture} selected={selected} onSelect={setSelected} />
        <ExperimentPanel e={data.experiment} note={data.experimentNote} now={now} />
      </div>
      <Selected picture={picture} id={selected} />
      <Timeline history={data.history} at={at} e={data.experiment} reachLog={data.reachLog} />
      <TextEquivalent picture={picture} />
    </section>
  );
}

const nodeById = Object.fromEntries(NODES.map((n) => [n.id, n]));

/** Where the segment from `a`'s centre towards `b`'s leaves `a`'s box. */
function boxExit(a: { x: number; y: number }, b: { x: number; y: number }, pad = 4) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const t = Math.min(dx ? (NODE_W / 2 + pad) / Math.abs(dx) : Infinity, dy ? (NODE_H / 2 + pad) / Math.abs(dy) : Infinity);
  return { x: a.x + dx * t, y: a.y + dy * t };
}

function edgeLines(j: Judged): string[] {
  const v = j.values;
  const lines: string[] = [];
  if (v.rate !== undefined || v.success !== undefined) {
    lines.push([v.rate !== undefined ? fmtSignal("rate", v.rate) : null, v.success !== undefined ? fmtSignal("success", v.success) : null].filter(Boolean).join(" · "));
  }
  if (v.p99_ms !== undefined) lines.push(`p99 ${fmtSignal("p99_ms", v.p99_ms)}`);
  if (v.lag !== undefined) lines.push(`lag ${fmtSignal("lag", v.lag)}`);
  if (j.health !== "healthy" && j.health !== "not-measured") lines.push(`${HEALTH_MARK[j.health]} ${HEALTH_WORD[j.health]}`);
  return lines;
}

function describe(j: Judged): string {
  const nums = SIGNALS.filter((s) => j.values[s] !== undefined).map((s) => `${SIGNAL_WORD[s]} ${fmtSignal(s, j.values[s])}`);
  return [HEALTH_WORD[j.health], ...nums, ...j.why].join("; ");
}

function Drawing({ picture, selected, onSelect }: { picture: Picture; selected: string | null; onSelect: (id: string) => void }) {
  return (
    <figure className="wz-drawing">
      <svg viewBox="0 0 1140 410" role="group" aria-label="The pipeline: each component and link with its state" data-testid="drawing">
        <defs>
          <marker id="wz-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="context-stroke" />
          </marker>
        </defs>
        <rect className="wz-pod" x={640 - NODE_W / 2 - 12} y={95 - NODE_H / 2 - 24} width={NODE_W + 24} height={215 - 95 + NODE_H + 34} rx="12" />
        <text className="wz-pod-label" x={640} y={95 - NODE_H / 2 - 9} textAnchor="middle">
          consumer pod
        </text>
        {EDGES.map((e) => {
          const j = picture.edges[e.id];
          const a = nodeById[e.from];
          const b = nodeById[e.to];
          const p = boxExit(a, b);
          const q = boxExit(b, a, 6);
          const mx = (p.x + q.x) / 2;
          const my = (p.y + q.y) / 2;
          const lines = edgeLines(j);
          return (
            <g
              key={e.id}
              className={`wz-edge h-${j.health}${selected === e.id ? " sel" : ""}`}
              data-testid={`edge-${e.id}`}
              data-state={j.health}
              tabIndex={0}
              role="img"
              aria-label={`${a.label} to ${b.label} (${e.what}): ${describe(j)}`}
              onFocus={() => onSelect(e.id)}
              onClick={() => onSelect(e.id)}
            >
              <line x1={p.x} y1={p.y} x2={q.x} y2={q.y} markerEnd="url(#wz-arrow)" />
              {lines.map((l, i) => {
                // Horizontal links: above the top row, below the bottom one, clear of the boxes;
                // vertical ones on their right, diagonal ones on their left.
                const horizontal = Math.abs(p.y - q.y) < 1;
                const vertical = Math.abs(p.x - q.x) < 1;
                const top = p.y < 150;
                const y = horizontal
                  ? top
                    ? p.y - NODE_H / 2 - 8 - (lines.length - 1 - i) * 14
                    : p.y + NODE_H / 2 + 16 + i * 14
                  : my - (lines.length - 1) * 7 + i * 14;
                const x = horizontal ? mx : vertical ? mx + 10 : mx - 10;
                return (
                  <text key={i} x={x} y={y} textAnchor={horizontal ? "middle" : vertical ? "start" : "end"} className="wz-edge-label">
                    {l}
                  </text>
                );
              })}
            </g>
          );
        })}
        {NODES.map((n) => {
          const j = picture.nodes[n.id];
          return (
            <g
              key={n.id}
              className={`wz-node h-${j.health}${selected === n.id ? " sel" : ""}`}
              data-testid={`node-${n.id}`}
              data-state={j.health}
              tabIndex={0}
              role="img"
              aria-label={`${n.label} (${n.what}): ${describe(j)}`}
              onFocus={() => onSelect(n.id)}
              onClick={() => onSelect(n.id)}
            >
              <rect x={n.x - NODE_W / 2} y={n.y - NODE_H / 2} width={NODE_W} height={NODE_H} rx="8" />
              <text x={n.x} y={n.y - 5} textAnchor="middle" className="wz-node-name">
                {n.label}
              </text>
              <text x={n.x} y={n.y + 15} textAnchor="middle" className="wz-node-state">
                {HEALTH_MARK[j.health]} {HEALTH_WORD[j.health]}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="wz-legend">
        {(["healthy", "idle", "degraded", "down", "no-data", "not-measured"] as Health[]).map((h) => (
          <span key={h} className={`wz-key h-${h}`}>
            <span aria-hidden="true">{HEALTH_MARK[h]}</span> {HEALTH_WORD[h]}
          </span>
        ))}
        <span className="wz-key-note">Tab through the drawing; each part reads out its state and numbers.</span>
      </figcaption>
    </figure>
  );
}

function Selected({ picture, id }: { picture: Picture; id: string | null }) {
  let text = "Select a component or a link (Tab, or click) to read it here.";
  if (id && picture.nodes[id]) text = `${nodeById[id].label} (${nodeById[id].what}): ${describe(picture.nodes[id])}`;
  const edge = EDGES.find((e) => e.id === id);
  if (edge) text = `${nodeById[edge.from].label} → ${nodeById[edge.to].label} (${edge.what}): ${describe(picture.edges[edge.id])}`;
  return (
    <p className="wz-selected" aria-live="polite" data-testid="selected">
      {text}
    </p>
  );
}

function clock(unix: number): string {
  return new Date(unix * 1000).toLocaleTimeString("en-GB", { hour12: false });
}

function ExperimentPanel({ e, note, now }: { e: ExperimentState | null; note: string | null; now: number }) {
  if (!e) {
    return (
      <aside className="wz-exp card" aria-labelledby="wz-exp-title" data-testid="experiment">
        <h2 id="wz-exp-title">Experiment</h2>
        <p>{note ? `No data: ${note}.` : "No experiment has run on this stack yet."}</p>
        <p className="muted">
          Start one: <code>cargo run -p experiments -- podkill</code>
        </p>
      </aside>
    );
  }
  const nowS = now / 1000;
  const { phase, left } = describePhase(e, nowS);
  const f = e.fault;
  return (
    <aside className="wz-exp card" aria-labelledby="wz-exp-title" data-testid="experiment" data-phase={e.phase}>
      <h2 id="wz-exp-title">
        Experiment <span className="muted">{e.run_id}</span>
      </h2>
      {note && <p className="wz-note">{note}</p>}
      <dl className="wz-facts">
        <dt>Scenario</dt>
        <dd>
          <strong>{e.scenario}</strong> on {e.on}
        </dd>
        <dt>Target</dt>
        <dd>{e.target}</dd>
        <dt>Phase</dt>
        <dd>
          <strong data-testid="phase" role="status">
            {phase}
          </strong>
        </dd>
        <dt>Time left</dt>
        <dd data-testid="time-left">{left}</dd>
        <dt>Fault</dt>
        <dd data-testid="fault">
          {f ? (f.end === null ? `on since ${clock(f.start)} (${(nowS - f.start).toFixed(0)} s)` : `${clock(f.start)}, over after ${(f.end - f.start).toFixed(1)} s`) : "not yet"}
        </dd>
      </dl>
      <p className="wz-desc">{e.description}</p>
      <h3>Hypothesis probes</h3>
      {e.probes.length === 0 ? (
        <p className="muted">Not decided yet: the kit decides them from the users' side when the load ends.</p>
      ) : (
        <ul className="wz-probes" data-testid="probes">
          {e.probes.map((p, i) => (
            <li key={i} className={p.passed === null ? "h-no-data" : p.passed ? "h-healthy" : "h-down"}>
              {p.passed === null ? "? not measured" : p.passed ? "✓ passed" : "✕ failed"} — {p.when}: {p.name} {p.expected}, observed{" "}
              {p.observed === null ? "nothing" : Number(p.observed.toFixed(3))}
            </li>
          ))}
        </ul>
      )}
      {e.verdict && (
        <p className={`wz-verdict ${e.verdict.passed ? "h-healthy" : "h-down"}`} data-testid="verdict">
          <strong>{e.verdict.passed ? "✓ PASSED" : "✕ FAILED"}</strong>
          {e.verdict.failures.length > 0 && `: ${e.verdict.failures.join("; ")}`} —{" "}
          <a href={httpUrl(e.verdict.report_url)} target="_blank" rel="noreferrer">
            report.md
          </a>{" "}
          <span className="muted">({e.verdict.report_path})</span>
        </p>
      )}
    </aside>
  );
}

function Timeline({ history, at, e, reachLog }: { history: History; at: number; e: ExperimentState | null; reachLog: { start: number; end: number | null }[] }) {
  const from = at - WINDOW_S;
  const x = (t: number) => ((t - from) / WINDOW_S) * 300;
  const fault = e?.fault ?? null;
  const phases = (e?.phases ?? []).filter((p) => p.end > from && p.start < at);
  return (
    <section className="wz-timeline card" aria-labelledby="wz-tl-title">
      <h2 id="wz-tl-title">Last {WINDOW_S / 60} minutes</h2>
      <p className="wz-tl-legend">
        Now at the right edge.{" "}
        {phases.length > 0 ? `Shaded: ${phases.map((p) => `${p.name} ${clock(p.start)}–${clock(p.end)}`).join(", ")}. ` : "No experiment phases in this window. "}
        {fault && (
          <span data-testid="fault-mark">
            ✕ Fault ({e!.scenario} on {e!.target}) at {clock(fault.start)}
            {fault.end !== null ? `, over at ${clock(fault.end)}` : ", still on"}: the red line.
          </span>
        )}
      </p>
      <div className="wz-grid" role="table" aria-label="Golden signals per component over time">
        <div role="row" className="wz-row wz-row-head">
          <span role="columnheader">component</span>
          {SIGNALS.map((s) => (
            <span role="columnheader" key={s}>
              {s === "rate" ? "requests/s" : s === "success" ? "success" : s === "p99_ms" ? "p99 (ms)" : "consumer lag"}
            </span>
          ))}
        </div>
        {TIMELINE_ROWS.map((row) => (
          <div role="row" className="wz-row" key={row.subject} data-testid={`timeline-${row.subject}`}>
            <span role="rowheader">{row.label}</span>
            {SIGNALS.map((s) => {
              const name = `${row.subject}.${s}`;
              if (!history.measured(name)) {
                return (
                  <span role="cell" key={s} className="wz-cell wz-na">
                    —
                  </span>
                );
              }
              const pts = history.series(name, from, at);
              const latest = history.latest(name, at);
              const max = s === "success" ? 1 : Math.max(1e-9, ...pts.map((p) => p[1]));
              const y = (v: number) => 34 - (v / max) * 30;
              let d = "";
              let prev = -Infinity;
              for (const [t, v] of pts) {
                d += `${t - prev > 1.5 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)} `;
                prev = t;
              }
              const label = `${row.label} ${SIGNAL_WORD[s]}: now ${fmtSignal(s, latest)}${pts.length ? `, highest ${fmtSignal(s, Math.max(...pts.map((p) => p[1])))}` : ""} in the window`;
              return (
                <span role="cell" key={s} className="wz-cell" aria-label={label}>
                  <svg viewBox="0 0 300 36" preserveAspectRatio="none" aria-hidden="true">
                    {phases.map((p) => (
                      <rect key={p.name} className={`wz-phase ph-${p.name}`} x={x(Math.max(p.start, from))} width={Math.max(0, x(Math.min(p.end, at)) - x(Math.max(p.start, from)))} y="0" height="36" />
                    ))}
                    {row.subject === "pages>read-api" &&
                      reachLog
                        .filter((r) => (r.end ?? at * 1000) / 1000 > from)
                        .map((r) => <rect key={r.start} className="wz-unreachable" x={x(Math.max(r.start / 1000, from))} width={Math.max(1.5, x((r.end ?? at * 1000) / 1000) - x(Math.max(r.start / 1000, from)))} y="0" height="36" />)}
                    {fault && fault.start > from && <line className="wz-fault-line" x1={x(fault.start)} x2={x(fault.start)} y1="0" y2="36" />}
                    <path d={d} className="wz-spark" vectorEffect="non-scaling-stroke" />
                  </svg>
                  <span className="wz-now">{fmtSignal(s, latest)}</span>
                </span>
              );
            })}
          </div>
        ))}
      </div>
    </section>
  );
}

function TextEquivalent({ picture }: { picture: Picture }) {
  return (
    <details className="wz-text card">
      <summary>The drawing as a table</summary>
      <table data-testid="text-equivalent">
        <thead>
          <tr>
            <th scope="col">part</th>
            <th scope="col">state</th>
            <th scope="col">requests/s</th>
            <th scope="col">success</th>
            <th scope="col">p99</th>
            <th scope="col">lag</th>
            <th scope="col">why</th>
          </tr>
        </thead>
        <tbody>
          {NODES.map((n) => (
            <Row key={n.id} name={`${n.label} (${n.what})`} j={picture.nodes[n.id]} />
          ))}
          {EDGES.map((e) => (
            <Row key={e.id} name={`${nodeById[e.from].label} → ${nodeById[e.to].label} (${e.what})`} j={picture.edges[e.id]} />
          ))}
        </tbody>
      </table>
    </details>
  );
}

function Row({ name, j }: { name: string; j: Judged }) {
  const cell = (s: Signal) => (j.values[s] === undefined ? "—" : fmtSignal(s, j.values[s]));
  return (
    <tr>
      <th scope="row">{name}</th>
      <td>
        {HEALTH_MARK[j.health]} {HEALTH_WORD[j.health]}
      </td>
      <td>{cell("rate")}</td>
      <td>{cell("success")}</td>
      <td>{cell("p99_ms")}</td>
      <td>{cell("lag")}</td>
      <td>{j.why.join("; ")}</td>
    </tr>
  );
}
