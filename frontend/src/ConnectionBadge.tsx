import { useEffect, useState } from "react";
import type { SocketStatus } from "./useSocket";

/** The socket's state, visible and announced: "Live", "Connecting…", "Reconnecting in 3 s". */
export function ConnectionBadge({ status, backendError }: { status: SocketStatus; backendError?: string | null }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (status.retryAt === null) return;
    const t = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [status.retryAt]);

  let label: string;
  let kind: string;
  if (status.state === "open" && backendError) {
    label = `Connected, but the data store does not answer: ${backendError}`;
    kind = "degraded";
  } else if (status.state === "open") {
    label = "Live";
    kind = "connected";
  } else if (status.state === "connecting") {
    label = "Connecting…";
    kind = "connecting";
  } else {
    const secs = status.retryAt ? Math.max(0, Math.ceil((status.retryAt - Date.now()) / 1000)) : 0;
    label = status.retryAt && secs > 0 ? `Disconnected, retrying in ${secs} s` : "Reconnecting…";
    kind = "disconnected";
  }
  return (
    <span className={`badge badge-${kind}`} data-testid="connection" data-state={kind}>
      <span className="dot" aria-hidden="true" />
      <span aria-hidden="true">{label}</span>
      {/* Announced once per state change, without the countdown. */}
      <span className="sr-only" role="status">
        {kind === "disconnected" ? "Connection lost, reconnecting" : label}
      </span>
    </span>
  );
}
