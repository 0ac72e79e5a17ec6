//! The server side of the golden metrics: the services' own metrics in Prometheus, queried per
//! second over an experiment's time range. (On a cluster the same questions go to Linkerd's
//! metrics; see the `chaos` crate.)

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::kit::series::Point;

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("Prometheus at {url}: {reason}")]
    Query { url: String, reason: String },
}

pub struct Prometheus {
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Matrix>,
}

#[derive(Deserialize)]
struct Matrix {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// A range query's answer: one series of (unix seconds, value) per label set.
pub type Series = Vec<(BTreeMap<String, String>, Vec<(f64, f64)>)>;

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Prometheus {
    pub fn new(base: impl Into<String>) -> Self {
        Prometheus {
            base: base.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// GET `path` with `params`; the answer's JSON, or an error naming the URL. Prometheus's
    /// own errors (`status` other than success) are errors too.
    async fn get_json(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<serde_json::Value, PromError> {
        let url = format!("{}{path}", self.base);
        let err = |reason: String| PromError::Query {
            url: url.clone(),
            reason,
        };
        let answer: serde_json::Value = self
            .http
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?
            .json()
            .await
            .map_err(|e| err(e.to_string()))?;
        if answer["status"] != "success" {
            return Err(err(answer["error"].to_string()));
        }
        Ok(answer)
    }

    pub async fn range(
        &self,
        query: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Series, PromError> {
        let params = [
            ("query", query.to_string()),
            ("start", format!("{:.3}", unix(start))),
            ("end", format!("{:.3}", unix(end))),
            ("step", "1".to_string()),
        ];
        let answer = self.get_json("/api/v1/query_range", &params).await?;
        let answer: Answer = serde_json::from_value(answer).map_err(|e| PromError::Query {
            url: format!("{}/api/v1/query_range", self.base),
            reason: e.to_string(),
        })?;
        Ok(answer
            .data
            .map(|d| d.result)
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let values = m
                    .values
                    .into_iter()
                    .filter_map(|(t, v)| {
                        v.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .map(|v| (t, v))
                    })
                    .collect();
                (m.metric, values)
            })
            .collect())
    }

    /// Per-second golden signals of `service` (as labelled by the stack's scrape config), with
    /// `t` relative to `t0`.
    pub async fn golden(
        &self,
        service: &str,
        t0: SystemTime,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Vec<Point>, PromError> {
        let sel = format!("service=\"{service}\"");
        // Errors: 5xx over HTTP; gRPC codes that mean the server failed.
        let failed =
            "status=~\"5..|error|Unavailable|DeadlineExceeded|Internal|Unknown|Cancelled\"";
        let rate = format!("sum(irate(usactar_requests_total{{{sel}}}[3s]))");
        let errors = format!("sum(irate(usactar_requests_total{{{sel},{failed}}}[3s]))");
        let quantile = |q: f64| {
            format!("1000 * histogram_quantile({q}, sum by (le) (irate(usactar_request_duration_seconds_bucket{{{sel}}}[3s])))")
        };
        let one = |series: Series| -> BTreeMap<i64, f64> {
            series
                .into_iter()
                .next()
                .map(|(_, v)| v.into_iter().map(|(t, v)| (t.round() as i64, v)).collect())
                .unwrap_or_default()
        };
        let rps = one(self.range(&rate, start, end).await?);
        let errs = one(self.range(&errors, start, end).await?);
        let p50 = one(self.range(&quantile(0.5), start, end).await?);
        let p95 = one(self.range(&quantile(0.95), start, end).await?);
        let p99 = one(self.range(&quantile(0.99), start, end).await?);
        let t0 = unix(t0);
        Ok(rps
            .iter()
            .map(|(t, r)| {
                let e = errs.get(t).copied().unwrap_or(0.0);
                Point {
                    t: (*t as f64 - t0).round(),
                    rps: *r,
                    success: (*r > 0.0).then(|| (1.0 - e / r).clamp(0.0, 1.0)),
                    p50_ms: p50.get(t).copied(),
                    p95_ms: p95.get(t).copied(),
                    p99_ms: p99.get(t).copied(),
                }
            })
            .collect())
    }

    /// Consumer lag per consumer (service label), per second.
    pub async fn lag(
        &self,
        t0: SystemTime,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<BTreeMap<String, Vec<(f64, f64)>>, PromError> {
        let series = self
            .range("sum by (service) (usactar_consumer_lag)", start, end)
            .await?;
        let t0 = unix(t0);
        Ok(series
            .into_iter()
            .filter_map(|(labels, values)| {
                let service = labels.get("service")?.clone();
                Some((
                    service,
                    values
                        .into_iter()
                        .map(|(t, v)| ((t - t0).round(), v))
                        .collect(),
                ))
            })
            .collect())
    }

    /// The median latency of live-forwarder's ApplyBatch calls over a window: the delay those
    /// requests actually saw across the link.
    pub async fn forward_latency_ms(
        &self,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Option<f64>, PromError> {
        let bucket = "usactar_request_duration_seconds_bucket{service=\"live-forwarder\",route=\"/usactar.live.v1.LiveStore/ApplyBatch\"}";
        self.median_over(bucket, 1000.0, start, end).await
    }

    /// The median of histogram `bucket` (a `_bucket` series with its selector) over
    /// [`start`, `end`], times `scale` (1000 turns seconds into milliseconds).
    pub async fn median_over(
        &self,
        bucket: &str,
        scale: f64,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Option<f64>, PromError> {
        let window = end
            .duration_since(start)
            .unwrap_or_default()
            .as_secs()
            .max(2);
        let query = format!(
            "{scale} * histogram_quantile(0.5, sum by (le) (increase({bucket}[{window}s])))"
        );
        self.instant(&query, end).await
    }

    /// One number: the first sample of an instant query, if any.
    pub async fn instant(&self, query: &str, at: SystemTime) -> Result<Option<f64>, PromError> {
        let params = [
            ("query", query.to_string()),
            ("time", format!("{:.3}", unix(at))),
        ];
        let answer = self.get_json("/api/v1/query", &params).await?;
        Ok(answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite()))
    }
}
