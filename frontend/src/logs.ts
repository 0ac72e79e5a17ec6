import type { LogItem } from "./push";

/** The live tail's shaping: new items (newest first) on top of the rows, no duplicate, at most `limit`. */
export function mergeTail(rows: LogItem[], incoming: LogItem[], limit: number): LogItem[] {
  if (incoming.length === 0) return rows;
  const seen = new Set<string>();
  const out: LogItem[] = [];
  // Ids are UUIDv7: their text order is their time order.
  const all = [...incoming, ...rows].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  for (const r of all) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push(r);
    if (out.length >= limit) break;
  }
  return out;
}

/** How many of `incoming` are newer than `newestId` (the newest id the count already includes). */
export function countNewer(incoming: LogItem[], newestId: string | null): number {
  if (newestId === null) return incoming.length;
  return incoming.filter((i) => i.id > newestId).length;
}

/** "2022-12-18T18:00:00.123Z" → local "18:00:00.123", with the date when it is not today. */
export function formatTime(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}
