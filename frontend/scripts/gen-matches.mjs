// Converts the openfootball World Cup 2022 file into the small list of matches the pages use:
// phase, teams, date and the real result. Run with `npm run gen-data`; the output is committed
// (src/data/matches.json), so the build does not need the repository's other folders.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = process.argv[2] ?? join(here, "../../crates/model/data/worldcup-2022.json");
const out = join(here, "../src/data/matches.json");

/** Phase numbering of shared/data/README.md. */
function phaseOf(round) {
  if (round.startsWith("Matchday")) return 1;
  if (round === "Round of 16") return 2;
  if (round === "Quarter-finals") return 3;
  if (["Semi-finals", "Match for third place", "Final"].includes(round)) return 4;
  throw new Error(`unknown round ${round}`);
}

const data = JSON.parse(readFileSync(src, "utf8"));
const matches = data.matches.map((m) => {
  const s = m.score ?? {};
  const final = s.et ?? s.ft;
  const result = {
    // The score a prediction "a-b" is compared with: after extra time when there was some.
    score: final ? `${final[0]}-${final[1]}` : null,
    ft: s.ft ? `${s.ft[0]}-${s.ft[1]}` : null,
    et: s.et ? `${s.et[0]}-${s.et[1]}` : null,
    penalties: s.p ? `${s.p[0]}-${s.p[1]}` : null,
  };
  return {
    id: `${phaseOf(m.round)}:${m.team1}:${m.team2}`,
    phase: phaseOf(m.round),
    round: m.round,
    group: m.group ?? null,
    date: m.date,
    team1: m.team1,
    team2: m.team2,
    result,
  };
});
writeFileSync(out, JSON.stringify(matches, null, 1) + "\n");
console.log(`wrote ${matches.length} matches to ${out}`);
