import { describe, expect, it } from "vitest";
import { describeResult, findRealMatch, realMatches, resultScore } from "./data/matches";

describe("real matches", () => {
  it("has the 64 matches in 4 phases", () => {
    expect(realMatches).toHaveLength(64);
    const per = [1, 2, 3, 4].map((p) => realMatches.filter((m) => m.phase === p).length);
    expect(per).toEqual([48, 8, 4, 4]);
  });
  it("knows the final, from either side", () => {
    const f = findRealMatch(4, "France", "Argentina")!;
    expect(f.round).toBe("Final");
    expect(resultScore(f, "Argentina")).toBe("3-3");
    expect(describeResult(f, "Argentina")).toBe("3-3 after extra time, 4-2 on penalties");
    expect(describeResult(f, "France")).toBe("3-3 after extra time, 2-4 on penalties");
    const g = findRealMatch(1, "Ecuador", "Qatar")!;
    expect(resultScore(g, "Ecuador")).toBe("2-0");
  });
});
