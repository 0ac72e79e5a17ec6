// Coalescing: a stream of messages goes into a buffer, and is handed over in one batch at most
// once per scheduled tick (an animation frame, and at least `minIntervalMs` after the last flush).
// So a burst of messages costs one React render, not one each.

export type Schedule = (cb: () => void) => () => void;

export interface Coalescer<T> {
  push(item: T): void;
  /** Hands over what is buffered now, without waiting. */
  flush(): void;
  /** Drops what is buffered and stops any pending tick. */
  cancel(): void;
  readonly pending: number;
}

/** The browser's schedule: the next animation frame, falling back to a timer when hidden. */
export const frameSchedule: Schedule = (cb) => {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    cancelAnimationFrame(raf);
    clearTimeout(timer);
    cb();
  };
  const raf = requestAnimationFrame(run);
  // Hidden tabs get no frames; a timer still drains the buffer so memory stays bounded.
  const timer = setTimeout(run, 1000);
  return () => {
    done = true;
    cancelAnimationFrame(raf);
    clearTimeout(timer);
  };
};

export function createCoalescer<T>(
  onFlush: (items: T[]) => void,
  options: { minIntervalMs?: number; schedule?: Schedule; now?: () => number } = {},
): Coalescer<T> {
  const minInterval = options.minIntervalMs ?? 250;
  const schedule = options.schedule ?? frameSchedule;
  const now = options.now ?? (() => performance.now());
  let buffer: T[] = [];
  let cancelTick: (() => void) | null = null;
  let lastFlush = Number.NEGATIVE_INFINITY;

  const flush = () => {
    if (cancelTick) cancelTick();
    cancelTick = null;
    if (buffer.length === 0) return;
    const items = buffer;
    buffer = [];
    lastFlush = now();
    onFlush(items);
  };

  const arm = () => {
    if (cancelTick) return;
    const wait = lastFlush + minInterval - now();
    if (wait > 0) {
      // Too soon after the last flush: wait, then take the next frame.
      let inner: (() => void) | null = null;
      const timer = setTimeout(() => {
        inner = schedule(flush);
      }, wait);
      cancelTick = () => {
        clearTimeout(timer);
        if (inner) inner();
      };
    } else {
      cancelTick = schedule(flush);
    }
  };

  return {
    push(item: T) {
      buffer.push(item);
      arm();
    },
    flush,
    cancel() {
      if (cancelTick) cancelTick();
      cancelTick = null;
      buffer = [];
    },
    get pending() {
      return buffer.length;
    },
  };
}
