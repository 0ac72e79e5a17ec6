//! HTTP handlers and their query parameters. Parameters are checked by hand so that every
//! mistake gets a JSON error naming the parameter, and unknown ones are refused (a typo such as
//! `limt=5` would otherwise silently return 50).

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::AppError;
use crate::live::{LiveView, MatchFilter};
use crate::logs::LogPage;
use crate::startup::AppState;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

pub type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The query as a map, refusing malformed strings, unknown names and repeated names.
pub fn params(raw: RawQuery, allowed: &[&str]) -> Result<HashMap<String, String>, AppError> {
    let Query(pairs) = raw.map_err(|e| AppError::bad("query", e.body_text()))?;
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
pub fn match_filter(p: &HashMap<String, String>) -> Result<MatchFilter, AppError> {
    let phase = match p.get("phase").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<u8>() {
            Ok(n) if model::PHASES.contains(&n) => Some(n),
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

fn limit(p: &HashMap<String, String>) -> Result<u32, AppError> {
    match p.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(AppError::bad(
                "limit",
                format!("{raw:?} is not a number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// The cursor is a log id (a UUID); normalised to the lowercase form the ids are stored in.
fn before(p: &HashMap<String, String>) -> Result<Option<String>, AppError> {
    match p.get("before").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => uuid::Uuid::parse_str(raw.trim())
            .map(|u| Some(u.hyphenated().to_string()))
            .map_err(|_| {
                AppError::bad(
                    "before",
                    format!("{raw:?} is not a cursor; pass the `next` of the previous page"),
                )
            }),
    }
}

pub const FILTER_PARAMS: &[&str] = &["phase", "team1", "team2"];

pub async fn live(State(s): State<AppState>, raw: RawQuery) -> Result<Json<LiveView>, AppError> {
    let filter = match_filter(&params(raw, FILTER_PARAMS)?)?;
    Ok(Json(s.live.snapshot(&filter).await?))
}

pub async fn logs(State(s): State<AppState>, raw: RawQuery) -> Result<Json<LogPage>, AppError> {
    let p = params(raw, &["phase", "team1", "team2", "limit", "before"])?;
    let filter = match_filter(&p)?;
    let (limit, before) = (limit(&p)?, before(&p)?);
    Ok(Json(s.logs.page(&filter, before.as_deref(), limit).await?))
}

#[derive(Debug, Serialize)]
pub struct Stats {
    /// Predictions counted in Redis.
    pub live_total: u64,
    /// Documents in MongoDB.
    pub logs_total: u64,
    /// Predictions counted per phase ("1".."4").
    pub phases: std::collections::BTreeMap<String, u64>,
    /// Matches with at least one prediction.
    pub matches: usize,
}

pub async fn stats(State(s): State<AppState>) -> Result<Json<Stats>, AppError> {
    let (live, logs_total) = tokio::join!(s.live.stats(), s.logs.count());
    let live = live?;
    Ok(Json(Stats {
        live_total: live.total,
        logs_total: logs_total?,
        phases: live.phases,
        matches: live.matches,
    }))
}

pub async fn config(State(s): State<AppState>) -> Json<Value> {
    Json(json!({ "purge_enabled": s.admin_token.is_some() }))
}

pub async fn purge(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, AppError> {
    let token = s.admin_token.as_ref().ok_or(AppError::PurgeDisabled)?;
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthorized)?;
    if !token.matches(given.trim()) {
        return Err(AppError::Unauthorized);
    }
    let deleted = s.logs.purge().await?;
    tracing::warn!(deleted, "logs purged");
    Ok(Json(json!({ "deleted": deleted })))
}
