// The /live page's long tasks while predictions arrive, against a control page under the same
// load in the same run. bench/pages/run.sh runs it (after the release build and the pages'
// build); it prints one JSON line per round and a table.
//
// Why a control: a long task is wall time, and on two cores shared with the whole stack, the
// load and the browser, a renderer waits for a core. The control does a fixed CONTROL_WORK_MS
// of work every 250 ms (the /live page applies its coalesced updates at most every 250 ms), so
// how far its tasks stretch shows how much of /live's longest task is the machine, not the page.
import { resolve } from "node:path";
import { launch } from "../../frontend/e2e/browser.mjs";
import { startStack } from "../../frontend/e2e/stack.mjs";
import { longTasks, postAtRate, realPredictions, recordLongTasks, resetLongTasks } from "../../frontend/e2e/longtasks.mjs";

const dist = resolve(process.argv[2]);
const RATE = Number(process.env.RATE ?? 7_500);
const SECONDS = Number(process.env.LOAD_S ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONTROL_WORK_MS = Number(process.env.CONTROL_WORK_MS ?? 16);
const TARGET_MS = 200;

const stack = await startStack({ dist });
const browser = await launch();
try {
  for (let i = 0; i < 3000; i += 1000) {
    const r = await fetch(`${stack.base}/input`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(realPredictions.slice(i, i + 1000)) });
    if (r.status !== 202) throw new Error(`seeding: ${r.status} ${await r.text()}`);
  }
  const rows = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of ["live", "control"]) {
      const page = await browser.context.newPage();
      await recordLongTasks(page);
      if (kind === "live") {
        await page.goto(`${stack.base}/live?phase=4&team1=Argentina&team2=France`);
        await page.waitForSelector('[data-testid="connection"][data-state="connected"]', { timeout: 15_000 });
        await page.waitForSelector('[data-testid="bars"] li');
      } else {
        // Served by the same NGINX, so it is a page of the same site (same kind of renderer).
        await page.goto(`${stack.base}/live?phase=1`);
        await page.evaluate((work) => {
          window.__work = [];
          // Stop the real page's own work first: the control is only the fixed task.
          document.body.replaceChildren();
          setInterval(() => {
            const t = performance.now();
            while (performance.now() - t < work);
            window.__work.push(performance.now() - t);
          }, 250);
        }, CONTROL_WORK_MS);
      }
      await page.waitForTimeout(500);
      await resetLongTasks(page);
      const load = await postAtRate(stack.base, { rate: RATE, seconds: SECONDS });
      await page.waitForTimeout(1000);
      const tasks = await longTasks(page);
      const row = { round, page: kind, accepted_per_s: Math.round(load.rate), failed_posts: load.failed, long_tasks: tasks.count, longest_ms: Math.round(tasks.longest) };
      if (kind === "control") {
        const work = await page.evaluate(() => window.__work);
        row.control_work_ms = CONTROL_WORK_MS;
        row.control_task_longest_ms = Math.round(Math.max(...work));
      }
      console.log(JSON.stringify(row));
      rows.push(row);
      await page.close();
    }
  }
  const live = rows.filter((r) => r.page === "live");
  const control = rows.filter((r) => r.page === "control");
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log();
  console.log(`| round | accepted/s (/live run) | /live long tasks | /live longest | control: ${CONTROL_WORK_MS} ms of work every 250 ms, longest wall time | /live longest ÷ control longest |`);
  console.log("|---|---|---|---|---|---|");
  for (let i = 0; i < live.length; i++) {
    const [l, c] = [live[i], control[i]];
    console.log(`| ${l.round} | ${l.accepted_per_s.toLocaleString("en")} (${l.failed_posts} failed) | ${l.long_tasks} | ${l.longest_ms} ms | ${c.control_task_longest_ms} ms (${c.long_tasks} long tasks) | ${(l.longest_ms / c.control_task_longest_ms).toFixed(2)} |`);
  }
  const worst = Math.max(...live.map((r) => r.longest_ms));
  const med = median(live.map((r) => r.longest_ms));
  const slowest = Math.min(...live.map((r) => r.accepted_per_s));
  console.log();
  console.log(`/live's longest task: median ${med} ms, worst ${worst} ms over ${ROUNDS} rounds; control's: median ${median(control.map((r) => r.control_task_longest_ms))} ms`);
  const met = worst <= TARGET_MS && slowest >= 5000 && live.every((r) => r.failed_posts === 0);
  console.log(`target (no long task over ${TARGET_MS} ms on /live at >= 5,000 predictions/s): ${met ? "met" : "NOT met"} (worst ${worst} ms, slowest round ${slowest.toLocaleString("en")}/s)`);
} finally {
  await browser.close();
  await stack.stop();
}
