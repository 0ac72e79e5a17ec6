//! Ingest's settings, from `USACTAR_*` variables with defaults that run against the local stack.

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::config::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `USACTAR_LISTEN`: the API (behind the ingress).
    pub listen: SocketAddr,
    /// `USACTAR_ADMIN_LISTEN`: /metrics, /livez, /readyz.
    pub admin_listen: SocketAddr,
    /// `USACTAR_KAFKA_BOOTSTRAP`.
    pub kafka_bootstrap: String,
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
}

/// Documented limits (README and openapi.json say the same).
pub const DEFAULT_MAX_BATCH: usize = 1000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Settings {
            listen: env.parse_or("USACTAR_LISTEN", ([127, 0, 0, 1], 8081).into())?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", ([127, 0, 0, 1], 9181).into())?,
            kafka_bootstrap: env.string_or("USACTAR_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic: env.string_or("USACTAR_TOPIC", "predictions"),
            topic_partitions: env.parse_or("USACTAR_TOPIC_PARTITIONS", 6)?,
            max_batch: env.parse_or("USACTAR_MAX_BATCH", DEFAULT_MAX_BATCH)?,
            max_body_bytes: env.parse_or("USACTAR_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            delivery_timeout: env
                .duration_or("USACTAR_DELIVERY_TIMEOUT", Duration::from_secs(3))?,
        })
    }
}
