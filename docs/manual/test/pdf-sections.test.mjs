// The committed PDFs hold their manuals: the text extracted from each PDF has the sections a
// manual must have, every heading of its Markdown source, and the hash of that source (so a PDF
// not rendered again after its Markdown changed fails here).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { MANUALS, sourceHash } from "../render.mjs";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// What each manual must cover (issue 13, item 8).
const REQUIRED = {
  "technical-manual.md": ["Architecture", "Install", "Operate", "The experiments", "The Kafka study", "How to read a report", "Deploy", "Tests"],
  "user-manual.md": ["The /live page", "The /logs page", "Sending predictions", "The load tool"],
};

// Whitespace collapsed: lines break wherever the page is full.
const flat = (s) => s.replace(/\s+/g, " ").trim();

async function pdfText(path) {
  const doc = await getDocument({ data: new Uint8Array(readFileSync(path)), verbosity: 0 }).promise;
  let text = "";
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    text += content.items.map((item) => item.str + (item.hasEOL ? "\n" : "")).join("") + "\n";
  }
  return { pages: doc.numPages, text: flat(text) };
}

// A heading as it reads once rendered: no Markdown marks.
const headingText = (line) => flat(line.replace(/^#+\s*/, "").replace(/[`*_]/g, ""));

for (const m of MANUALS) {
  test(`${m.pdf} holds the sections of ${m.source}`, async () => {
    const pdf = resolve(here, m.pdf);
    assert.ok(existsSync(pdf), `${pdf} is missing: run docs/manual/build.sh`);
    const markdown = readFileSync(join(here, m.source), "utf8");
    const { pages, text } = await pdfText(pdf);
    assert.ok(pages >= 4, `${m.pdf} has ${pages} pages`);
    assert.ok(
      text.includes(`source ${sourceHash(markdown)}`),
      `${m.pdf} was not rendered from the current ${m.source}: run docs/manual/build.sh`,
    );
    const headings = markdown.split("\n").filter((l) => /^#{1,3} /.test(l)).map(headingText);
    for (const section of REQUIRED[m.source]) {
      assert.ok(headings.includes(section), `${m.source} has no section "${section}"`);
    }
    for (const h of headings) {
      assert.ok(text.includes(h), `the text of ${m.pdf} lacks the heading "${h}"`);
    }
  });

  test(`every image ${m.source} shows exists`, () => {
    const markdown = readFileSync(join(here, m.source), "utf8");
    const images = [...markdown.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((x) => x[1]);
    assert.ok(images.length > 0, `${m.source} shows no screenshot or chart`);
    for (const image of images) {
      assert.ok(existsSync(join(here, image)), `${m.source} shows ${image}, which does not exist`);
    }
  });
}
