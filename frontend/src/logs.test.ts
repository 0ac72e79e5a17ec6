import { describe, expect, it } from "vitest";
import type { LogItem } from "./push";
import { countNewer, formatTime, mergeTail } from "./logs";

const item = (id: string): LogItem => ({ id, team1: "A", team2: "B", score: "1-0", phase: 1, received_at: "2026-01-01T00:00:00Z", logged_at: "2026-01-01T00:00:00Z", partition: 0, offset: 0 });

describe("logs tail", () => {
  it("puts new items on top, drops duplicates, keeps the limit", () => {
    const rows = ["05", "04", "03", "02", "01"].map(item);
    const merged = mergeTail(rows, ["07", "06", "05"].map(item), 6);
    expect(merged.map((r) => r.id)).toEqual(["07", "06", "05", "04", "03", "02"]);
  });
  it("counts only what is newer than the counted", () => {
    expect(countNewer(["07", "06", "05"].map(item), "05")).toBe(2);
    expect(countNewer(["07"].map(item), null)).toBe(1);
  });
  it("formats times with milliseconds, and the date when not today", () => {
    const d = new Date(2026, 0, 2, 3, 4, 5, 6);
    expect(formatTime(d.toISOString(), new Date(2026, 0, 2, 12))).toBe("03:04:05.006");
    expect(formatTime(d.toISOString(), new Date(2026, 0, 3))).toBe("2026-01-02 03:04:05.006");
  });
});
