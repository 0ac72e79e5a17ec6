//! Ingest's settings, from `USACTAR_*` variables with defaults that run against the local stack.
//!
//! Every number is range-checked at start: a value outside its range stops ingest with a message
//! naming the variable, instead of running in a broken way (a batch limit of 0 refuses
//! everything, a delivery timeout of 0 means "wait forever" to librdkafka).

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use std::sync::Arc;

use model::Fixtures;
use service_kit::config::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `USACTAR_LISTEN`: the API (behind the ingress).
    pub listen: SocketAddr,
    /// `USACTAR_ADMIN_LISTEN`: /metrics, /livez, /readyz.
    pub admin_listen: SocketAddr,
    /// `USACTAR_KAFKA_BOOTSTRAP`, and `USACTAR_KAFKA_USERNAME` with `USACTAR_KAFKA_PASSWORD`
    /// ([`service_kit::config::kafka_access`]).
    pub kafka: kafka_access::KafkaAccess,
    /// `USACTAR_TOPIC`.
    pub topic: String,
    /// `USACTAR_TOPIC_PARTITIONS`: used when ingest creates the topic.
    pub topic_partitions: i32,
    /// `USACTAR_MAX_BATCH`: most predictions in one request.
    pub max_batch: usize,
    /// `USACTAR_MAX_BODY_BYTES`: largest request body.
    pub max_body_bytes: usize,
    /// `USACTAR_DELIVERY_TIMEOUT`: how long a record may wait for Kafka's acknowledgement before
    /// the request fails with 503. Bounds every answer's time when Kafka is down.
    pub delivery_timeout: Duration,
    /// `USACTAR_KAFKA_CONFIG`: librdkafka properties over the producer's own (tuning; never
    /// `acks` or idempotence).
    pub kafka_overrides: Vec<(String, String)>,
    /// `USACTAR_MAX_CONCURRENT_REQUESTS`: `POST /input` requests handled at once; more get 503
    /// with `Retry-After` at once (never queued), so a flood cannot pile up memory.
    pub max_concurrent_requests: usize,
    /// `USACTAR_MAX_INFLIGHT_BODY_BYTES`: the sum of the bodies (their declared length, or
    /// `max_body_bytes` when undeclared) of the requests handled at once; over it, 503 at once.
    /// This is what bounds memory: a request costs about 2-3 times its body at its peak.
    pub max_inflight_body_bytes: usize,
    /// `USACTAR_FIXTURES`: the matches a prediction may name ([`service_kit::config::fixtures`]);
    /// `None` (the value `any`) takes any pair of valid team names.
    pub fixtures: Option<Arc<Fixtures>>,
    /// `USACTAR_TOPIC_REPLICATION`: replicas of the topic when ingest creates it (1 locally:
    /// one broker; the cluster's factor, e.g. 3, on Kubernetes). Issue 15 M6.
    pub topic_replication: i32,
    /// `USACTAR_SHUTDOWN_DELAY`: after SIGTERM, how long to answer unready while still serving.
    pub shutdown_delay: Duration,
}

/// Documented limits (README and openapi.json say the same).
pub const DEFAULT_MAX_BATCH: usize = 1000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Enough for any load the experiments drive (single predictions take a few ms each).
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;
/// 32 bodies of 1 MiB at once: about 100 MiB at the peak, inside the pod's 256 Mi.
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 32 * 1024 * 1024;

const MAX_BATCH: RangeInclusive<usize> = 1..=100_000;
const MAX_BODY_BYTES: RangeInclusive<usize> = 64..=64 * 1024 * 1024;
const DELIVERY_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(300);
const TOPIC_PARTITIONS: RangeInclusive<i32> = 1..=10_000;
const TOPIC_REPLICATION: RangeInclusive<i32> = 1..=16;
const MAX_CONCURRENT_REQUESTS: RangeInclusive<usize> = 1..=1_000_000;
const MAX_INFLIGHT_BODY_BYTES: RangeInclusive<usize> = 64..=16 * 1024 * 1024 * 1024;

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let max_body_bytes = env.parse_in(
            "USACTAR_MAX_BODY_BYTES",
            DEFAULT_MAX_BODY_BYTES,
            MAX_BODY_BYTES,
        )?;
        let max_inflight_body_bytes = env.parse_in(
            "USACTAR_MAX_INFLIGHT_BODY_BYTES",
            DEFAULT_MAX_INFLIGHT_BODY_BYTES.max(max_body_bytes),
            MAX_INFLIGHT_BODY_BYTES,
        )?;
        if max_inflight_body_bytes < max_body_bytes {
            // A body of the largest allowed size could never be taken.
            return Err(invalid(
                env,
                "USACTAR_MAX_INFLIGHT_BODY_BYTES",
                format!("must be at least USACTAR_MAX_BODY_BYTES ({max_body_bytes})"),
            ));
        }
        let kafka = service_kit::config::kafka_access(env)?;
        let topic = env.string_or("USACTAR_TOPIC", "predictions");
        if topic.trim().is_empty() {
            return Err(invalid(env, "USACTAR_TOPIC", "must not be empty"));
        }
        Ok(Settings {
            listen: env.parse_or("USACTAR_LISTEN", ([127, 0, 0, 1], 8081).into())?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", ([127, 0, 0, 1], 9181).into())?,
            kafka,
            topic,
            topic_partitions: env.parse_in("USACTAR_TOPIC_PARTITIONS", 6, TOPIC_PARTITIONS)?,
            max_batch: env.parse_in("USACTAR_MAX_BATCH", DEFAULT_MAX_BATCH, MAX_BATCH)?,
            max_body_bytes,
            delivery_timeout: env.duration_in(
                "USACTAR_DELIVERY_TIMEOUT",
                Duration::from_secs(3),
                DELIVERY_TIMEOUT,
            )?,
            kafka_overrides: service_kit::config::kafka_overrides(env)?,
            max_concurrent_requests: env.parse_in(
                "USACTAR_MAX_CONCURRENT_REQUESTS",
                DEFAULT_MAX_CONCURRENT_REQUESTS,
                MAX_CONCURRENT_REQUESTS,
            )?,
            max_inflight_body_bytes,
            fixtures: service_kit::config::fixtures(env)?,
            topic_replication: env.parse_in("USACTAR_TOPIC_REPLICATION", 1, TOPIC_REPLICATION)?,
            shutdown_delay: service_kit::shutdown::delay_from_env(env)?,
        })
    }
}

fn invalid(env: &impl Env, key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        value: env.get(key).unwrap_or_default(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        Settings::from_env(&env)
    }

    #[test]
    fn defaults_are_valid() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.max_batch, DEFAULT_MAX_BATCH);
        assert_eq!(s.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(s.delivery_timeout, Duration::from_secs(3));
        assert_eq!(s.max_concurrent_requests, DEFAULT_MAX_CONCURRENT_REQUESTS);
        assert_eq!(s.max_inflight_body_bytes, DEFAULT_MAX_INFLIGHT_BODY_BYTES);
    }

    #[test]
    fn values_out_of_range_are_refused_naming_the_variable() {
        for (key, value) in [
            ("USACTAR_MAX_BATCH", "0"),
            ("USACTAR_MAX_BATCH", "100001"),
            ("USACTAR_MAX_BODY_BYTES", "0"),
            ("USACTAR_MAX_BODY_BYTES", "1000000000000"),
            ("USACTAR_DELIVERY_TIMEOUT", "0s"),
            ("USACTAR_DELIVERY_TIMEOUT", "1h"),
            ("USACTAR_TOPIC_PARTITIONS", "0"),
            ("USACTAR_TOPIC_PARTITIONS", "-3"),
            ("USACTAR_MAX_CONCURRENT_REQUESTS", "0"),
            ("USACTAR_MAX_INFLIGHT_BODY_BYTES", "1000"),
            ("USACTAR_TOPIC", " "),
            ("USACTAR_KAFKA_BOOTSTRAP", ""),
            ("USACTAR_MAX_BATCH", "ten"),
            ("USACTAR_TOPIC_REPLICATION", "0"),
            ("USACTAR_FIXTURES", "/nonexistent/fixtures.json"),
        ] {
            let err = settings(&[(key, value)])
                .expect_err(&format!("{key}={value} accepted"))
                .to_string();
            assert!(err.contains(key), "{key}={value}: {err}");
            assert!(err.contains(&format!("{value:?}")), "{key}={value}: {err}");
        }
    }

    #[test]
    fn values_in_range_are_taken() {
        let s = settings(&[
            ("USACTAR_MAX_BATCH", "1"),
            ("USACTAR_MAX_BODY_BYTES", "4096"),
            ("USACTAR_DELIVERY_TIMEOUT", "250ms"),
            ("USACTAR_MAX_CONCURRENT_REQUESTS", "8"),
            ("USACTAR_MAX_INFLIGHT_BODY_BYTES", "8192"),
        ])
        .unwrap();
        assert_eq!(
            (
                s.max_batch,
                s.max_body_bytes,
                s.delivery_timeout,
                s.max_concurrent_requests,
                s.max_inflight_body_bytes
            ),
            (1, 4096, Duration::from_millis(250), 8, 8192)
        );
        // A body limit over the default in-flight budget raises the budget's default with it.
        let s = settings(&[("USACTAR_MAX_BODY_BYTES", "50000000")]).unwrap();
        assert_eq!(s.max_inflight_body_bytes, 50_000_000);
    }
}
