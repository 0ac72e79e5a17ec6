//! Settings shared by both binaries, and each one's own, from `USACTAR_*` variables.

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::config::{ConfigError, Env};

/// How a binary reads Kafka and batches.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `USACTAR_KAFKA_BOOTSTRAP`.
    pub kafka_bootstrap: String,
    /// `USACTAR_TOPIC`.
    pub topic: String,
    /// `USACTAR_GROUP`: `logs` for logs-writer, `live` for live-forwarder.
    pub group: String,
    /// `USACTAR_GROUP_INSTANCE_ID`: static membership (KIP-345), off unless set. Not used by the
    /// local stack or the manifests: a static member could not rejoin after the broker restarted
    /// (seen here in the Kafka outage test, and reported upstream in confluent-kafka-go #494).
    pub group_instance_id: Option<String>,
    /// `USACTAR_BATCH_MAX`: most records in one downstream write.
    pub batch_max: usize,
    /// `USACTAR_BATCH_WAIT`: longest wait for a batch to fill once it has one record.
    pub batch_wait: Duration,
    /// `USACTAR_ADMIN_LISTEN`: /metrics, /livez, /readyz.
    pub admin_listen: SocketAddr,
}

impl ConsumerConfig {
    pub fn from_env(
        env: &impl Env,
        default_group: &str,
        default_admin: SocketAddr,
    ) -> Result<Self, ConfigError> {
        Ok(ConsumerConfig {
            kafka_bootstrap: env.string_or("USACTAR_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic: env.string_or("USACTAR_TOPIC", "predictions"),
            group: env.string_or("USACTAR_GROUP", default_group),
            group_instance_id: env.get("USACTAR_GROUP_INSTANCE_ID"),
            batch_max: env.parse_or("USACTAR_BATCH_MAX", 500)?,
            batch_wait: env.duration_or("USACTAR_BATCH_WAIT", Duration::from_millis(20))?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", default_admin)?,
        })
    }
}

/// logs-writer's MongoDB settings.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    /// `USACTAR_MONGO_URI`.
    pub uri: String,
    /// `USACTAR_MONGO_DB`.
    pub database: String,
}

impl MongoConfig {
    pub fn from_env(env: &impl Env) -> Self {
        MongoConfig {
            uri: env.string_or(
                "USACTAR_MONGO_URI",
                "mongodb://127.0.0.1:27017/?directConnection=true",
            ),
            database: env.string_or("USACTAR_MONGO_DB", "usactar"),
        }
    }
}

/// live-forwarder's gRPC settings.
#[derive(Debug, Clone)]
pub struct LiveStoreConfig {
    /// `USACTAR_LIVE_STORE_URL`: live-store as seen from this cluster (the Linkerd mirror
    /// `live-store-<cluster>` on Kubernetes, the Toxiproxy link locally).
    pub url: String,
    /// `USACTAR_LIVE_STORE_DEADLINE`: the deadline of one ApplyBatch call.
    pub deadline: Duration,
}

impl LiveStoreConfig {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(LiveStoreConfig {
            url: env.string_or("USACTAR_LIVE_STORE_URL", "http://127.0.0.1:50052"),
            deadline: env.duration_or("USACTAR_LIVE_STORE_DEADLINE", Duration::from_secs(5))?,
        })
    }
}
