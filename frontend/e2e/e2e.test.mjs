// End-to-end: the built pages, served by the real local stack's NGINX, in Debian's Chromium.
// `node --test e2e/` (after `npm run build`); frontend/scripts/test.sh runs it.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launch } from "./browser.mjs";
import { final, longTasks, postAtRate, realPredictions, recordLongTasks, resetLongTasks } from "./longtasks.mjs";
import { startStack } from "./stack.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "../dist");
const shots = join(here, "../screenshots");
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const LOAD_SECONDS = Number(process.env.USACTAR_E2E_LOAD_SECONDS ?? 8);
const LOAD_TARGET = Number(process.env.USACTAR_E2E_LOAD_RATE ?? 7_500);
// A task this long is a frozen page, not a slow one (the target, 200 ms, is the benchmark's).
const FROZEN_MS = 2_000;

let stack;
let browser;

async function post(predictions) {
  const r = await fetch(`${stack.base}/input`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(predictions),
  });
  const body = await r.json();
  assert.equal(r.status, 202, JSON.stringify(body));
  return body.ids;
}


async function matchTotal(page) {
  return Number((await page.getByTestId("match-total").textContent()).replace(/\D/g, ""));
}

async function waitConnected(page, timeout = 15_000) {
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', { timeout });
}

before(async () => {
  browser = await launch();
  stack = await startStack({ dist, env: { USACTAR_ADMIN_TOKEN: ADMIN_TOKEN } });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("pages", { concurrency: false }, () => {
  test("/ redirects to /live, and /live shows the real result", async () => {
    // Real predictions first, so the pages have something to show.
    for (let i = 0; i < 3000; i += 1000) await post(realPredictions.slice(i, i + 1000));
    await post([...final("3-3", 3), ...final("2-1", 1)]);
    const page = await browser.context.newPage();
    await page.goto(`${stack.base}/`);
    await page.waitForURL(/\/live/);
    await page.goto(`${stack.base}/live?phase=4&team1=Argentina&team2=France`);
    await waitConnected(page);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="bars"] li').length >= 2);
    const real = await page.getByTestId("real-result").textContent();
    assert.match(real, /3-3/);
    assert.match(real, /penalties/);
    // Labelled controls and bars.
    assert.equal(await page.getByLabel("Match").count(), 1);
    assert.ok((await page.getByRole("meter").count()) >= 2);
    // Keyboard: arrow keys move through the phases, and the match list follows.
    await page.getByRole("radio", { name: /Finals/ }).focus();
    await page.keyboard.press("ArrowLeft");
    await page.waitForURL(/phase=3/);
    assert.equal(await page.getByRole("radio", { name: /Quarter-finals/ }).isChecked(), true);
    await page.close();
  });

  test("bars of /live change without a reload within 2 s of a post", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.base}/live?phase=4&team1=Argentina&team2=France`);
    await waitConnected(page);
    await page.waitForSelector('[data-testid="bars"] li');
    await page.evaluate(() => (window.__marker = "same page"));
    const before = await matchTotal(page);
    const t0 = Date.now();
    await post([...final("7-6", 2), ...final("3-3", 5)]);
    await page.waitForFunction(
      (want) => {
        const n = Number(document.querySelector('[data-testid="match-total"]').textContent.replace(/\D/g, ""));
        return n >= want && document.querySelector('[data-score="7-6"]');
      },
      before + 7,
      { timeout: 2000, polling: "raf" },
    );
    const latency = Date.now() - t0;
    console.log(`# update latency (post sent → bar changed in the page): ${latency} ms`);
    assert.equal(await page.evaluate(() => window.__marker), "same page", "the page was not reloaded");
    assert.ok(latency < 2000);
    await page.close();
  });

  test("/logs shows the new records, filters and pages", async () => {
    const page = await browser.context.newPage();
    // Enough records for two pages.
    await post(realPredictions.slice(0, 150));
    await page.goto(`${stack.base}/logs`);
    await waitConnected(page);
    await page.waitForSelector('[data-testid="logs-table"] tbody tr[data-id]');
    const totalBefore = Number((await page.getByTestId("logs-total").textContent()).replace(/\D/g, ""));
    const ids = await post([
      { team1: "Qatar", team2: "Ecuador", score: "9-8", phase: 1 },
      { team1: "Morocco", team2: "Portugal", score: "1-0", phase: 3 },
    ]);
    // The live tail brings them in, without a reload.
    for (const id of ids) await page.waitForSelector(`tr[data-id="${id}"]`, { timeout: 5000 });
    await page.waitForFunction(
      (want) => Number(document.querySelector('[data-testid="logs-total"]').textContent.replace(/\D/g, "")) >= want,
      totalBefore + 2,
      { timeout: 5000 },
    );
    const row = await page.locator(`tr[data-id="${ids[0]}"]`).textContent();
    assert.match(row, /Qatar – Ecuador/);
    assert.match(row, /9-8/);

    // The purge button shows, since this stack has an admin token.
    assert.equal(await page.getByRole("button", { name: /Purge all logs/ }).count(), 1);

    // Filter by phase and match.
    await page.getByLabel("Phase").selectOption("3");
    await page.getByLabel("Match").selectOption("Morocco|Portugal");
    await page.waitForURL(/team1=Morocco/);
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="logs-table"] tbody tr[data-id]')];
      return rows.length > 0 && rows.every((r) => r.textContent.includes("Morocco – Portugal"));
    });
    await page.waitForSelector(`tr[data-id="${ids[1]}"]`);
    assert.equal(await page.locator(`tr[data-id="${ids[0]}"]`).count(), 0);

    // Paging: the next page holds older records than the first.
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="logs-table"] tbody tr[data-id]').length === 50);
    const lastOnFirst = await page.locator("tbody tr[data-id]").last().getAttribute("data-id");
    await page.getByRole("button", { name: /Older/ }).click();
    await page.getByText("Page 2", { exact: true }).waitFor();
    await page.waitForFunction((last) => {
      const first = document.querySelector("tbody tr[data-id]");
      return first && first.getAttribute("data-id") < last;
    }, lastOnFirst);
    await page.getByRole("button", { name: /Newest/ }).click();
    await page.getByText("Page 1", { exact: true }).waitFor();
    await page.close();
  });

  test("/live reconnects after read-api restarts, and updates flow again", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.base}/live?phase=4&team1=Argentina&team2=France`);
    await waitConnected(page);
    await page.evaluate(() => {
      window.__states = [];
      const el = document.querySelector('[data-testid="connection"]');
      new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, { attributes: true });
    });
    const t0 = Date.now();
    const r = await fetch(`${stack.control}/processes/read-api/restart`, { method: "POST", headers: stack.controlHeaders });
    assert.ok(r.ok, `restart: ${r.status} ${await r.text()}`);
    await page.waitForFunction(() => window.__states.includes("disconnected"), null, { timeout: 15_000 });
    await waitConnected(page, 30_000);
    console.log(`# reconnected ${Date.now() - t0} ms after the restart was asked; states seen: ${[...new Set(await page.evaluate(() => window.__states))].join(" → ")}`);
    const before = await matchTotal(page);
    const t1 = Date.now();
    await post(final("4-4", 3));
    await page.waitForFunction(
      (want) => Number(document.querySelector('[data-testid="match-total"]').textContent.replace(/\D/g, "")) >= want,
      before + 3,
      { timeout: 2000, polling: "raf" },
    );
    console.log(`# update latency after the reconnection: ${Date.now() - t1} ms`);
    await page.close();
  });

  test("screenshots of both pages", async () => {
    mkdirSync(shots, { recursive: true });
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.goto(`${stack.base}/live?phase=4&team1=Argentina&team2=France`);
    await waitConnected(page);
    await page.waitForSelector('[data-testid="bars"] li');
    await page.waitForTimeout(600);
    await page.screenshot({ path: join(shots, "live.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px phone`);
    await page.screenshot({ path: join(shots, "live-phone.png"), fullPage: false });
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.goto(`${stack.base}/logs`);
    await waitConnected(page);
    await page.waitForSelector('[data-testid="logs-table"] tbody tr[data-id]');
    await page.waitForTimeout(600);
    await page.screenshot({ path: join(shots, "logs.png") });
    await page.setViewportSize({ width: 390, height: 844 });
    const logsOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(logsOverflow <= 0, `/logs is ${logsOverflow}px wider than a 390px phone`);
    await page.close();
  });
  // The 200 ms target itself is bench/pages/run.sh's (a benchmark, against a control page under
  // the same load): on two shared cores a long task's wall time follows the machine's load, and
  // it measured 123 ms in one run and 427 ms in another of the same build. Here: the page keeps
  // up with the load and never freezes.
  test("during a run of at least 5,000 predictions/s /live keeps up and never freezes", async () => {
    const page = await browser.context.newPage();
    await recordLongTasks(page);
    await page.goto(`${stack.base}/live?phase=4&team1=Argentina&team2=France`);
    await waitConnected(page);
    await page.waitForSelector('[data-testid="bars"] li');
    const totalBefore = await matchTotal(page);
    await page.waitForTimeout(500);
    await resetLongTasks(page);
    const load = await postAtRate(stack.base, { rate: LOAD_TARGET, seconds: LOAD_SECONDS });
    // Let the last updates arrive.
    await page.waitForFunction(
      (want) => Number(document.querySelector('[data-testid="match-total"]').textContent.replace(/\D/g, "")) >= want,
      totalBefore + load.onFinal,
      { timeout: 15_000 },
    );
    const tasks = await longTasks(page);
    console.log(`# load: ${load.sent} predictions accepted in ${load.seconds.toFixed(1)} s = ${Math.round(load.rate)} predictions/s (${load.failed} failed posts)`);
    console.log(`# long tasks during the load: ${tasks.count}, longest ${Math.round(tasks.longest)} ms`);
    assert.equal(load.failed, 0);
    assert.ok(load.rate >= 5000, `achieved only ${Math.round(load.rate)} predictions/s`);
    assert.ok(tasks.longest < FROZEN_MS, `the page froze for ${Math.round(tasks.longest)} ms`);
    await page.close();
  });

});
