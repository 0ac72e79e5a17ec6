// `node scripts/warzone-screenshot.mjs <url of /warzone> <out.png>`: the experiment kit runs it
// in the middle of a fault. Waits until the page shows metrics and the experiment, then saves
// a 1280×800 screenshot. Exits non-zero, with the reason on its last line, when it cannot.
import { launch } from "../e2e/browser.mjs";

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node scripts/warzone-screenshot.mjs <url> <out.png>");
  process.exit(2);
}
let browser;
try {
  browser = await launch();
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(url);
  await page.waitForSelector('[data-testid="warzone"][data-ready="true"]', { timeout: 20_000 });
  await page.waitForSelector('[data-testid="experiment"][data-phase]', { timeout: 10_000 });
  // One more metrics answer, so the drawing shows numbers and not the first frame.
  await page.waitForTimeout(1200);
  await page.screenshot({ path: out });
  await browser.close();
} catch (e) {
  await browser?.close().catch(() => {});
  console.error(`the screenshot failed: ${String(e.message ?? e).split("\n")[0]}`);
  process.exit(1);
}
