import { describe, expect, it } from "vitest";
import { applyLiveMessages, emptyLiveState } from "./live";
import type { LiveMessage, LogsMessage, PushMessage } from "./push";
// Written by services/read-api/tests/push_fixtures.rs from the Rust types (crates/model/src/push.rs).
import fixtures from "./push-fixtures.json";

// One message of each kind, written against the TypeScript types: tsc refuses a missing or an
// extra field here, and a kind without an example. The fixtures must have the same shape.
const examples: { [K in PushMessage["type"]]: Extract<PushMessage, { type: K }> } = {
  snapshot: {
    type: "snapshot",
    total: 1,
    phases: [{ phase: 1, total: 1, matches: [{ id: "1:A:B", phase: 1, team1: "A", team2: "B", total: 1, scores: [{ score: "1-0", count: 1, share: 1 }], top: "1-0" }] }],
  },
  live: {
    type: "live",
    total: 1,
    matches: [{ id: "1:A:B", phase: 1, team1: "A", team2: "B", total: 1, scores: [{ score: "1-0", count: 1, share: 1 }], top: "1-0" }],
  },
  error: { type: "error", error: "down" },
  logs: {
    type: "logs",
    items: [{ id: "x", team1: "A", team2: "B", score: "1-0", phase: 1, received_at: "t", logged_at: "t", partition: 0, offset: 0 }],
    gap: false,
  },
  lagged: { type: "lagged", missed_batches: 1 },
};

/** A value's structure: field names (sorted) and the types of their values, arrays by their first element. */
type Shape = string | Shape[] | { [field: string]: Shape };
function shape(value: unknown): Shape {
  if (Array.isArray(value)) return value.length > 0 ? [shape(value[0])] : [];
  if (value === null) return "null";
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((k) => [k, shape(record[k])]));
  }
  return typeof value;
}

const messages = fixtures as unknown as PushMessage[];

describe("push messages (push.ts) against the Rust types (push-fixtures.json)", () => {
  it("have the same kinds", () => {
    expect(messages.map((m) => m.type).sort()).toEqual(Object.keys(examples).sort());
  });

  it("have the same fields, with the same types", () => {
    for (const m of messages) expect(shape(m), m.type).toEqual(shape(examples[m.type]));
  });

  it("are each sent on one of the two sockets", () => {
    const live: LiveMessage["type"][] = ["snapshot", "live", "error"];
    const logs: LogsMessage["type"][] = ["logs", "lagged"];
    // Compile-time: a kind in neither socket's type makes `covered` false, and this fails.
    const covered: [Exclude<PushMessage["type"], LiveMessage["type"] | LogsMessage["type"]>] extends [never] ? true : false = true;
    expect(covered).toBe(true);
    expect([...live, ...logs].sort()).toEqual(Object.keys(examples).sort());
  });

  it("the live fixtures drive the page's state", () => {
    const liveMessages = messages.filter((m): m is LiveMessage => m.type === "snapshot" || m.type === "live" || m.type === "error");
    const s = applyLiveMessages(emptyLiveState, liveMessages);
    expect(s.ready).toBe(true);
    expect(s.total).toBe(11);
    expect(s.matches["4:Argentina:France"]?.top).toBe("3-3");
    expect(s.error).toMatch(/redis/);
  });
});
