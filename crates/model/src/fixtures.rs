//! The fixture list: the only matches predictions may name (issue 15 H1). With team names as
//! free text, anyone could create millions of matches, and every reader of the live aggregates
//! would read them all. Qatar 2022 (openfootball's public-domain file, vendored here) is the
//! default; a deployment may give its own file in the same format.
//!
//! A match is its phase and its two teams **in the fixture's order**: `Argentina` v `France`
//! in phase 4 exists, `France` v `Argentina` does not (a clear error says which order to use),
//! so one match never has two sets of counters.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;

use crate::{FieldError, MatchKey, Prediction, PHASES};

/// The openfootball 2022 World Cup file: 64 matches with rounds, teams and results.
pub const WORLDCUP_2022: &str = include_str!("../data/worldcup-2022.json");

/// Phase of an openfootball round name (`shared/data/README.md`).
pub fn phase_of_round(round: &str) -> Option<u8> {
    match round {
        r if r.starts_with("Matchday ") => Some(1),
        "Round of 16" => Some(2),
        "Quarter-finals" => Some(3),
        "Semi-finals" | "Match for third place" | "Final" => Some(4),
        _ => None,
    }
}

/// The matches that exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixtures {
    matches: BTreeSet<MatchKey>,
    /// (team1, team2) in the fixture's order → the phases the pair plays in.
    pairs: HashMap<(String, String), BTreeSet<u8>>,
    teams: BTreeSet<String>,
}

#[derive(Deserialize)]
struct File {
    matches: Vec<Entry>,
}

/// One match of a file: openfootball's `round` names the phase, or a `phase` (1-4) is given.
#[derive(Deserialize)]
struct Entry {
    team1: String,
    team2: String,
    #[serde(default)]
    round: Option<String>,
    #[serde(default)]
    phase: Option<u8>,
}

impl Fixtures {
    /// Qatar 2022, the default.
    pub fn qatar_2022() -> Self {
        Self::parse(WORLDCUP_2022).expect("the vendored worldcup-2022.json is a valid fixture list")
    }

    /// A fixture list in openfootball's format (`{"matches": [{"round", "team1", "team2"}]}`),
    /// where an entry may give `phase` (1-4) instead of `round`. Every match must follow the
    /// rules of a prediction's teams.
    pub fn parse(json: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if file.matches.is_empty() {
            return Err("the fixture list holds no match".into());
        }
        let mut fixtures = Fixtures {
            matches: BTreeSet::new(),
            pairs: HashMap::new(),
            teams: BTreeSet::new(),
        };
        for (i, m) in file.matches.into_iter().enumerate() {
            let phase = match (m.phase, m.round.as_deref()) {
                (Some(p), _) if PHASES.contains(&p) => p,
                (Some(p), _) => return Err(format!("matches[{i}]: phase {p} is not 1 to 4")),
                (None, Some(round)) => phase_of_round(round)
                    .ok_or_else(|| format!("matches[{i}]: unknown round {round:?}"))?,
                (None, None) => return Err(format!("matches[{i}]: neither phase nor round")),
            };
            let check = Prediction {
                team1: m.team1.clone(),
                team2: m.team2.clone(),
                score: "0-0".into(),
                phase,
            };
            crate::validate(&check).map_err(|e| format!("matches[{i}]: {e}"))?;
            fixtures
                .pairs
                .entry((m.team1.clone(), m.team2.clone()))
                .or_default()
                .insert(phase);
            fixtures.teams.insert(m.team1.clone());
            fixtures.teams.insert(m.team2.clone());
            fixtures.matches.insert(MatchKey {
                phase,
                team1: m.team1,
                team2: m.team2,
            });
        }
        Ok(fixtures)
    }

    /// How many matches exist: what bounds every read of the live aggregates.
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    pub fn contains(&self, key: &MatchKey) -> bool {
        self.matches.contains(key)
    }

    pub fn matches(&self) -> impl Iterator<Item = &MatchKey> {
        self.matches.iter()
    }

    /// Whether `p` names a match of the list, in the fixture's team order and phase; if not,
    /// the field at fault and what to send instead.
    pub fn check(&self, p: &Prediction) -> Result<(), FieldError> {
        let pair = (p.team1.clone(), p.team2.clone());
        if let Some(phases) = self.pairs.get(&pair) {
            return if phases.contains(&p.phase) {
                Ok(())
            } else {
                Err(FieldError::new(
                    "phase",
                    format!(
                        "{} v {} is not played in phase {} (it is in phase {})",
                        p.team1,
                        p.team2,
                        p.phase,
                        join(phases)
                    ),
                ))
            };
        }
        if self.pairs.contains_key(&(p.team2.clone(), p.team1.clone())) {
            return Err(FieldError::new(
                "team1",
                format!(
                    "the fixture lists this match as {} v {}: send team1 {:?} and team2 {:?}",
                    p.team2, p.team1, p.team2, p.team1
                ),
            ));
        }
        for (field, team) in [("team1", &p.team1), ("team2", &p.team2)] {
            if !self.teams.contains(team) {
                return Err(FieldError::new(
                    field,
                    format!("{team:?} is not a team of the fixture list"),
                ));
            }
        }
        Err(FieldError::new(
            "team2",
            format!(
                "{} and {} play no match in the fixture list",
                p.team1, p.team2
            ),
        ))
    }
}

fn join(phases: &BTreeSet<u8>) -> String {
    phases
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(team1: &str, team2: &str, phase: u8) -> Prediction {
        Prediction {
            team1: team1.into(),
            team2: team2.into(),
            score: "1-0".into(),
            phase,
        }
    }

    #[test]
    fn qatar_2022_has_its_64_matches_and_names_the_field_at_fault() {
        let f = Fixtures::qatar_2022();
        assert_eq!(f.len(), 64);
        assert_eq!(f.check(&p("Argentina", "France", 4)), Ok(()));
        assert_eq!(f.check(&p("Qatar", "Ecuador", 1)), Ok(()));
        let err = f.check(&p("France", "Argentina", 4)).unwrap_err();
        assert_eq!(err.field, "team1");
        assert!(err.reason.contains("Argentina v France"), "{err}");
        assert_eq!(
            f.check(&p("Argentina", "France", 1)).unwrap_err().field,
            "phase"
        );
        assert_eq!(
            f.check(&p("Atlantis", "France", 1)).unwrap_err().field,
            "team1"
        );
        assert_eq!(
            f.check(&p("France", "Atlantis", 1)).unwrap_err().field,
            "team2"
        );
        assert_eq!(
            f.check(&p("Qatar", "Brazil", 1)).unwrap_err().field,
            "team2"
        );
    }

    #[test]
    fn a_file_of_its_own_with_phases() {
        let f = Fixtures::parse(r#"{"matches":[{"team1":"A","team2":"B","phase":2}]}"#).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f.check(&p("A", "B", 2)), Ok(()));
        for bad in [
            r#"{"matches":[]}"#,
            r#"{"matches":[{"team1":"A","team2":"B","phase":5}]}"#,
            r#"{"matches":[{"team1":"A:x","team2":"B","phase":1}]}"#,
            r#"{"matches":[{"team1":"A","team2":"B","round":"Playoff"}]}"#,
            r#"[]"#,
        ] {
            assert!(Fixtures::parse(bad).is_err(), "{bad}");
        }
    }
}
