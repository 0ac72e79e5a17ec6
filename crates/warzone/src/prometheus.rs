//! The one Prometheus call the war zone makes: `/api/v1/query_range`, one point a second.
//!
//! (The workspace's full client is `chaos::prometheus`; a service may not depend on `chaos`,
//! which brings kube-rs, so read-api asks this one endpoint itself.)

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone)]
pub struct Prometheus {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No answer, or not one from Prometheus: the source is dead.
    #[error("{0}")]
    Unreachable(String),
    /// Prometheus answered that the query failed.
    #[error("{0}")]
    Refused(String),
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    values: Vec<(f64, String)>,
}

impl Prometheus {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Prometheus {
            base: url.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("a client without TLS or proxies always builds"),
        }
    }

    /// The first series of `query` from `start` to `end` (Unix seconds), every second, without
    /// the undefined points (NaN: no traffic to divide by).
    pub async fn query_range(
        &self,
        query: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<(f64, f64)>, QueryError> {
        let unreachable = |e: reqwest::Error| QueryError::Unreachable(e.to_string());
        let answer: Answer = self
            .http
            .get(format!("{}/api/v1/query_range", self.base))
            .query(&[
                ("query", query.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", "1".to_string()),
            ])
            .send()
            .await
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        if answer.status != "success" {
            return Err(QueryError::Refused(answer.error.unwrap_or(answer.status)));
        }
        Ok(answer
            .data
            .and_then(|d| d.result.into_iter().next())
            .map(|s| {
                s.values
                    .into_iter()
                    .filter_map(|(t, v)| {
                        v.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .map(|v| (t, v))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}
