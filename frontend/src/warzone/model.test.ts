import { describe, expect, test } from "vitest";
import { DEFAULT_THRESHOLDS, History, describePhase, fmtDuration, judge, judgeSignals, type ExperimentState, type MetricsAnswer } from "./model";

const th = DEFAULT_THRESHOLDS;

function answer(end: number, series: MetricsAnswer["series"], names = Object.keys(series)): MetricsAnswer {
  return { flavour: "local", end, step_s: 1, names, series, failed: {} };
}

describe("judging an edge", () => {
  test("every state has its reason in words", () => {
    expect(judgeSignals({ rate: 10, success: 1, p99_ms: 5 }, true, th).health).toBe("healthy");
    expect(judgeSignals({ rate: 0 }, true, th).health).toBe("idle");
    const slow = judgeSignals({ rate: 10, success: 1, p99_ms: 800 }, true, th);
    expect(slow.health).toBe("degraded");
    expect(slow.why).toEqual(["p99 800 ms > 500 ms"]);
    const failing = judgeSignals({ rate: 10, success: 0.2 }, true, th);
    expect(failing.health).toBe("down");
    expect(judgeSignals({ rate: 10, lag: 5000 }, true, th).why).toEqual(["lag 5,000 > 2,000"]);
  });

  test("no samples is no data, never zero; no query is not measured", () => {
    expect(judgeSignals({}, true, th).health).toBe("no-data");
    expect(judgeSignals({}, false, th).health).toBe("not-measured");
  });
});

describe("the history", () => {
  test("merges answers, forgets the old, and finds the latest point", () => {
    const h = new History();
    h.merge(answer(1000, { "a.rate": [[998, 1], [999, 2]] }), 300);
    h.merge(answer(1400, { "a.rate": [[1399, 5]] }), 300);
    expect(h.series("a.rate", 0, 2000)).toEqual([[1399, 5]]);
    expect(h.latest("a.rate", 1400)).toBe(5);
    expect(h.latest("a.rate", 1405)).toBeUndefined();
    expect(h.measured("a.rate")).toBe(true);
    expect(h.measured("b.rate")).toBe(false);
  });
});

describe("the whole picture", () => {
  const h = new History();
  h.merge(
    answer(1000, {
      "read-api.up": [[1000, 0]],
      "pages>read-api.rate": [[1000, 8]],
      "pages>read-api.success": [[1000, 1]],
      "live-forwarder>link.p99_ms": [[1000, 240]],
      "live-forwarder>link.rate": [[1000, 20]],
      "redis.up": [[1000, 1]],
      "live-store.up": [[1000, 1]],
    }),
  );
  const base = { metricsOk: true, source: null, reach: null, now: 1_000_500, th };

  test("Prometheus's up says read-api is down, and the pages' edge with it", () => {
    const p = judge(h, 1000, base);
    expect(p.nodes["read-api"].health).toBe("down");
    expect(p.edges["pages>read-api"].health).toBe("down");
    expect(p.edges["live-forwarder>link"].values.p99_ms).toBe(240);
    // No query for it: judged by its ends.
    expect(p.edges["live-store>redis"].health).toBe("healthy");
  });

  test("the page's own fresh evidence about read-api beats the last scrape", () => {
    const reach = { ok: true, at: 1_000_400, since: 1_000_300 };
    expect(judge(h, 1000, { ...base, reach }).nodes["read-api"].health).toBe("healthy");
    const stale = { ok: true, at: 990_000, since: 990_000 };
    expect(judge(h, 1000, { ...base, reach: stale }).nodes["read-api"].health).toBe("down");
    const refused = { ok: false, at: 1_000_400, since: 1_000_000 };
    const p = judge(h, 1000, { ...base, reach: refused });
    expect(p.nodes["read-api"].health).toBe("down");
    expect(p.nodes["read-api"].why[0]).toMatch(/cannot reach it \(for 0\.5 s\)/);
  });

  test("a dead metrics source makes everything no data, not zero", () => {
    const p = judge(h, 1000, { ...base, metricsOk: false, source: "prometheus does not answer" });
    expect(p.nodes["redis"].health).toBe("no-data");
    expect(p.edges["live-forwarder>link"].health).toBe("no-data");
    expect(p.edges["live-forwarder>link"].values).toEqual({});
    expect(p.source).toBe("prometheus does not answer");
  });
});

describe("the experiment's phase", () => {
  const e: ExperimentState = {
    version: 1,
    scenario: "podkill",
    target: "read-api",
    description: "",
    run_id: "r",
    on: "local",
    phases: [],
    phase: "fault",
    load_ends_at: 1075,
    fault: null,
    probes: [],
    hypothesis: { min_ingest_success: 0.999, max_ingest_p99_ms: 500, min_read_success: 0.99, max_lag: 2000 },
    verdict: null,
    updated_at: 1000,
  };
  test("says the phase and the time left, and when the kit went quiet", () => {
    expect(describePhase(e, 1001)).toEqual({ phase: "fault", left: "1 min 14 s" });
    expect(describePhase(e, 1010).phase).toMatch(/stopped publishing 10 s ago/);
    expect(fmtDuration(5.4)).toBe("5 s");
  });
});
