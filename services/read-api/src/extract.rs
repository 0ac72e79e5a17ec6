//! The query parameters of every route, as extractors. Parameters are checked by hand so that
//! every mistake gets a JSON error naming the parameter, and unknown ones are refused (a typo
//! such as `limt=5` would otherwise silently return 50).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use crate::error::AppError;
use crate::filter::MatchFilter;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

const FILTER_PARAMS: &[&str] = &["phase", "team1", "team2"];
const LOGS_PARAMS: &[&str] = &["phase", "team1", "team2", "limit", "before"];

/// `?phase=&team1=&team2=` and nothing else: `/api/live` and both sockets.
#[derive(Debug, Clone)]
pub struct Filter(pub MatchFilter);

impl<S: Send + Sync> FromRequestParts<S> for Filter {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let p = params(parts, FILTER_PARAMS)?;
        Ok(Filter(match_filter(&p)?))
    }
}

/// `GET /api/logs`: the filter, the page size and the cursor.
#[derive(Debug, Clone)]
pub struct LogsQuery {
    pub filter: MatchFilter,
    pub limit: u32,
    /// A log id, normalised to the lowercase form the ids are stored in.
    pub before: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for LogsQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let p = params(parts, LOGS_PARAMS)?;
        Ok(LogsQuery {
            filter: match_filter(&p)?,
            limit: limit(&p)?,
            before: before(&p)?,
        })
    }
}

/// The query as a map, refusing malformed strings, unknown names and repeated names.
fn params(parts: &Parts, allowed: &[&str]) -> Result<HashMap<String, String>, AppError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map_err(|e| AppError::bad("query", e.body_text()))?;
    let mut map = HashMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(AppError::bad(
                &name,
                format!("unknown parameter; allowed: {}", allowed.join(", ")),
            ));
        }
        if map.insert(name.clone(), value).is_some() {
            return Err(AppError::bad(&name, "given more than once"));
        }
    }
    Ok(map)
}

/// `phase`, `team1` and `team2`; empty values count as absent, so forms can send them blank.
/// Numbers are taken exactly as the OpenAPI document writes them (no spaces, signs or leading
/// zeros), so that what the document calls invalid is refused.
fn match_filter(p: &HashMap<String, String>) -> Result<MatchFilter, AppError> {
    let phase = match p.get("phase").map(String::as_str).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match plain_number(raw) {
            Some(n) if u8::try_from(n).is_ok_and(|n| model::PHASES.contains(&n)) => Some(n as u8),
            _ => {
                return Err(AppError::bad(
                    "phase",
                    format!("{raw:?} is not a phase; use 1, 2, 3 or 4"),
                ))
            }
        },
    };
    let team = |name: &str| -> Result<Option<String>, AppError> {
        match p.get(name).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(t) if t.chars().count() > model::MAX_TEAM_LEN => Err(AppError::bad(
                name,
                format!("longer than {} characters", model::MAX_TEAM_LEN),
            )),
            Some(t) => Ok(Some(t.clone())),
        }
    };
    Ok(MatchFilter {
        phase,
        team1: team("team1")?,
        team2: team("team2")?,
    })
}

/// Digits only, without a leading zero: what `^[1-9][0-9]*$` accepts.
fn plain_number(raw: &str) -> Option<u32> {
    let plain = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    plain.then(|| raw.parse().ok()).flatten()
}

fn limit(p: &HashMap<String, String>) -> Result<u32, AppError> {
    match p.get("limit").filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => match plain_number(raw) {
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(AppError::bad(
                "limit",
                format!("{raw:?} is not a number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// The cursor is a log id, a hyphenated UUID as `next` gives it (either case).
fn before(p: &HashMap<String, String>) -> Result<Option<String>, AppError> {
    match p.get("before").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => uuid::Uuid::try_parse(raw)
            .ok()
            .map(|u| u.hyphenated().to_string())
            .filter(|id| id.eq_ignore_ascii_case(raw))
            .map(Some)
            .ok_or_else(|| {
                AppError::bad(
                    "before",
                    format!("{raw:?} is not a cursor; pass the `next` of the previous page"),
                )
            }),
    }
}
