//! A run's vocabulary: what to send ([`RunConfig`]), how it went ([`Summary`], [`Progress`],
//! [`Outcome`]) and why it could not ([`Error`]). The run itself is `run.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::{Latency, RequestRecord, SecondStats};

/// What to send, where, how fast and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Where predictions are POSTed, e.g. `http://localhost:8080/input`.
    pub url: String,
    /// Simultaneous requests (goose users).
    pub concurrence: usize,
    /// Total requests: exactly this many are sent unless the run is stopped first.
    pub requests: u64,
    /// The run stops after this long, whatever is left.
    #[serde(with = "humantime_serde_secs")]
    pub timeout: Duration,
    /// Optional cap in requests per second, spread evenly (ticket k is sent no earlier than k/rate
    /// seconds after the first request).
    pub rate: Option<f64>,
    /// Keep one [`RequestRecord`] per answered request in [`Summary::requests`] (the experiment
    /// kit's sub-second and per-user measures need them; off by default: memory grows with n).
    #[serde(default)]
    pub keep_requests: bool,
    /// Predictions per request: 1 posts one object, N > 1 a JSON array of N (the data file
    /// cycled through), as a client batching its predictions would. A 2xx accepts all N.
    #[serde(default = "one")]
    pub batch: usize,
}

fn one() -> usize {
    1
}

impl RunConfig {
    pub fn new(
        url: impl Into<String>,
        concurrence: usize,
        requests: u64,
        timeout: Duration,
    ) -> Self {
        Self {
            url: url.into(),
            concurrence,
            requests,
            timeout,
            rate: None,
            keep_requests: false,
            batch: 1,
        }
    }
}

/// Durations in the config and summary are plain seconds, easy to read from any language.
mod humantime_serde_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// All n requests were sent and answered (successfully or not).
    Completed,
    /// The timeout stopped the run before n requests were done.
    TimedOut,
    /// Cancelled by the caller ([`RunHandle::cancel`]) or by Ctrl-C.
    Cancelled,
}

/// Everything a run measured; what the experiment kit reads (as JSON or as this struct).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub config: RunConfig,
    pub outcome: Outcome,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
    pub elapsed_secs: f64,
    /// Requests put on the wire (n when completed).
    pub sent: u64,
    /// Answered with 2xx.
    pub succeeded: u64,
    /// Answered otherwise, or failed without an answer.
    pub failed: u64,
    /// Sent but still unanswered when the run was stopped.
    pub unanswered: u64,
    /// Failures by HTTP status ("503") or by kind ("connect error", "timeout", "other error").
    pub failed_by_status: BTreeMap<String, u64>,
    /// Answered requests (succeeded + failed) per second of the run.
    pub requests_per_sec: f64,
    pub latency: Latency,
    /// One row per second of the run; its `requests` add up to succeeded + failed.
    pub series: Vec<SecondStats>,
    /// Every answered request, when [`RunConfig::keep_requests`] asked for them; in no order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestRecord>,
}

impl Summary {
    pub fn timed_out(&self) -> bool {
        self.outcome == Outcome::TimedOut
    }
}

/// A snapshot for progress displays, published a few times a second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub elapsed_secs: f64,
    pub requests: u64,
    pub sent: u64,
    pub succeeded: u64,
    pub failed: u64,
}

/// Why a run could not start or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot reach {url}: {reason}. Is the ingress running?")]
    Unreachable { url: String, reason: String },
    #[error("goose failed: {0}")]
    Goose(String),
    #[error("the run task panicked or was aborted: {0}")]
    Task(String),
}
