import raw from "./matches.json";

/** A real match of Qatar 2022, generated from the openfootball data (scripts/gen-matches.mjs). */
export interface RealMatch {
  id: string;
  phase: number;
  round: string;
  group: string | null;
  date: string;
  team1: string;
  team2: string;
  result: { score: string | null; ft: string | null; et: string | null; penalties: string | null };
}

export const realMatches: RealMatch[] = raw as RealMatch[];

export const PHASES: { phase: number; name: string; short: string }[] = [
  { phase: 1, name: "Group stage", short: "Groups" },
  { phase: 2, name: "Round of 16", short: "1/8" },
  { phase: 3, name: "Quarter-finals", short: "1/4" },
  { phase: 4, name: "Finals (semi-finals, third place, final)", short: "Finals" },
];

export function phaseName(phase: number): string {
  return PHASES.find((p) => p.phase === phase)?.name ?? `Phase ${phase}`;
}

const byId = new Map(realMatches.map((m) => [m.id, m]));

/** The real match for a phase and two teams, in either order. */
export function findRealMatch(phase: number, team1: string, team2: string): RealMatch | undefined {
  return byId.get(`${phase}:${team1}:${team2}`) ?? byId.get(`${phase}:${team2}:${team1}`);
}

/** The real result as text, from team1's side: "3-3 after extra time, 4-2 on penalties". */
export function describeResult(m: RealMatch, team1: string): string {
  const flip = m.team1 !== team1;
  const f = (s: string) => (flip ? s.split("-").reverse().join("-") : s);
  const r = m.result;
  if (!r.score) return "not played";
  let text = f(r.score);
  if (r.et) text += " after extra time";
  if (r.penalties) text += `, ${f(r.penalties)} on penalties`;
  return text;
}

/** The real result's score from team1's side ("2-1"), to compare with predictions. */
export function resultScore(m: RealMatch, team1: string): string | null {
  if (!m.result.score) return null;
  return m.team1 === team1 ? m.result.score : m.result.score.split("-").reverse().join("-");
}
