// Data shaping for /live: the state the page keeps, and the reducer that applies the read API's
// WebSocket messages to it. Pure functions, unit tested in live.test.ts.

import type { LiveMessage, MatchView, ScoreView } from "./push";

export interface LiveState {
  /** Every prediction, whatever the filters. */
  total: number;
  /** Matches by id. */
  matches: Record<string, MatchView>;
  /** Whether a snapshot arrived since the socket opened. */
  ready: boolean;
  /** The backend's error while Redis is down; null when fine. */
  error: string | null;
  /** How many messages were applied (for tests and debugging). */
  applied: number;
}

export const emptyLiveState: LiveState = {
  total: 0,
  matches: {},
  ready: false,
  error: null,
  applied: 0,
};

/** A match with its scores recomputed: shares from the counts, sorted by count then goals. */
export function normalizeMatch(m: MatchView): MatchView {
  const total = m.scores.reduce((sum, s) => sum + s.count, 0) || m.total;
  const scores = sortScores(
    m.scores.map((s) => ({ ...s, share: total > 0 ? s.count / total : 0 })),
  );
  return { ...m, total: Math.max(total, m.total), scores, top: scores[0]?.score ?? null };
}

/** Goals of a score "a-b": a+b, or Infinity for something that is not a score. */
export function goals(score: string): number {
  const m = /^(\d+)-(\d+)$/.exec(score);
  return m ? Number(m[1]) + Number(m[2]) : Number.POSITIVE_INFINITY;
}

/** By count descending, then fewer goals, then the score's text: the API's order, made stable. */
export function sortScores(scores: ScoreView[]): ScoreView[] {
  return [...scores].sort(
    (a, b) => b.count - a.count || goals(a.score) - goals(b.score) || a.score.localeCompare(b.score),
  );
}

/** Applies one message; returns a new state (the old one is not changed). */
export function applyLiveMessage(state: LiveState, msg: LiveMessage): LiveState {
  switch (msg.type) {
    case "snapshot": {
      const matches: Record<string, MatchView> = {};
      for (const p of msg.phases) for (const m of p.matches) matches[m.id] = normalizeMatch(m);
      return { total: msg.total, matches, ready: true, error: null, applied: state.applied + 1 };
    }
    case "live": {
      const matches = { ...state.matches };
      for (const m of msg.matches) matches[m.id] = normalizeMatch(m);
      return { ...state, total: msg.total, matches, error: null, applied: state.applied + 1 };
    }
    case "error":
      return { ...state, error: msg.error || "the live store does not answer", applied: state.applied + 1 };
    default:
      return state;
  }
}

/** Applies messages in order. */
export function applyLiveMessages(state: LiveState, msgs: LiveMessage[]): LiveState {
  return msgs.reduce(applyLiveMessage, state);
}

/** Sum of the match totals per phase. */
export function phaseTotals(state: LiveState): Record<number, number> {
  const out: Record<number, number> = {};
  for (const m of Object.values(state.matches)) out[m.phase] = (out[m.phase] ?? 0) + m.total;
  return out;
}

/** "0.4567" → "45.7%"; small shares keep a decimal, 100% has none. */
export function formatShare(share: number): string {
  const pct = share * 100;
  if (pct >= 99.95) return "100%";
  return `${pct.toFixed(1)}%`;
}

/** Whether a predicted score is the real result: "3-3" vs "3-3". */
export function sameScore(a: string | null | undefined, b: string | null | undefined): boolean {
  return !!a && !!b && a.trim() === b.trim();
}
