// The war zone's model: the pipeline as nodes and edges, what read-api's /api/warzone/* answer,
// the timeline kept in the page, and how a state is judged. Pure: no DOM, no fetch.

/** Every state, each with its word: the drawing never relies on colour alone. */
export type Health = "healthy" | "idle" | "degraded" | "down" | "no-data" | "not-measured";

export const HEALTH_WORD: Record<Health, string> = {
  healthy: "healthy",
  idle: "idle",
  degraded: "degraded",
  down: "down",
  "no-data": "no data",
  "not-measured": "not measured here",
};

/** A mark beside the word, for a glance without colour. */
export const HEALTH_MARK: Record<Health, string> = {
  healthy: "✓",
  idle: "○",
  degraded: "!",
  down: "✕",
  "no-data": "?",
  "not-measured": "·",
};

const SEVERITY: Record<Health, number> = { "not-measured": 0, healthy: 1, idle: 1, "no-data": 2, degraded: 3, down: 4 };
export function worst(a: Health, b: Health): Health {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

export interface NodeDef {
  id: string;
  label: string;
  /** What it is, for the text equivalent. */
  what: string;
  x: number;
  y: number;
}
export interface EdgeDef {
  id: string;
  from: string;
  to: string;
  what: string;
}

/** The drawing's coordinates (viewBox 0 0 1140 375), in the order of the data flow. Row 1 leaves a
 * band above it for its links' labels. */
export const NODES: NodeDef[] = [
  { id: "ingress", label: "ingress", what: "NGINX, the front door", x: 70, y: 95 },
  { id: "ingest", label: "ingest", what: "validates, puts on Kafka", x: 260, y: 95 },
  { id: "kafka", label: "Kafka", what: "topic predictions", x: 450, y: 95 },
  { id: "live-forwarder", label: "live-forwarder", what: "consumer pod, group live", x: 640, y: 95 },
  { id: "logs-writer", label: "logs-writer", what: "consumer pod, group logs", x: 640, y: 215 },
  { id: "link", label: "cross-cluster link", what: "Toxiproxy locally, Linkerd's gateway on clusters", x: 850, y: 95 },
  { id: "live-store", label: "live-store", what: "applies batches to Redis", x: 1060, y: 95 },
  { id: "redis", label: "Redis", what: "live aggregates", x: 1060, y: 215 },
  { id: "mongodb", label: "MongoDB", what: "logs (FerretDB locally)", x: 640, y: 335 },
  { id: "read-api", label: "read-api", what: "API of the pages", x: 850, y: 335 },
  { id: "pages", label: "/live, /logs", what: "the web pages", x: 1060, y: 335 },
];
export const NODE_W = 130;
export const NODE_H = 56;

export const EDGES: EdgeDef[] = [
  { id: "ingress>ingest", from: "ingress", to: "ingest", what: "POST /input" },
  { id: "ingest>kafka", from: "ingest", to: "kafka", what: "produce" },
  { id: "kafka>live-forwarder", from: "kafka", to: "live-forwarder", what: "consume, group live" },
  { id: "kafka>logs-writer", from: "kafka", to: "logs-writer", what: "consume, group logs" },
  { id: "live-forwarder>link", from: "live-forwarder", to: "link", what: "gRPC ApplyBatch, as live-forwarder feels it" },
  { id: "link>live-store", from: "link", to: "live-store", what: "gRPC ApplyBatch, as live-store serves it" },
  { id: "live-store>redis", from: "live-store", to: "redis", what: "Lua script per batch" },
  { id: "logs-writer>mongodb", from: "logs-writer", to: "mongodb", what: "insert_many" },
  { id: "read-api>mongodb", from: "read-api", to: "mongodb", what: "reads the logs" },
  { id: "read-api>redis", from: "read-api", to: "redis", what: "reads the aggregates" },
  { id: "pages>read-api", from: "pages", to: "read-api", what: "HTTP and WebSocket" },
];

export type Signal = "rate" | "success" | "p99_ms" | "lag";
export const SIGNALS: Signal[] = ["rate", "success", "p99_ms", "lag"];
export const SIGNAL_WORD: Record<Signal, string> = { rate: "rate", success: "success", p99_ms: "p99", lag: "lag" };

/** The timeline's rows: each edge with metrics of its own, by the component it describes. */
export const TIMELINE_ROWS: { subject: string; label: string }[] = [
  { subject: "ingress>ingest", label: "ingest" },
  { subject: "kafka>logs-writer", label: "Kafka → logs-writer" },
  { subject: "logs-writer>mongodb", label: "logs-writer → MongoDB" },
  { subject: "kafka>live-forwarder", label: "Kafka → live-forwarder" },
  { subject: "live-forwarder>link", label: "the link (live-forwarder)" },
  { subject: "link>live-store", label: "live-store" },
  { subject: "pages>read-api", label: "read-api" },
];

/** `GET /api/warzone/metrics`. */
export interface MetricsAnswer {
  flavour: string;
  end: number;
  step_s: number;
  names: string[];
  series: Record<string, [number, number][]>;
  failed: Record<string, string>;
}

/** What the ingress answers for /api/warzone/* when it cannot reach read-api. */
export interface Unreachable {
  unreachable: string;
  error: string;
}
export function isUnreachable(v: unknown): v is Unreachable {
  return typeof v === "object" && v !== null && typeof (v as Unreachable).unreachable === "string";
}

/** `experiment.json`, as the kit writes it (experiments/src/kit/warzone_state.rs). */
export interface ExperimentState {
  version: number;
  scenario: string;
  target: string;
  description: string;
  run_id: string;
  on: string;
  phases: { name: string; start: number; end: number }[];
  phase: string;
  load_ends_at: number;
  fault: { start: number; end: number | null; description: string } | null;
  probes: { when: string; name: string; expected: string; observed: number | null; passed: boolean | null }[];
  hypothesis: { min_ingest_success: number; max_ingest_p99_ms: number; min_read_success: number; max_lag: number };
  verdict: { passed: boolean; failures: string[]; report_url: string; report_path: string } | null;
  updated_at: number;
}

/** Per-second points of every name, kept for `keepSeconds`. */
export class History {
  private points = new Map<string, Map<number, number>>();
  names = new Set<string>();

  merge(answer: MetricsAnswer, keepSeconds = 300) {
    for (const n of answer.names) this.names.add(n);
    for (const [name, pts] of Object.entries(answer.series)) {
      let m = this.points.get(name);
      if (!m) this.points.set(name, (m = new Map()));
      for (const [t, v] of pts) m.set(Math.round(t), v);
    }
    const oldest = answer.end - keepSeconds;
    for (const m of this.points.values()) for (const t of m.keys()) if (t < oldest) m.delete(t);
  }

  /** The value at second `at` or at most `maxAge` seconds before it. */
  latest(name: string, at: number, maxAge = 2): number | undefined {
    const m = this.points.get(name);
    if (!m) return undefined;
    for (let t = Math.round(at); t >= Math.round(at) - maxAge; t--) {
      const v = m.get(t);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  series(name: string, from: number, to: number): [number, number][] {
    const m = this.points.get(name);
    if (!m) return [];
    return [...m.entries()].filter(([t]) => t >= from && t <= to).sort((a, b) => a[0] - b[0]);
  }

  measured(name: string): boolean {
    return this.names.has(name);
  }
}

export interface Thresholds {
  minSuccess: number;
  maxP99Ms: number;
  maxLag: number;
}

/** The kit's default hypothesis, until an experiment says otherwise. */
export const DEFAULT_THRESHOLDS: Thresholds = { minSuccess: 0.99, maxP99Ms: 500, maxLag: 2000 };

export function thresholdsOf(e: ExperimentState | null): Thresholds {
  if (!e) return DEFAULT_THRESHOLDS;
  return { minSuccess: e.hypothesis.min_read_success, maxP99Ms: e.hypothesis.max_ingest_p99_ms, maxLag: e.hypothesis.max_lag };
}

export type Values = Partial<Record<Signal, number>>;

export interface Judged {
  health: Health;
  /** Why, in words ("success 42.0% < 99%"); empty when healthy. */
  why: string[];
  values: Values;
}

/** An edge from its own signals; `measured` is false when the target's table has none of them. */
export function judgeSignals(values: Values, measured: boolean, th: Thresholds): Judged {
  if (!measured) return { health: "not-measured", why: [], values };
  const present = SIGNALS.filter((s) => values[s] !== undefined);
  if (present.length === 0) return { health: "no-data", why: ["no data"], values };
  const why: string[] = [];
  let health: Health = "healthy";
  const { success, p99_ms, lag, rate } = values;
  if (success !== undefined && success < 0.5) {
    health = "down";
    why.push(`success ${fmtPct(success)}`);
  } else if (success !== undefined && success < th.minSuccess) {
    health = "degraded";
    why.push(`success ${fmtPct(success)} < ${fmtPct(th.minSuccess)}`);
  }
  if (p99_ms !== undefined && p99_ms > th.maxP99Ms) {
    health = worst(health, "degraded");
    why.push(`p99 ${fmtMs(p99_ms)} > ${fmtMs(th.maxP99Ms)}`);
  }
  if (lag !== undefined && lag > th.maxLag) {
    health = worst(health, "degraded");
    why.push(`lag ${fmtCount(lag)} > ${fmtCount(th.maxLag)}`);
  }
  if (health === "healthy" && rate === 0 && (lag === undefined || lag === 0)) health = "idle";
  return { health, why, values };
}

/** A component from its `up` (1: it answered its last scrape). */
export function judgeUp(up: number | undefined, measured: boolean): Judged {
  if (!measured) return { health: "not-measured", why: [], values: {} };
  if (up === undefined) return { health: "no-data", why: ["no data"], values: {} };
  if (up < 1) return { health: "down", why: ["does not answer its scrape"], values: {} };
  return { health: "healthy", why: [], values: {} };
}

/** What the page itself saw of read-api: its last answer (or refusal) through the ingress. */
export interface Reach {
  ok: boolean;
  /** When the page learnt it (ms since epoch). */
  at: number;
  /** Since when this has held (ms since epoch). */
  since: number;
}

export interface Picture {
  nodes: Record<string, Judged>;
  edges: Record<string, Judged>;
  /** Why everything from Prometheus is "no data", if it is. */
  source: string | null;
}

/**
 * The whole picture at second `at`. `metricsOk` is false when the last metrics answer is too
 * old or failed (then every metric is "no data", never zero). `reach`: the page's own evidence
 * about read-api, which beats Prometheus's (scraped once a second) while it is fresh.
 */
export function judge(h: History, at: number, opts: { metricsOk: boolean; source: string | null; reach: Reach | null; now: number; th: Thresholds }): Picture {
  const nodes: Record<string, Judged> = {};
  const edges: Record<string, Judged> = {};
  const valueOf = (name: string) => (opts.metricsOk ? h.latest(name, at) : undefined);
  for (const n of NODES) {
    const name = `${n.id}.up`;
    nodes[n.id] = judgeUp(valueOf(name), h.measured(name));
  }
  // The pages are this browser: it runs.
  nodes["pages"] = { health: "healthy", why: ["this page runs"], values: {} };
  if (opts.reach && opts.now - opts.reach.at < 2000) {
    nodes["read-api"] = opts.reach.ok
      ? { health: "healthy", why: ["answers this page"], values: {} }
      : { health: "down", why: [`the ingress cannot reach it (for ${((opts.now - opts.reach.since) / 1000).toFixed(1)} s)`], values: {} };
  }
  for (const e of EDGES) {
    const values: Values = {};
    let measured = false;
    for (const s of SIGNALS) {
      const name = `${e.id}.${s}`;
      if (!h.measured(name)) continue;
      measured = true;
      const v = valueOf(name);
      if (v !== undefined) values[s] = v;
    }
    let j = judgeSignals(values, measured, opts.th);
    if (!measured) {
      // No metrics of its own: as good as its ends.
      const ends = worst(nodes[e.from].health, nodes[e.to].health);
      j = { health: ends === "not-measured" ? "not-measured" : ends, why: ["no metrics of its own: judged by its ends"], values };
    } else if (nodes[e.to].health === "down") {
      j = { ...j, health: "down", why: [...j.why, `${e.to} is down`] };
    }
    edges[e.id] = j;
  }
  return { nodes, edges, source: opts.metricsOk ? null : opts.source };
}

export function fmtRate(v: number | undefined): string {
  if (v === undefined) return "no data";
  return v >= 100 ? `${Math.round(v)}/s` : `${v.toFixed(1)}/s`;
}
export function fmtPct(v: number | undefined): string {
  if (v === undefined) return "no data";
  const p = v * 100;
  return p >= 99.95 || p === 0 ? `${p.toFixed(0)}%` : `${p.toFixed(1)}%`;
}
export function fmtMs(v: number | undefined): string {
  if (v === undefined) return "no data";
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`;
}
export function fmtCount(v: number | undefined): string {
  if (v === undefined) return "no data";
  return Math.round(v).toLocaleString("en-US");
}
export function fmtSignal(s: Signal, v: number | undefined): string {
  return s === "rate" ? fmtRate(v) : s === "success" ? fmtPct(v) : s === "p99_ms" ? fmtMs(v) : fmtCount(v);
}

/** "1 min 05 s", for time left. */
export function fmtDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** The phase at `now` (Unix seconds) in words, and the time left in the load. */
export function describePhase(e: ExperimentState, now: number): { phase: string; left: string } {
  const stale = now - e.updated_at > 5 && e.phase !== "done";
  if (stale) return { phase: `${e.phase} (the kit stopped publishing ${fmtDuration(now - e.updated_at)} ago)`, left: "no data" };
  if (e.phase === "done") return { phase: "done", left: "0 s" };
  if (e.phase === "checking" || e.phase === "stopped") return { phase: e.phase === "checking" ? "checking (draining, the data invariant)" : "stopped", left: "load over" };
  return { phase: e.phase, left: fmtDuration(e.load_ends_at - now) };
}
