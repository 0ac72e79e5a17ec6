//! The war zone's read-only routes (`/api/warzone/*`), for the `/warzone` page. read-api
//! serves them beside its API; the experiment kit serves them itself for a cluster target
//! (`experiments::kit::viewer`), where read-api runs in a pod that cannot see the kit's folder.
//!
//!
//! - `GET /api/warzone/metrics?seconds=N`: the last N seconds (1-600, default 5), one point a
//!   second, of every query in this target's fixed table ([`queries`]). The page names no
//!   query and sends no PromQL; only `/api/v1/query_range` of the configured Prometheus is ever
//!   called. One answer per (N, second) is shared by every page that asks.
//! - `GET /api/warzone/experiment`: the running experiment's state, as the kit publishes it
//!   (`experiment.json` in `USACTAR_WARZONE_DIR`); 204 when none was published.
//! - `GET /api/warzone/report`: the finished experiment's `report.md`, copied there by the kit.
//!
//! These routes stay outside read-api's request metrics: a page watching the war zone must not
//! show up in the golden signals it watches.

pub mod prometheus;
pub mod queries;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use service_kit::config::{ConfigError, Env};

use self::prometheus::Prometheus;
use self::queries::{Flavour, NamedQuery};

/// The longest window a page may ask for.
pub const MAX_SECONDS: u64 = 600;
/// The most the kit's files may weigh; anything bigger is not served.
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `USACTAR_WARZONE_PROMETHEUS`: the Prometheus servers to ask (root URLs, separated by
    /// commas). Empty: no metrics. Two clusters have two linkerd-viz, each with only its own
    /// proxies: each name's series comes from the first server that has data for it.
    pub prometheus: Vec<String>,
    /// `USACTAR_WARZONE_QUERIES`: `local` (default) or `linkerd`, the table to run.
    pub flavour: Flavour,
    /// `USACTAR_WARZONE_DIR`: where the kit publishes the running experiment. Unset: none.
    pub dir: Option<PathBuf>,
}

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Settings, ConfigError> {
        let prometheus: Vec<String> = env
            .get("USACTAR_WARZONE_PROMETHEUS")
            .map(|urls| {
                urls.split(',')
                    .map(|url| url.trim().to_string())
                    .filter(|url| !url.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for url in &prometheus {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError {
                    key: "USACTAR_WARZONE_PROMETHEUS".into(),
                    value: url.clone(),
                    reason:
                        "http:// or https:// URLs separated by commas, e.g. http://127.0.0.1:9090"
                            .into(),
                });
            }
        }
        Ok(Settings {
            prometheus,
            flavour: env.parse_or("USACTAR_WARZONE_QUERIES", Flavour::Local)?,
            dir: env.get("USACTAR_WARZONE_DIR").map(PathBuf::from),
        })
    }
}

/// What the handlers share.
#[derive(Clone)]
struct Warzone {
    prometheus: Arc<Vec<Prometheus>>,
    flavour: Flavour,
    table: Arc<Vec<NamedQuery>>,
    dir: Option<PathBuf>,
    /// The last answer: at most one round of queries per second and window, however many
    /// pages poll.
    last: Arc<tokio::sync::Mutex<Option<Cached>>>,
}

/// An answer, by (seconds asked, end second).
type Cached = ((u64, u64), Arc<Metrics>);

/// The routes, with their own state; merged into read-api's router after its metrics layer.
pub fn router(settings: &Settings) -> Router {
    let state = Warzone {
        prometheus: Arc::new(
            settings
                .prometheus
                .iter()
                .map(|url| Prometheus::new(url, Duration::from_secs(2)))
                .collect(),
        ),
        flavour: settings.flavour,
        table: Arc::new(queries::table(settings.flavour)),
        dir: settings.dir.clone(),
        last: Arc::default(),
    };
    Router::new()
        .route("/api/warzone/metrics", get(metrics))
        .route("/api/warzone/experiment", get(experiment))
        .route("/api/warzone/report", get(report))
        .with_state(state)
}

/// Failures, as JSON `{"error": "..."}` like the rest of the API.
#[derive(Debug, thiserror::Error)]
pub enum WarzoneError {
    #[error("{field}: {reason}")]
    BadParam { field: String, reason: String },
    #[error("{0}")]
    NotConfigured(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("prometheus does not answer")]
    PrometheusDown,
    #[error("the kit's file could not be read: {0}")]
    BadFile(String),
}

impl IntoResponse for WarzoneError {
    fn into_response(self) -> Response {
        let status = match &self {
            WarzoneError::BadParam { .. } => StatusCode::BAD_REQUEST,
            WarzoneError::NotConfigured(_) | WarzoneError::NotFound(_) => StatusCode::NOT_FOUND,
            WarzoneError::PrometheusDown | WarzoneError::BadFile(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut body = serde_json::json!({ "error": self.to_string() });
        if let WarzoneError::BadParam { field, .. } = &self {
            body["field"] = field.clone().into();
        }
        no_store((status, Json(body)).into_response())
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The answer of `/api/warzone/metrics`.
#[derive(Debug, Serialize)]
pub struct Metrics {
    /// Which table ran: `local` or `linkerd`.
    pub flavour: String,
    /// The last second asked (Unix seconds); points are every `step_s` up to it.
    pub end: u64,
    pub step_s: u64,
    /// Every name of the table; a name absent from it is not measured on this target.
    pub names: Vec<String>,
    /// The points of each name that has any, `[unix seconds, value]`; no point: no data.
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
    /// Names whose query Prometheus refused, with its reason.
    pub failed: BTreeMap<String, String>,
}

fn seconds_param(params: &HashMap<String, String>) -> Result<u64, WarzoneError> {
    let bad = |field: &str, reason: String| WarzoneError::BadParam {
        field: field.to_string(),
        reason,
    };
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "seconds") {
        return Err(bad(unknown, "unknown parameter (only seconds)".into()));
    }
    match params.get("seconds") {
        None => Ok(5),
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if (1..=MAX_SECONDS).contains(&n) => Ok(n),
            _ => Err(bad(
                "seconds",
                format!("{raw:?} is not a whole number from 1 to {MAX_SECONDS}"),
            )),
        },
    }
}

async fn metrics(
    State(w): State<Warzone>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, WarzoneError> {
    let seconds = seconds_param(&params)?;
    if w.prometheus.is_empty() {
        return Err(WarzoneError::NotConfigured(
            "no Prometheus is configured for the war zone (USACTAR_WARZONE_PROMETHEUS)",
        ));
    }
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let key = (seconds, end);
    let mut last = w.last.lock().await;
    if let Some((k, answer)) = last.as_ref() {
        if *k == key {
            return Ok(no_store(Json(answer.as_ref()).into_response()));
        }
    }
    let start = end.saturating_sub(seconds - 1);
    // Every query on every server at once; answers come back in the table's order, each
    // with the servers' answers in their configured order.
    let answers = futures::future::join_all(w.table.iter().map(|q| {
        futures::future::join_all(
            w.prometheus
                .iter()
                .map(|p| p.query_range(&q.promql, start, end)),
        )
    }))
    .await;
    let mut series = BTreeMap::new();
    let mut failed = BTreeMap::new();
    // Answers from a live server, empty or not: one cluster's Prometheus down must not blank
    // what the other one shows.
    let mut answered = 0;
    for (q, per_server) in w.table.iter().zip(answers) {
        for answer in per_server {
            if !matches!(answer, Err(prometheus::QueryError::Unreachable(_))) {
                answered += 1;
            }
            match answer {
                Ok(points) if points.is_empty() => {}
                Ok(points) => {
                    failed.remove(&q.name);
                    series.insert(q.name.clone(), points);
                    break;
                }
                Err(prometheus::QueryError::Unreachable(e)) => {
                    tracing::debug!(error = %e, "prometheus unreachable");
                }
                Err(prometheus::QueryError::Refused(reason)) => {
                    failed.entry(q.name.clone()).or_insert(reason);
                }
            }
        }
    }
    if answered == 0 {
        return Err(WarzoneError::PrometheusDown);
    }
    let answer = Arc::new(Metrics {
        flavour: w.flavour.to_string(),
        end,
        step_s: 1,
        names: w.table.iter().map(|q| q.name.clone()).collect(),
        series,
        failed,
    });
    *last = Some((key, answer.clone()));
    Ok(no_store(Json(answer.as_ref()).into_response()))
}

/// A file of the kit's folder, at most [`MAX_FILE_BYTES`].
async fn read_published(
    w: &Warzone,
    file: &str,
    missing: &'static str,
) -> Result<Vec<u8>, WarzoneError> {
    let dir = w.dir.as_ref().ok_or(WarzoneError::NotConfigured(
        "no experiment folder is configured for the war zone (USACTAR_WARZONE_DIR)",
    ))?;
    let path = dir.join(file);
    let meta = match tokio::fs::metadata(&path).await {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(WarzoneError::NotFound(missing))
        }
        Err(e) => return Err(WarzoneError::BadFile(e.to_string())),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(WarzoneError::BadFile(format!(
            "{file} is over {MAX_FILE_BYTES} bytes"
        )));
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(WarzoneError::NotFound(missing)),
        Err(e) => Err(WarzoneError::BadFile(e.to_string())),
    }
}

/// 204 when no experiment was published yet: nothing is wrong, there is nothing to show.
async fn experiment(State(w): State<Warzone>) -> Result<Response, WarzoneError> {
    let bytes = match read_published(
        &w,
        "experiment.json",
        "no experiment has been published here",
    )
    .await
    {
        Err(WarzoneError::NotFound(_)) => {
            return Ok(no_store(StatusCode::NO_CONTENT.into_response()))
        }
        other => other?,
    };
    // Served only if it is JSON: the kit replaces the file whole, so a half-written one is a bug.
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| WarzoneError::BadFile(e.to_string()))?;
    Ok(no_store(Json(value).into_response()))
}

async fn report(State(w): State<Warzone>) -> Result<Response, WarzoneError> {
    let bytes = read_published(&w, "report.md", "no finished experiment has a report here").await?;
    let text = String::from_utf8(bytes).map_err(|e| WarzoneError::BadFile(e.to_string()))?;
    Ok(no_store(
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn seconds_is_checked_and_nothing_else_is_accepted() {
        assert_eq!(seconds_param(&params(&[])).unwrap(), 5);
        assert_eq!(seconds_param(&params(&[("seconds", "600")])).unwrap(), 600);
        for bad in ["0", "601", "-1", "1.5", "x", ""] {
            let e = seconds_param(&params(&[("seconds", bad)])).unwrap_err();
            assert!(e.to_string().starts_with("seconds:"), "{bad}: {e}");
        }
        let e = seconds_param(&params(&[("query", "up")])).unwrap_err();
        assert!(e.to_string().starts_with("query: unknown parameter"), "{e}");
    }

    #[test]
    fn settings_default_to_nothing_and_refuse_a_bad_url_or_table() {
        let env: HashMap<&str, &str> = HashMap::new();
        let s = Settings::from_env(&env).unwrap();
        assert_eq!(
            (s.prometheus, s.flavour, s.dir),
            (vec![], Flavour::Local, None)
        );
        let env: HashMap<&str, &str> = [(
            "USACTAR_WARZONE_PROMETHEUS",
            " http://a:9090, http://b:9091/ ",
        )]
        .into();
        assert_eq!(
            Settings::from_env(&env).unwrap().prometheus,
            ["http://a:9090", "http://b:9091/"]
        );
        let env: HashMap<&str, &str> =
            [("USACTAR_WARZONE_PROMETHEUS", "http://a:9090,b:9091")].into();
        let e = Settings::from_env(&env).unwrap_err().to_string();
        assert!(e.contains("b:9091"), "{e}");
        let env: HashMap<&str, &str> = [("USACTAR_WARZONE_PROMETHEUS", "localhost:9090")].into();
        let e = Settings::from_env(&env).unwrap_err().to_string();
        assert!(e.contains("USACTAR_WARZONE_PROMETHEUS"), "{e}");
        let env: HashMap<&str, &str> = [("USACTAR_WARZONE_QUERIES", "grafana")].into();
        let e = Settings::from_env(&env).unwrap_err().to_string();
        assert!(e.contains("USACTAR_WARZONE_QUERIES"), "{e}");
    }
}
