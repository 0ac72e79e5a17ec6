// End-to-end: /warzone in Debian's Chromium while the experiment kit runs real faults on the
// real local stack (its own, on free ports). `node --test e2e/` after `npm run build`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launch } from "./browser.mjs";
import { experimentsBin, startStack } from "./stack.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "../dist");
const shots = join(here, "../screenshots");
// Short phases: the page must show each of them.
const PHASES = ["--warmup", "3s", "--steady", "8s", "--fault", "8s", "--watch", "8s", "--recovery", "8s", "--rate", "100", "--writers", "2", "--viewers", "2"];

let stack;
let browser;
let out;

before(async () => {
  browser = await launch();
  stack = await startStack({ dist });
  out = mkdtempSync(join(tmpdir(), "usactar-warzone-reports-"));
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Runs `experiments run <name>` on the test's stack; resolves with its exit code and output. */
function experiment(name, extra = []) {
  const args = ["run", name, "--state-dir", stack.stateDir, "--out", out, ...PHASES, ...extra];
  const child = spawn(experimentsBin(), args, {
    env: { ...process.env, USACTAR_FRONTEND_DIST: dist },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return new Promise((ok) => child.on("exit", (code) => ok({ code, output })));
}

/** Opens /warzone, recording console errors, page errors, and every change of `watch` elements' data-state/data-phase with its time. */
async function openWarzone() {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${stack.base}/warzone`);
  await page.waitForSelector('[data-testid="warzone"][data-ready="true"]', { timeout: 30_000 });
  await page.evaluate(() => {
    window.__seen = [];
    const record = () => {
      const node = document.querySelector('[data-testid="node-read-api"]');
      const exp = document.querySelector('[data-testid="experiment"]');
      const state = { readApi: node?.dataset.state, phase: exp?.dataset.phase ?? null };
      const last = window.__seen[window.__seen.length - 1];
      if (!last || last.readApi !== state.readApi || last.phase !== state.phase) window.__seen.push({ ...state, t: Date.now() });
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["data-state", "data-phase"], childList: true });
  });
  return { page, errors };
}

describe("/warzone", { concurrency: false }, () => {
  test("during a real podkill: read-api down and back within 2 s, the fault marked, the phases, no console error", async () => {
    const { page, errors } = await openWarzone();
    // Its own witness of read-api, straight to its port (not through the page's ingress).
    const readApi = `http://127.0.0.1:${stack.port["read-api"]}/api/config`;
    let killedAt = null;
    let backAt = null;
    let watching = true;
    const witness = (async () => {
      while (watching) {
        const ok = await fetch(readApi, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
        const t = Date.now();
        if (!ok && killedAt === null) killedAt = t;
        if (ok && killedAt !== null && backAt === null) backAt = t;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const run = await experiment("podkill-read-api");
    watching = false;
    await witness;
    console.log(run.output.split("\n").filter((l) => /PASSED|FAILED|report:|injecting|warning/.test(l)).join("\n"));
    assert.ok(run.code === 0 || run.code === 1, `the experiment could not run (${run.code}):\n${run.output.slice(-3000)}`);
    assert.ok(killedAt && backAt, `read-api was never seen down and back (killed ${killedAt}, back ${backAt})`);

    await page.waitForSelector('[data-testid="verdict"] a', { timeout: 30_000 });
    const seen = await page.evaluate(() => window.__seen);
    const down = seen.find((s) => s.readApi === "down" && s.t >= killedAt - 250);
    assert.ok(down, `the page never showed read-api down: ${JSON.stringify(seen)}`);
    const healthy = seen.find((s) => s.readApi === "healthy" && s.t > down.t);
    assert.ok(healthy, `the page never showed read-api healthy again: ${JSON.stringify(seen)}`);
    console.log(
      `# read-api down for ${backAt - killedAt} ms (witness); the page showed it down ${down.t - killedAt} ms after the kill and healthy ${healthy.t - backAt} ms after its return`,
    );
    assert.ok(down.t - killedAt <= 2000, `down shown ${down.t - killedAt} ms after the kill`);
    assert.ok(healthy.t - backAt <= 2000, `healthy shown ${healthy.t - backAt} ms after the return`);

    // The phases, in order, as the page showed them.
    const phases = seen.map((s) => s.phase).filter((p, i, all) => p && p !== all[i - 1]);
    console.log(`# phases shown: ${phases.join(" → ")}`);
    for (const [a, b] of [["steady", "fault"], ["fault", "recovery"], ["recovery", "done"]]) {
      assert.ok(phases.indexOf(a) >= 0 && phases.indexOf(a) < phases.indexOf(b), `phase ${a} then ${b}: ${phases.join(" → ")}`);
    }
    // The fault on the timeline: the mark, with the fault's line drawn in the charts.
    assert.match(await page.getByTestId("fault-mark").textContent(), /Fault \(podkill-read-api on read-api\) at \d\d:\d\d:\d\d, over at/);
    assert.ok((await page.locator(".wz-fault-line").count()) > 0, "the fault's line in the charts");
    // The verdict links a report that read-api serves.
    const report = await fetch(`${stack.base}/api/warzone/report`).then((r) => r.text());
    assert.match(report, /^# podkill/);
    assert.match(report, /!\[\/warzone in the middle of the fault\]\(warzone\.png\)/);
    // The kit's screenshot in the report folder.
    const reportLine = /report: (.*report\.md)/.exec(run.output);
    assert.ok(reportLine, run.output.slice(-2000));
    const png = join(dirname(reportLine[1]), "warzone.png");
    assert.ok(existsSync(png), `${png} is written`);
    mkdirSync(shots, { recursive: true });
    copyFileSync(png, join(shots, "warzone.png"));
    // Fits a laptop: nothing wider than 1280 px.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than 1280 px`);
    assert.deepEqual(errors, [], "no console error");
    await page.close();
  });

  test("during netdelay the link's edge shows its latency rise", async () => {
    const { page, errors } = await openWarzone();
    const edge = '[data-testid="edge-live-forwarder>link"]';
    await page.evaluate((edge) => {
      window.__p99 = [];
      setInterval(() => {
        const label = document.querySelector(edge)?.getAttribute("aria-label") ?? "";
        const m = /p99 ([\d.]+) ms/.exec(label);
        const phase = document.querySelector('[data-testid="experiment"]')?.dataset.phase ?? null;
        window.__p99.push({ t: Date.now(), phase, p99: m ? Number(m[1]) : null });
      }, 250);
    }, edge);
    const run = await experiment("netdelay-2s");
    assert.ok(run.code === 0 || run.code === 1, `the experiment could not run (${run.code}):\n${run.output.slice(-3000)}`);
    const samples = await page.evaluate(() => window.__p99);
    // Medians of what the edge said, twice a second or so: one slow batch on a busy machine
    // must not decide it.
    const median = (phase) => {
      const v = samples.filter((s) => s.phase === phase && s.p99 !== null).map((s) => s.p99).sort((a, b) => a - b);
      return v.length ? v[Math.floor(v.length / 2)] : NaN;
    };
    const steady = median("steady");
    const fault = median("fault");
    // The delayed calls finish, and are scraped, seconds after they start: the rise can land late
    // in the 8 s fault phase or in the recovery that follows (CI saw a fault median of 42 ms on
    // a run whose calls then took 2 s). The edge must show, during the fault or right after it,
    // a p99 above anything it showed while steady.
    const highest = (phases) => Math.max(...samples.filter((s) => phases.includes(s.phase) && s.p99 !== null).map((s) => s.p99));
    const steadyMax = highest(["steady"]);
    const peak = highest(["fault", "recovery"]);
    console.log(`# the link's p99 on its edge: median ${steady} ms and at most ${steadyMax} ms while steady; median ${fault} ms during the 2 s delay, at most ${peak} ms during it and the recovery`);
    assert.ok(Number.isFinite(steady), "the edge showed a p99 while steady");
    assert.ok(peak >= steadyMax + 150, `the link's p99 rose from at most ${steadyMax} ms while steady to only ${peak} ms`);
    // The words say it too (the label is what a screen reader reads).
    assert.match(await page.locator(edge).getAttribute("aria-label"), /live-forwarder to cross-cluster link/);
    assert.deepEqual(errors, [], "no console error");
    await page.close();
  });
});
