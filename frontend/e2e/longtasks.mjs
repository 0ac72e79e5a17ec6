// What the e2e test and the pages benchmark (bench/pages) share: posting real predictions at a
// steady rate through the ingress, and recording a page's long tasks while that happens.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const realPredictions = JSON.parse(readFileSync(join(here, "../../loadgen/data/predictions.json"), "utf8"));

/** `n` predictions of the 2022 final, all with `score`. */
export const final = (score, n = 1) => Array.from({ length: n }, () => ({ team1: "Argentina", team2: "France", score, phase: 4 }));

/** Before the page's own scripts: every long task from here on goes into window.__longtasks. */
export async function recordLongTasks(page) {
  await page.addInitScript(() => {
    window.__longtasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
  });
}

/** Forgets the long tasks so far (the page's start-up). */
export const resetLongTasks = (page) => page.evaluate(() => (window.__longtasks = []));

/** How many long tasks the page had since the reset, and the longest (ms). */
export async function longTasks(page) {
  const tasks = await page.evaluate(() => window.__longtasks);
  return { count: tasks.length, longest: tasks.reduce((m, t) => Math.max(m, t.duration), 0) };
}

/**
 * Posts arrays of 1,000 real predictions (every fifth on the final, the match /live shows) to
 * `${base}/input` from `concurrency` workers, paced to `rate` predictions/s, for `seconds`.
 * Returns { sent, failed, seconds, rate, onFinal } (onFinal: accepted predictions of the final).
 */
export async function postAtRate(base, { rate, seconds, concurrency = 6 }) {
  const bodies = [];
  for (let b = 0; b < 10; b++) {
    const arr = realPredictions.slice(b * 1000, b * 1000 + 1000).map((p, i) => (i % 5 === 0 ? final(`${i % 4}-${(i >> 2) % 4}`)[0] : p));
    bodies.push(JSON.stringify(arr));
  }
  const perWorkerInterval = (1000 * concurrency * 1000) / rate; // ms between a worker's posts
  let sent = 0;
  let failed = 0;
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let next = t0 + (w * perWorkerInterval) / concurrency;
      for (let i = w; Date.now() < end; i += concurrency) {
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += perWorkerInterval;
        const r = await fetch(`${base}/input`, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[i % bodies.length] });
        await r.arrayBuffer();
        if (r.status === 202) sent += 1000;
        else failed += 1;
      }
    }),
  );
  const took = (Date.now() - t0) / 1000;
  return { sent, failed, seconds: took, rate: sent / took, onFinal: sent / 5 };
}
