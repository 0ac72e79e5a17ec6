//! The workspace's one Prometheus HTTP API client: range and instant queries, answered as
//! [`Point`]s. Linkerd's golden metrics ([`crate::linkerd`]) and the experiment kit's queries of
//! the local services are both asked through it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::{Error, Result};

/// One sample of a series: Unix time in seconds, value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: f64,
    pub v: f64,
}

/// Samples in time order. Instants where the value is undefined (no traffic: 0/0, or an empty
/// histogram) are left out rather than reported as NaN.
pub type Series = Vec<Point>;

/// One series of a range query's answer, with the labels that tell it from the others.
#[derive(Clone, Debug, PartialEq)]
pub struct Labelled {
    pub labels: BTreeMap<String, String>,
    pub points: Series,
}

/// A query range: `[start, end]` every `step` (1 s gives the per-second series reports use).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub start: SystemTime,
    pub end: SystemTime,
    pub step: Duration,
}

impl Range {
    pub fn per_second(start: SystemTime, end: SystemTime) -> Self {
        Self {
            start,
            end,
            step: Duration::from_secs(1),
        }
    }
}

/// `t` as Unix seconds, the time scale of Prometheus's answers.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `/api/v1/query_range` and `/api/v1/query` of one Prometheus server.
#[derive(Clone, Debug)]
pub struct Prometheus {
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<ResultSeries>,
}

#[derive(Deserialize)]
struct ResultSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

/// Prometheus's time parameter: Unix seconds to the millisecond.
fn param(t: SystemTime) -> String {
    format!("{:.3}", unix_seconds(t))
}

fn finite(points: impl IntoIterator<Item = (f64, String)>) -> Series {
    points
        .into_iter()
        .filter_map(|(t, v)| {
            v.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| Point { t, v })
        })
        .collect()
}

impl Prometheus {
    /// `url` is the server's root, e.g. `http://127.0.0.1:9090`. Each request may take 30 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_timeout(url, Duration::from_secs(30))
    }

    /// Like [`Prometheus::new`], with each request cut off after `timeout`.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            base: url.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("a client without TLS or proxies always builds"),
        }
    }

    /// A query that sums to one series, over `range`: its first series (none: no points).
    pub async fn query_range(&self, query: &str, range: Range) -> Result<Series> {
        Ok(self
            .query_range_labelled(query, range)
            .await?
            .into_iter()
            .next()
            .map(|s| s.points)
            .unwrap_or_default())
    }

    /// Every series of a range query (e.g. `sum by (service) (...)`), with its labels.
    pub async fn query_range_labelled(&self, query: &str, range: Range) -> Result<Vec<Labelled>> {
        let params = [
            ("query", query.to_owned()),
            ("start", param(range.start)),
            ("end", param(range.end)),
            ("step", format!("{}", range.step.as_secs_f64())),
        ];
        let data = self.get("/api/v1/query_range", query, &params).await?;
        Ok(data
            .result
            .into_iter()
            .map(|s| Labelled {
                labels: s.metric,
                points: finite(s.values),
            })
            .collect())
    }

    /// The value of a one-series query at `at`, if defined.
    pub async fn query(&self, query: &str, at: SystemTime) -> Result<Option<f64>> {
        let params = [("query", query.to_owned()), ("time", param(at))];
        let data = self.get("/api/v1/query", query, &params).await?;
        Ok(data
            .result
            .into_iter()
            .next()
            .and_then(|s| s.value)
            .and_then(|p| finite([p]).first().map(|p| p.v)))
    }

    /// The median of histogram `bucket` (a `_bucket` series with its selector) over
    /// [`start`, `end`], times `scale` (1000 turns seconds into milliseconds).
    pub async fn median_over(
        &self,
        bucket: &str,
        scale: f64,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Option<f64>> {
        let window = end
            .duration_since(start)
            .unwrap_or_default()
            .as_secs()
            .max(2);
        let query = format!(
            "{scale} * histogram_quantile(0.5, sum by (le) (increase({bucket}[{window}s])))"
        );
        self.query(&query, end).await
    }

    async fn get(&self, path: &str, query: &str, params: &[(&str, String)]) -> Result<Data> {
        let url = format!("{}{path}", self.base);
        let http = |source| Error::Http {
            url: url.clone(),
            source,
        };
        // Prometheus answers 400/422 with a JSON body that says what is wrong: read it.
        let response: Response = self
            .http
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(http)?
            .json()
            .await
            .map_err(http)?;
        let failed = |message: String| Error::Query {
            query: query.to_owned(),
            message,
        };
        if response.status != "success" {
            return Err(failed(response.error.unwrap_or(response.status)));
        }
        let data = response
            .data
            .ok_or_else(|| failed("no data in a successful answer".into()))?;
        if data.result_type != "matrix" && data.result_type != "vector" {
            return Err(failed(format!(
                "unexpected result type {}",
                data.result_type
            )));
        }
        Ok(data)
    }
}
