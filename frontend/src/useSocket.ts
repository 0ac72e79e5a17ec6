import { useEffect, useRef, useState } from "react";
import { backoffDelay } from "./backoff";
import { createCoalescer } from "./coalesce";

export type SocketState = "connecting" | "open" | "reconnecting";

export interface SocketStatus {
  state: SocketState;
  /** Failed tries since the last good connection. */
  attempt: number;
  /** When the next try starts (ms since epoch), while reconnecting. */
  retryAt: number | null;
  /** How many times the socket was (re)opened. */
  opens: number;
}

/**
 * A WebSocket that reconnects with backoff and hands its parsed JSON messages over in batches,
 * at most once per animation frame and `minIntervalMs` (see coalesce.ts). A new `url` closes the
 * old socket and opens a new one. `onOpen` runs on every (re)connection, before any message.
 */
export function useSocket<M>(
  url: string | null,
  onBatch: (messages: M[]) => void,
  options: { minIntervalMs?: number; onOpen?: () => void } = {},
): SocketStatus {
  const [status, setStatus] = useState<SocketStatus>({ state: "connecting", attempt: 0, retryAt: null, opens: 0 });
  const onBatchRef = useRef(onBatch);
  onBatchRef.current = onBatch;
  const onOpenRef = useRef(options.onOpen);
  onOpenRef.current = options.onOpen;
  const minIntervalMs = options.minIntervalMs ?? 250;

  useEffect(() => {
    if (!url) return;
    let stopped = false;
    let ws: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let opens = 0;
    const coalescer = createCoalescer<M>((msgs) => onBatchRef.current(msgs), { minIntervalMs });

    const connect = () => {
      if (stopped) return;
      setStatus({ state: attempt === 0 && opens === 0 ? "connecting" : "reconnecting", attempt, retryAt: null, opens });
      const socket = new WebSocket(url);
      ws = socket;
      socket.onopen = () => {
        if (stopped) return;
        attempt = 0;
        opens += 1;
        coalescer.cancel();
        onOpenRef.current?.();
        setStatus({ state: "open", attempt: 0, retryAt: null, opens });
      };
      socket.onmessage = (ev) => {
        if (stopped || typeof ev.data !== "string") return;
        try {
          coalescer.push(JSON.parse(ev.data) as M);
        } catch {
          /* not JSON: ignore */
        }
      };
      socket.onclose = () => {
        if (stopped || ws !== socket) return;
        // Whatever arrived before the close still counts.
        coalescer.flush();
        const delay = backoffDelay(attempt);
        attempt += 1;
        setStatus({ state: "reconnecting", attempt, retryAt: Date.now() + delay, opens });
        timer = setTimeout(connect, delay);
      };
      // An error is always followed by a close, which schedules the retry.
      socket.onerror = () => {};
    };

    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      coalescer.cancel();
      if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "page left");
    };
  }, [url, minIntervalMs]);

  return status;
}
