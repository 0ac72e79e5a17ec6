//! The domain every stage of the pipeline shares: a fan's prediction and the rules it must
//! follow, the record the pipeline carries, and the names the live aggregates use.
//!
//! - [`Prediction`], [`validate`], [`from_value`], [`parse_data`]: shared by loadgen and ingest,
//!   so a prediction that loadgen accepts is exactly one that ingest accepts;
//! - [`Accepted`]: the record every later stage carries (Kafka, MongoDB, live-store);
//! - [`MatchKey`]: a match as the live aggregates and the Kafka key name it;
//! - [`fixtures`]: the matches that exist ([`Fixtures`], Qatar 2022 by default);
//! - [`redis_keys`]: the Redis key layout of the live aggregates ([`RedisKeys`]);
//! - [`log_layout`]: the MongoDB layout of the prediction log and its totals.

pub mod fixtures;
pub mod log_layout;
pub mod push;
mod record;
pub mod redis_keys;

pub use fixtures::Fixtures;
pub use push::PushMessage;
pub use record::{Accepted, MatchKey};
pub use redis_keys::RedisKeys;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest team name accepted, in characters.
pub const MAX_TEAM_LEN: usize = 64;
/// Highest goal count accepted on either side of a score.
pub const MAX_GOALS: u32 = 99;
/// Phases: 1 group stage, 2 round of 16, 3 quarter-finals, 4 finals.
pub const PHASES: std::ops::RangeInclusive<u8> = 1..=4;

const FIELDS: [&str; 4] = ["team1", "team2", "score", "phase"];

/// One fan's prediction for a match, as sent to `POST /input`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prediction {
    pub team1: String,
    pub team2: String,
    /// `"A-B"`: goals of team1, a dash, goals of team2.
    pub score: String,
    pub phase: u8,
}

/// Why a prediction is invalid: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Checks the rules a well-typed prediction must follow.
pub fn validate(p: &Prediction) -> Result<(), FieldError> {
    check_team("team1", &p.team1)?;
    check_team("team2", &p.team2)?;
    if p.team1 == p.team2 {
        return Err(FieldError::new(
            "team2",
            format!("must differ from team1 (both are {:?})", p.team1),
        ));
    }
    parse_score(&p.score).map_err(|reason| FieldError::new("score", reason))?;
    if !PHASES.contains(&p.phase) {
        return Err(FieldError::new(
            "phase",
            format!("must be an integer from 1 to 4, got {}", p.phase),
        ));
    }
    Ok(())
}

fn check_team(field: &str, team: &str) -> Result<(), FieldError> {
    if team.trim().is_empty() {
        return Err(FieldError::new(field, "must be a non-empty team name"));
    }
    // Names that look alike must be the same string, or one match gets two sets of counters
    // and a name can pose as another (issue 15 L2): no invisible or direction-changing
    // characters, no spaces at the ends, and composed characters only (Unicode NFC).
    if let Some(c) = team.chars().find(|c| is_invisible(*c)) {
        return Err(FieldError::new(
            field,
            format!(
                "must not contain the invisible or direction character U+{:04X}",
                c as u32
            ),
        ));
    }
    if team.trim() != team {
        return Err(FieldError::new(field, "must not start or end with spaces"));
    }
    if !unicode_normalization::is_nfc(team) {
        return Err(FieldError::new(
            field,
            "must be in Unicode NFC form (composed characters, e.g. \"é\" not \"e\" + U+0301)",
        ));
    }
    if let Some(c) = team.chars().find(|c| c.is_control() || *c == ':') {
        return Err(FieldError::new(
            field,
            format!("must not contain {c:?} (control characters and ':' are reserved)"),
        ));
    }
    let len = team.chars().count();
    if len > MAX_TEAM_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_TEAM_LEN} characters, got {len}"),
        ));
    }
    Ok(())
}

/// Format characters that render as nothing or reorder text (Unicode category Cf, the ones a
/// name could hide): soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width
/// space/joiners, direction marks and embeddings/isolates, word joiner and invisible operators,
/// byte-order mark, interlinear annotation.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// Parses `"A-B"` into `(A, B)`. Only the canonical form is accepted (digits, no sign, no
/// leading zero, no spaces), so two equal scores are always the same string: the live counters
/// key on it.
pub fn parse_score(score: &str) -> Result<(u32, u32), String> {
    let bad = || format!("must look like \"2-1\" (goals 0 to {MAX_GOALS}), got {score:?}");
    let (a, b) = score.split_once('-').ok_or_else(bad)?;
    let goals = |s: &str| -> Option<u32> {
        let canonical = !s.is_empty()
            && s.len() <= 2
            && s.bytes().all(|c| c.is_ascii_digit())
            && !(s.len() > 1 && s.starts_with('0'));
        canonical.then(|| s.parse().ok()).flatten()
    };
    match (goals(a), goals(b)) {
        (Some(a), Some(b)) if a <= MAX_GOALS && b <= MAX_GOALS => Ok((a, b)),
        _ => Err(bad()),
    }
}

/// Builds a prediction from a JSON value, naming the field at fault when the shape is wrong
/// (serde's own messages name a line and column, not a field, for missing or mistyped ones).
pub fn from_value(value: &Value) -> Result<Prediction, FieldError> {
    let obj: &Map<String, Value> = value.as_object().ok_or_else(|| {
        FieldError::new(
            "(entry)",
            format!("must be a JSON object, got {}", kind(value)),
        )
    })?;
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(FieldError::new(
            unknown,
            "unknown field (expected team1, team2, score, phase)",
        ));
    }
    let get = |field: &str| {
        obj.get(field)
            .ok_or_else(|| FieldError::new(field, "is missing"))
    };
    let string = |field: &str| -> Result<String, FieldError> {
        match get(field)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(FieldError::new(
                field,
                format!("must be a string, got {}", kind(other)),
            )),
        }
    };
    let team1 = string("team1")?;
    let team2 = string("team2")?;
    let score = string("score")?;
    let phase = match get("phase")? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| PHASES.contains(v))
            .ok_or_else(|| {
                FieldError::new("phase", format!("must be an integer from 1 to 4, got {n}"))
            })?,
        other => {
            return Err(FieldError::new(
                "phase",
                format!("must be an integer from 1 to 4, got {}", kind(other)),
            ))
        }
    };
    let p = Prediction {
        team1,
        team2,
        score,
        phase,
    };
    validate(&p)?;
    Ok(p)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where an entry sits in a data file, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The file holds one object.
    Single,
    /// Index (from 0) in a JSON array.
    Index(usize),
    /// Line (from 1) of an NDJSON file.
    Line(usize),
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Single => write!(f, "the object"),
            Entry::Index(i) => write!(f, "entry [{i}]"),
            Entry::Line(l) => write!(f, "line {l}"),
        }
    }
}

/// Why a data file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{entry}: {error}")]
    Invalid { entry: Entry, error: FieldError },
    #[error("{entry}: not valid JSON: {message}")]
    Syntax { entry: Entry, message: String },
    #[error("the file holds no prediction")]
    Empty,
}

/// Parses a data file in any of its three forms — one object, a JSON array of objects, or
/// NDJSON (one object per line) — and validates every entry before returning any.
pub fn parse_data(text: &str) -> Result<Vec<Prediction>, DataError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(DataError::Empty);
    }
    if trimmed.starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| DataError::Syntax {
            entry: Entry::Index(0),
            message: e.to_string(),
        })?;
        if values.is_empty() {
            return Err(DataError::Empty);
        }
        return values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                from_value(v).map_err(|error| DataError::Invalid {
                    entry: Entry::Index(i),
                    error,
                })
            })
            .collect();
    }
    // One object, possibly pretty-printed over many lines; if more follows it, NDJSON.
    let mut stream = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>();
    if let Some(Ok(first)) = stream.next() {
        if stream.next().is_none() {
            return from_value(&first)
                .map(|p| vec![p])
                .map_err(|error| DataError::Invalid {
                    entry: Entry::Single,
                    error,
                });
        }
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let entry = Entry::Line(i + 1);
        let value: Value = serde_json::from_str(line).map_err(|e| DataError::Syntax {
            entry,
            message: e.to_string(),
        })?;
        out.push(from_value(&value).map_err(|error| DataError::Invalid { entry, error })?);
    }
    if out.is_empty() {
        return Err(DataError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(team1: &str, team2: &str, score: &str, phase: u8) -> Prediction {
        Prediction {
            team1: team1.into(),
            team2: team2.into(),
            score: score.into(),
            phase,
        }
    }

    #[test]
    fn the_seed_example_is_valid() {
        assert_eq!(validate(&p("Guatemala", "Argentina", "2-5", 1)), Ok(()));
    }

    #[test]
    fn scores_must_be_canonical() {
        for ok in ["0-0", "2-5", "99-0", "10-10"] {
            assert!(parse_score(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "2", "2-", "-2", "+1-2", "2--1", "2:1", "02-1", "100-1", "1 -2", "a-b", "1-2-3",
        ] {
            assert!(parse_score(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        let field = |p: Prediction| validate(&p).unwrap_err().field;
        assert_eq!(field(p("", "Argentina", "1-0", 1)), "team1");
        assert_eq!(field(p("Qatar", " ", "1-0", 1)), "team2");
        assert_eq!(field(p("Qatar", "Qatar", "1-0", 1)), "team2");
        assert_eq!(field(p(&"x".repeat(65), "Qatar", "1-0", 1)), "team1");
        assert_eq!(field(p("Qatar", "Ecuador", "1:0", 1)), "score");
        assert_eq!(field(p("Qatar", "Ecuador", "1-0", 5)), "phase");
        assert_eq!(field(p("Qatar", "Ecuador", "1-0", 0)), "phase");
    }

    #[test]
    fn look_alike_names_are_refused() {
        for spoof in [
            "Qatar\u{202E}",
            "Qa\u{200B}tar",
            " Qatar",
            "Qatar ",
            "\u{FEFF}Qatar",
            "Co\u{0302}te d'Ivoire",
        ] {
            let error = validate(&p(spoof, "Ecuador", "1-0", 1)).unwrap_err();
            assert_eq!(error.field, "team1", "{spoof:?}: {error}");
        }
        assert_eq!(validate(&p("Côte d'Ivoire", "Ecuador", "1-0", 1)), Ok(()));
        assert_eq!(validate(&p("Saudi Arabia", "Ecuador", "1-0", 1)), Ok(()));
    }

    #[test]
    fn shapes_are_checked_by_field() {
        let field = |s: &str| {
            from_value(&serde_json::from_str(s).unwrap())
                .unwrap_err()
                .field
        };
        assert_eq!(
            field(r#"{"team1":"A","team2":"B","score":"1-0","phase":1,"x":1}"#),
            "x"
        );
        assert_eq!(field(r#"{"team1":"A","team2":"B","score":"1-0"}"#), "phase");
        assert_eq!(
            field(r#"{"team1":"A","team2":"B","score":"1-0","phase":"1"}"#),
            "phase"
        );
        assert_eq!(
            field(r#"{"team1":"A","team2":"B","score":"1-0","phase":1.5}"#),
            "phase"
        );
        assert_eq!(
            field(r#"{"team1":3,"team2":"B","score":"1-0","phase":1}"#),
            "team1"
        );
        assert_eq!(field("[1]"), "(entry)");
    }

    #[test]
    fn three_file_forms() {
        let one = r#"{"team1":"Guatemala","team2":"Argentina","score":"2-5","phase":1}"#;
        assert_eq!(parse_data(one).unwrap().len(), 1);
        let pretty = serde_json::to_string_pretty(&p("A", "B", "1-0", 2)).unwrap();
        assert_eq!(parse_data(&pretty).unwrap().len(), 1);
        assert_eq!(parse_data(&format!("[{one},{one}]")).unwrap().len(), 2);
        assert_eq!(
            parse_data(&format!("{one}\n\n{one}\n{one}\n"))
                .unwrap()
                .len(),
            3
        );
        assert!(matches!(parse_data(" \n"), Err(DataError::Empty)));
        assert!(matches!(parse_data("[]"), Err(DataError::Empty)));
    }
}
