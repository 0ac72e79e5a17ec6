// `node scripts/warzone-screenshot.mjs <url of /warzone> <out.png> [<unix ms>]`: the experiment
// kit runs it when the load starts, with the middle of the fault as the time. It opens the page
// at once (Chromium takes seconds to start on a busy machine), waits until it shows metrics and
// the experiment, then until that time, and saves a 1280×800 screenshot. Prints what the page
// showed as one JSON line; exits non-zero, with the reason on its last line, when it cannot.
import { launch } from "../e2e/browser.mjs";

const [url, out, atArg] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node scripts/warzone-screenshot.mjs <url> <out.png> [<unix ms>]");
  process.exit(2);
}
const at = atArg ? Number(atArg) : Date.now();
let browser;
try {
  browser = await launch();
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(url);
  await page.waitForSelector('[data-testid="warzone"][data-ready="true"]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="experiment"][data-phase]', { timeout: 60_000 });
  // At least one more metrics answer, so the drawing shows numbers and not the first frame.
  await page.waitForTimeout(Math.max(1200, at - Date.now()));
  const phase = await page.getAttribute('[data-testid="experiment"]', "data-phase");
  const taken = Date.now();
  await page.screenshot({ path: out });
  console.log(JSON.stringify({ phase, taken_ms: taken, late_ms: taken - at }));
  await browser.close();
} catch (e) {
  await browser?.close().catch(() => {});
  console.error(`the screenshot failed: ${String(e.message ?? e).split("\n")[0]}`);
  process.exit(1);
}
