//! The HTTP handlers: each reads its query through [`crate::extract`] and answers JSON.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use model::push::LiveView;
use serde::Serialize;

use crate::error::AppError;
use crate::extract::{Filter, LogsQuery};
use crate::logs::LogPage;
use crate::state::AppState;

pub async fn live(
    State(s): State<AppState>,
    Filter(filter): Filter,
) -> Result<Json<LiveView>, AppError> {
    Ok(Json(s.live.snapshot(&filter).await?))
}

pub async fn logs(State(s): State<AppState>, q: LogsQuery) -> Result<Json<LogPage>, AppError> {
    Ok(Json(
        s.logs.page(&q.filter, q.before.as_deref(), q.limit).await?,
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Predictions counted in Redis.
    pub live_total: u64,
    /// Documents in MongoDB.
    pub logs_total: u64,
    /// Predictions counted per phase ("1".."4").
    pub phases: BTreeMap<String, u64>,
    /// Matches with at least one prediction.
    pub matches: usize,
}

/// `GET /api/stats`: one read of both stores serves every request that comes while it runs and
/// for [`STATS_FRESH`] after it started (issue 16: at 2,000 requests/s each request read Redis
/// and MongoDB, and the p99 was 27.7 ms), so the answer may be that much older than the stores.
pub async fn stats(State(s): State<AppState>) -> Result<Json<Stats>, AppError> {
    let (live, logs) = (s.live.clone(), s.logs.clone());
    let stats = s
        .stats
        .get(&(), || async move {
            let (live, logs_total) = tokio::join!(live.stats(), logs.count());
            let live = live?;
            Ok(Stats {
                live_total: live.total,
                logs_total: logs_total?,
                phases: live.phases,
                matches: live.matches,
            })
        })
        .await?;
    Ok(Json(Stats::clone(&stats)))
}

/// How long one read of `/api/stats` serves: the live pushes' coalescing delay.
pub const STATS_FRESH: std::time::Duration = crate::hub::SNAPSHOT_FRESH;

/// [`crate::OPENAPI`]: `GET /openapi.json`.
pub async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::OPENAPI,
    )
}

/// What the pages need to know about the server: `GET /api/config`.
#[derive(Debug, Serialize)]
pub struct PublicConfig {
    pub purge_enabled: bool,
}

pub async fn config(State(s): State<AppState>) -> Json<PublicConfig> {
    Json(PublicConfig {
        purge_enabled: s.admin_token.is_some(),
    })
}

#[derive(Debug, Serialize)]
pub struct Purged {
    pub deleted: u64,
}

pub async fn purge(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Purged>, AppError> {
    let token = s.admin_token.as_ref().ok_or(AppError::PurgeDisabled)?;
    // Checked before the token, so a guesser learns nothing while limited.
    if !s.purge_attempts.allowed() {
        return Err(AppError::TooManyAttempts);
    }
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|g| token.matches(g.trim())) {
        s.purge_attempts.failed();
        return Err(AppError::Unauthorized);
    }
    let deleted = s.logs.purge().await?;
    tracing::warn!(deleted, "logs purged");
    Ok(Json(Purged { deleted }))
}

/// Failed purge attempts, as a token bucket: a burst of [`Attempts::BURST`] failures, then one
/// per second. Anyone can send `DELETE /api/logs`; this bounds how fast a token can be guessed.
#[derive(Debug)]
pub struct Attempts {
    bucket: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            bucket: std::sync::Mutex::new((Self::BURST, std::time::Instant::now())),
        }
    }
}

impl Attempts {
    pub const BURST: f64 = 5.0;
    const PER_SECOND: f64 = 1.0;

    fn refilled(&self) -> std::sync::MutexGuard<'_, (f64, std::time::Instant)> {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * Self::PER_SECOND).min(Self::BURST);
        b.1 = now;
        b
    }

    /// Whether an attempt may be checked now.
    pub fn allowed(&self) -> bool {
        self.refilled().0 >= 1.0
    }

    pub fn failed(&self) {
        self.refilled().0 -= 1.0;
    }
}
