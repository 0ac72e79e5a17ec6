// What the read API pushes over its WebSockets, one JSON message per frame, tagged by `type`.
// Mirrors crates/model/src/push.rs (`PushMessage` and the views it carries): change both
// together. push.test.ts checks these types against push-fixtures.json, which read-api's test
// services/read-api/tests/push_fixtures.rs writes from the Rust types.

export interface ScoreView {
  score: string;
  count: number;
  /** count / the match's total, 0..1, rounded to 4 decimals by the server. */
  share: number;
}

export interface MatchView {
  /** `{phase}:{team1}:{team2}`, the id pushes refer to. */
  id: string;
  phase: number;
  team1: string;
  team2: string;
  total: number;
  /** Most predicted first. */
  scores: ScoreView[];
  /** The most predicted score; null while the match has none. */
  top: string | null;
}

export interface PhaseView {
  phase: number;
  /** Sum of the totals of the matches shown. */
  total: number;
  matches: MatchView[];
}

/** `GET /api/live`, and the body of a `snapshot`. */
export interface LiveView {
  /** Every prediction, whatever the filters. */
  total: number;
  phases: PhaseView[];
}

/** One log (`GET /api/logs` and `logs` pushes). */
export interface LogItem {
  id: string;
  team1: string;
  team2: string;
  score: string;
  phase: number;
  received_at: string;
  logged_at: string;
  partition: number;
  offset: number;
}

export type PushMessage =
  /** Everything the filters accept: replaces whatever the page had. */
  | ({ type: "snapshot" } & LiveView)
  /** Only the matches that changed, with the grand total. */
  | { type: "live"; total: number; matches: MatchView[] }
  /** The live store does not answer; a snapshot follows when it does again. */
  | { type: "error"; error: string }
  /** Logs written since the last push, newest first; `gap`: the tail skipped some. */
  | { type: "logs"; items: LogItem[]; gap: boolean }
  /** This socket fell behind. */
  | { type: "lagged"; missed_batches: number };

/** What `/api/live/ws` sends. */
export type LiveMessage = Extract<PushMessage, { type: "snapshot" | "live" | "error" }>;
/** What `/api/logs/ws` sends. */
export type LogsMessage = Extract<PushMessage, { type: "logs" | "lagged" }>;
