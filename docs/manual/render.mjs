// Renders the manuals: each Markdown source → one HTML page (marked, with a table of contents
// built from its headings) → a PDF printed by Debian's Chromium through playwright-core (the
// browser the web pages' tests already use). Run by docs/manual/build.sh.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Marked } from "marked";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const MANUALS = [
  { source: "technical-manual.md", pdf: "../technical-manual.pdf" },
  { source: "user-manual.md", pdf: "../user-manual.pdf" },
];
const CHROMIUM = process.env.USACTAR_CHROMIUM ?? "/usr/bin/chromium";

// The same slug for a heading's id and the contents' link.
const slug = (text) => text.toLowerCase().replace(/<[^>]+>/g, "").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

export function toHtml(markdown) {
  const headings = [];
  const marked = new Marked({
    renderer: {
      heading({ tokens, depth }) {
        const text = this.parser.parseInline(tokens);
        const id = slug(text);
        if (depth === 2 || depth === 3) headings.push({ depth, text, id });
        return `<h${depth} id="${id}">${text}</h${depth}>\n`;
      },
    },
  });
  const body = marked.parse(markdown);
  const toc = headings
    .map((h) => `<li class="toc-${h.depth}"><a href="#${h.id}">${h.text}</a></li>`)
    .join("\n");
  // The contents go after the title (the first h1) and its lead paragraph.
  const at = body.indexOf("<h2");
  return `${body.slice(0, at)}<nav class="toc"><h2 class="toc-title">Contents</h2><ul>${toc}</ul></nav>\n${body.slice(at)}`;
}

// The colophon names the source and its hash, so the test can tell a PDF that is out of step
// with its Markdown.
export const sourceHash = (markdown) => createHash("sha256").update(markdown).digest("hex").slice(0, 16);

const CSS = readFileSync(join(here, "manual.css"), "utf8");

async function main() {
  const profile = mkdtempSync(join(tmpdir(), "usactar-manual-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    for (const m of MANUALS) {
      const markdown = readFileSync(join(here, m.source), "utf8");
      const title = markdown.match(/^# (.+)$/m)?.[1] ?? m.source;
      const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>${CSS}</style></head><body>${toHtml(markdown)}<p class="colophon">Rendered from docs/manual/${m.source} (source ${sourceHash(markdown)}) by docs/manual/build.sh.</p></body></html>`;
      // Written beside the source, so the images' relative paths resolve as in the Markdown.
      const page_file = join(here, `.${m.source}.html`);
      writeFileSync(page_file, html);
      const page = await context.newPage();
      await page.goto(pathToFileURL(page_file).href, { waitUntil: "load" });
      const out = resolve(here, m.pdf);
      await page.pdf({
        path: out,
        format: "A4",
        printBackground: true,
        margin: { top: "18mm", bottom: "18mm", left: "16mm", right: "16mm" },
        displayHeaderFooter: true,
        headerTemplate: `<div style="font-size:8px;width:100%;text-align:right;margin-right:16mm;color:#666">${title}</div>`,
        footerTemplate: `<div style="font-size:8px;width:100%;text-align:center;color:#666"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`,
      });
      await page.close();
      rmSync(page_file);
      console.log(`wrote ${out}`);
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
