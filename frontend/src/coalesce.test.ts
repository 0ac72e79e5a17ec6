import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCoalescer, type Schedule } from "./coalesce";
import { backoffDelay } from "./backoff";

// A manual "animation frame": tests decide when frames happen.
function manualFrames() {
  let queue: (() => void)[] = [];
  const schedule: Schedule = (cb) => {
    queue.push(cb);
    return () => {
      queue = queue.filter((c) => c !== cb);
    };
  };
  return {
    schedule,
    frame() {
      const q = queue;
      queue = [];
      q.forEach((cb) => cb());
    },
    get waiting() {
      return queue.length;
    },
  };
}

describe("createCoalescer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("hands a burst over in one batch per frame", () => {
    const frames = manualFrames();
    const batches: number[][] = [];
    const c = createCoalescer<number>((b) => batches.push(b), { schedule: frames.schedule, now: () => Date.now(), minIntervalMs: 0 });
    for (let i = 0; i < 10_000; i++) c.push(i);
    expect(batches).toHaveLength(0);
    expect(frames.waiting).toBe(1);
    frames.frame();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(10_000);
    expect(batches[0][9999]).toBe(9999);
  });

  it("flushes at most once per minimum interval", () => {
    const frames = manualFrames();
    const flushedAt: number[] = [];
    const c = createCoalescer<number>(() => flushedAt.push(Date.now()), { schedule: frames.schedule, now: () => Date.now(), minIntervalMs: 250 });
    // 10 s of messages every 10 ms, with a frame every 16 ms.
    for (let t = 0; t < 10_000; t += 2) {
      if (t % 10 === 0) c.push(t);
      if (t % 16 === 0) frames.frame();
      vi.advanceTimersByTime(2);
    }
    for (let i = 1; i < flushedAt.length; i++) expect(flushedAt[i] - flushedAt[i - 1]).toBeGreaterThanOrEqual(250);
    // About 4 per second.
    expect(flushedAt.length).toBeGreaterThanOrEqual(35);
    expect(flushedAt.length).toBeLessThanOrEqual(41);
  });

  it("loses nothing and keeps the order", () => {
    const frames = manualFrames();
    const got: number[] = [];
    const c = createCoalescer<number>((b) => got.push(...b), { schedule: frames.schedule, now: () => Date.now(), minIntervalMs: 100 });
    for (let i = 0; i < 1000; i++) {
      c.push(i);
      if (i % 7 === 0) frames.frame();
      vi.advanceTimersByTime(3);
    }
    vi.advanceTimersByTime(200);
    frames.frame();
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("flush() hands over at once and cancel() drops", () => {
    const frames = manualFrames();
    const batches: string[][] = [];
    const c = createCoalescer<string>((b) => batches.push(b), { schedule: frames.schedule });
    c.push("a");
    c.flush();
    expect(batches).toEqual([["a"]]);
    c.push("b");
    c.cancel();
    expect(c.pending).toBe(0);
    frames.frame();
    vi.advanceTimersByTime(1000);
    frames.frame();
    expect(batches).toEqual([["a"]]);
  });
});

describe("backoffDelay", () => {
  it("doubles from 0.5 s up to 10 s", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, mid))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
  });
  it("jitters within ±20%", () => {
    expect(backoffDelay(0, () => 0)).toBe(400);
    expect(backoffDelay(0, () => 1)).toBe(600);
  });
});
