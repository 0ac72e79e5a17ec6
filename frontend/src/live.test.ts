import { describe, expect, it } from "vitest";
import { applyLiveMessage, applyLiveMessages, emptyLiveState, formatShare, normalizeMatch, phaseTotals, sortScores } from "./live";
import type { LiveMessage, MatchView } from "./push";

const match = (id: string, scores: [string, number][], total?: number): MatchView => {
  const [phase, team1, team2] = id.split(":");
  const sum = scores.reduce((s, [, c]) => s + c, 0);
  return { id, phase: Number(phase), team1, team2, total: total ?? sum, scores: scores.map(([score, count]) => ({ score, count, share: 0 })), top: null };
};

describe("shares and sorting", () => {
  it("computes shares from the counts", () => {
    const m = normalizeMatch(match("4:Argentina:France", [["3-3", 5], ["2-1", 3], ["0-0", 2]]));
    expect(m.total).toBe(10);
    expect(m.scores.map((s) => s.share)).toEqual([0.5, 0.3, 0.2]);
    expect(m.top).toBe("3-3");
  });

  it("sorts by count, then fewer goals, then text", () => {
    const sorted = sortScores([
      { score: "2-2", count: 4, share: 0 },
      { score: "1-0", count: 4, share: 0 },
      { score: "0-1", count: 4, share: 0 },
      { score: "5-0", count: 9, share: 0 },
    ]);
    expect(sorted.map((s) => s.score)).toEqual(["5-0", "0-1", "1-0", "2-2"]);
  });

  it("handles a match without scores", () => {
    const m = normalizeMatch(match("1:Qatar:Ecuador", []));
    expect(m.total).toBe(0);
    expect(m.top).toBeNull();
  });

  it("formats shares", () => {
    expect(formatShare(0.5)).toBe("50.0%");
    expect(formatShare(1 / 3)).toBe("33.3%");
    expect(formatShare(1)).toBe("100%");
    expect(formatShare(0)).toBe("0.0%");
  });
});

describe("applyLiveMessage", () => {
  const snapshot: LiveMessage = {
    type: "snapshot",
    total: 16,
    phases: [
      { phase: 1, total: 4, matches: [match("1:Qatar:Ecuador", [["0-2", 3], ["1-1", 1]])] },
      { phase: 4, total: 12, matches: [match("4:Argentina:France", [["3-3", 6], ["1-0", 6]])] },
    ],
  };

  it("a snapshot replaces everything", () => {
    const before = applyLiveMessage(emptyLiveState, {
      type: "snapshot",
      total: 1,
      phases: [{ phase: 2, total: 1, matches: [match("2:Japan:Croatia", [["1-1", 1]])] }],
    });
    const s = applyLiveMessage(before, snapshot);
    expect(s.ready).toBe(true);
    expect(s.total).toBe(16);
    expect(Object.keys(s.matches).sort()).toEqual(["1:Qatar:Ecuador", "4:Argentina:France"]);
    expect(s.matches["4:Argentina:France"].scores.map((x) => x.score)).toEqual(["1-0", "3-3"]);
    expect(phaseTotals(s)).toEqual({ 1: 4, 4: 12 });
  });

  it("a live message changes only the matches it names and sets the total", () => {
    const s0 = applyLiveMessage(emptyLiveState, snapshot);
    const s1 = applyLiveMessage(s0, { type: "live", total: 20, matches: [match("4:Argentina:France", [["3-3", 10], ["1-0", 6]])] });
    expect(s1.total).toBe(20);
    expect(s1.matches["4:Argentina:France"].total).toBe(16);
    expect(s1.matches["4:Argentina:France"].top).toBe("3-3");
    expect(s1.matches["1:Qatar:Ecuador"]).toBe(s0.matches["1:Qatar:Ecuador"]);
    // The old state is untouched.
    expect(s0.matches["4:Argentina:France"].total).toBe(12);
    expect(s0.total).toBe(16);
  });

  it("a live message adds a new match", () => {
    const s = applyLiveMessages(emptyLiveState, [snapshot, { type: "live", total: 17, matches: [match("2:Japan:Croatia", [["1-1", 1]])] }]);
    expect(Object.keys(s.matches)).toHaveLength(3);
    expect(phaseTotals(s)[2]).toBe(1);
  });

  it("an error keeps the data and is cleared by the next snapshot", () => {
    const s0 = applyLiveMessage(emptyLiveState, snapshot);
    const s1 = applyLiveMessage(s0, { type: "error", error: "redis: connection refused" });
    expect(s1.error).toContain("redis");
    expect(s1.total).toBe(16);
    const s2 = applyLiveMessage(s1, snapshot);
    expect(s2.error).toBeNull();
  });

  it("many messages fold into the same state as one by one", () => {
    const msgs: LiveMessage[] = [snapshot];
    for (let i = 1; i <= 100; i++) msgs.push({ type: "live", total: 16 + i, matches: [match("1:Qatar:Ecuador", [["0-2", 3 + i], ["1-1", 1]])] });
    const folded = applyLiveMessages(emptyLiveState, msgs);
    let one = emptyLiveState;
    for (const m of msgs) one = applyLiveMessage(one, m);
    expect(folded).toEqual(one);
    expect(folded.total).toBe(116);
    expect(folded.matches["1:Qatar:Ecuador"].scores[0]).toEqual({ score: "0-2", count: 103, share: 103 / 104 });
  });
});
