// Where the API is, and the calls the pages make.

import type { LogItem } from "./push";

declare global {
  interface Window {
    __USACTAR_CONFIG__?: { apiBase?: string };
  }
}

/**
 * The API's base URL, from /config.js (written when the container starts); empty means the
 * page's own origin, where NGINX serves /api.
 */
export function apiBase(): string {
  const base = (typeof window !== "undefined" && window.__USACTAR_CONFIG__?.apiBase) || "";
  return base.replace(/\/+$/, "");
}

export function httpUrl(path: string, params?: Record<string, string | number | undefined | null>): string {
  const base = apiBase() || (typeof location !== "undefined" ? location.origin : "");
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  return url.toString();
}

/** The WebSocket URL for an API path: same host as the HTTP API, ws:// or wss://. */
export function wsUrl(path: string, params?: Record<string, string | number | undefined | null>): string {
  const url = new URL(httpUrl(path, params));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string, params?: Record<string, string | number | undefined | null>, signal?: AbortSignal): Promise<T> {
  const res = await fetch(httpUrl(path, params), { signal, headers: { Accept: "application/json" } });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body?.error) message = `${res.status}: ${body.error}${body.field ? ` (${body.field})` : ""}`;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

export interface LogPage {
  items: LogItem[];
  total: number;
  /** True when a filtered total stopped counting (the server's cap): there are at least `total`. */
  total_capped?: boolean;
  next: string | null;
}

export async function purgeLogs(token: string): Promise<number> {
  const res = await fetch(httpUrl("/api/logs"), {
    method: "DELETE",
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body?.error ?? `${res.status} ${res.statusText}`);
  return body.deleted ?? 0;
}
