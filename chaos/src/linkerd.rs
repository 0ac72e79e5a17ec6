//! Linkerd's golden metrics (request rate, success rate, latency percentiles) read from the
//! Prometheus that linkerd-viz runs, with the queries `linkerd viz stat` and the Linkerd Grafana
//! dashboards use: the inbound side of each meshed pod's proxy, summed per deployment.
//!
//! Reach that Prometheus by URL, or with
//! `kubectl -n linkerd-viz port-forward svc/prometheus 9090` and `http://127.0.0.1:9090`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::{Error, Result};

/// Which proxies to read: the inbound side of `deployment` (optionally in `namespace`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub deployment: String,
    pub namespace: Option<String>,
    /// The rate window. irate reads the last two samples in it, so it must hold at least two
    /// scrapes (linkerd-viz scrapes every 10 s): 30 s by default.
    pub window: Duration,
}

impl Target {
    pub fn deployment(deployment: impl Into<String>) -> Self {
        Self {
            deployment: deployment.into(),
            namespace: None,
            window: Duration::from_secs(30),
        }
    }

    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    fn labels(&self, extra: &str) -> String {
        let mut labels = format!(
            r#"direction="inbound",deployment="{}""#,
            escape(&self.deployment)
        );
        if let Some(ns) = &self.namespace {
            labels.push_str(&format!(r#",namespace="{}""#, escape(ns)));
        }
        if !extra.is_empty() {
            labels.push(',');
            labels.push_str(extra);
        }
        labels
    }

    fn window(&self) -> String {
        format!("{}s", self.window.as_secs().max(1))
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"")
}

/// Requests per second answered by the deployment's pods.
pub fn request_rate(t: &Target) -> String {
    format!(
        "sum(irate(response_total{{{}}}[{}]))",
        t.labels(""),
        t.window()
    )
}

/// Share of responses Linkerd classified as success (5xx and gRPC errors are failures), 0-1.
pub fn success_rate(t: &Target) -> String {
    format!(
        "sum(irate(response_total{{{}}}[{w}])) / sum(irate(response_total{{{}}}[{w}]))",
        t.labels(r#"classification="success""#),
        t.labels(""),
        w = t.window()
    )
}

/// The `q` quantile (0.5, 0.95, 0.99) of response latency, in milliseconds.
pub fn latency_quantile(q: f64, t: &Target) -> String {
    format!(
        "histogram_quantile({q}, sum(irate(response_latency_ms_bucket{{{}}}[{}])) by (le))",
        t.labels(""),
        t.window()
    )
}

/// One sample of a series: Unix time in seconds, value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: f64,
    pub v: f64,
}

/// Samples in time order. Instants where the value is undefined (no traffic: 0/0, or an empty
/// histogram) are left out rather than reported as NaN.
pub type Series = Vec<Point>;

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

/// One deployment's golden metrics over a range.
#[derive(Clone, Debug, PartialEq)]
pub struct GoldenMetrics {
    pub deployment: String,
    /// Requests per second.
    pub request_rate: Series,
    /// 0-1.
    pub success_rate: Series,
    /// Milliseconds.
    pub p50: Series,
    pub p95: Series,
    pub p99: Series,
}

/// A small Prometheus HTTP API client: `/api/v1/query_range` and `/api/v1/query`.
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
    values: Vec<(f64, String)>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

fn unix(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    format!("{secs:.3}")
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
    /// `url` is the server's root, e.g. `http://127.0.0.1:9090`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            base: url.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a client without TLS or proxies always builds"),
        }
    }

    /// A query that sums to one series (as all of this module's do), over `range`.
    pub async fn query_range(&self, query: &str, range: Range) -> Result<Series> {
        let params = [
            ("query", query.to_owned()),
            ("start", unix(range.start)),
            ("end", unix(range.end)),
            ("step", format!("{}", range.step.as_secs_f64())),
        ];
        let data = self.get("/api/v1/query_range", query, &params).await?;
        Ok(data
            .result
            .into_iter()
            .next()
            .map(|s| finite(s.values))
            .unwrap_or_default())
    }

    /// The value of a one-series query at `at`, if defined.
    pub async fn query(&self, query: &str, at: SystemTime) -> Result<Option<f64>> {
        let params = [("query", query.to_owned()), ("time", unix(at))];
        let data = self.get("/api/v1/query", query, &params).await?;
        Ok(data
            .result
            .into_iter()
            .next()
            .and_then(|s| s.value)
            .and_then(|p| finite([p]).first().map(|p| p.v)))
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

    /// Request rate, success rate and p50/p95/p99 of one deployment.
    pub async fn golden_metrics(&self, target: &Target, range: Range) -> Result<GoldenMetrics> {
        let queries = [
            request_rate(target),
            success_rate(target),
            latency_quantile(0.5, target),
            latency_quantile(0.95, target),
            latency_quantile(0.99, target),
        ];
        let [rate, success, q50, q95, q99] = &queries;
        let (request_rate, success_rate, p50, p95, p99) = futures::try_join!(
            self.query_range(rate, range),
            self.query_range(success, range),
            self.query_range(q50, range),
            self.query_range(q95, range),
            self.query_range(q99, range),
        )?;
        Ok(GoldenMetrics {
            deployment: target.deployment.clone(),
            request_rate,
            success_rate,
            p50,
            p95,
            p99,
        })
    }
}

/// Golden metrics of `deployment` from the Prometheus at `prom_url`, one point per second.
pub async fn golden_metrics(
    prom_url: &str,
    deployment: &str,
    range: Range,
) -> Result<GoldenMetrics> {
    Prometheus::new(prom_url)
        .golden_metrics(&Target::deployment(deployment), range)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_like_linkerd_viz_stat() {
        let t = Target::deployment("read-api").in_namespace("usactar-api");
        assert_eq!(
            request_rate(&t),
            r#"sum(irate(response_total{direction="inbound",deployment="read-api",namespace="usactar-api"}[30s]))"#
        );
        assert_eq!(
            latency_quantile(0.99, &Target::deployment("ingest")),
            r#"histogram_quantile(0.99, sum(irate(response_latency_ms_bucket{direction="inbound",deployment="ingest"}[30s])) by (le))"#
        );
        assert!(success_rate(&t).contains(r#"classification="success""#));
    }

    #[test]
    fn label_values_are_escaped() {
        let t = Target::deployment(r#"a"b"#);
        assert!(request_rate(&t).contains(r#"deployment="a\"b""#));
    }
}
