import { afterEach, describe, expect, it, vi } from "vitest";
import { apiBase, httpUrl, wsUrl } from "./api";

describe("API URLs", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("default to the page's origin", () => {
    vi.stubGlobal("window", {});
    vi.stubGlobal("location", { origin: "http://localhost:8080" });
    expect(apiBase()).toBe("");
    expect(httpUrl("/api/logs", { limit: 50, before: null, phase: "" })).toBe("http://localhost:8080/api/logs?limit=50");
    expect(wsUrl("/api/live/ws")).toBe("ws://localhost:8080/api/live/ws");
  });

  it("follow the runtime config's apiBase", () => {
    vi.stubGlobal("window", { __USACTAR_CONFIG__: { apiBase: "https://read.example.com/" } });
    vi.stubGlobal("location", { origin: "https://web.example.com" });
    expect(httpUrl("/api/stats")).toBe("https://read.example.com/api/stats");
    expect(wsUrl("/api/logs/ws", { team1: "Costa Rica" })).toBe("wss://read.example.com/api/logs/ws?team1=Costa+Rica");
  });
});
