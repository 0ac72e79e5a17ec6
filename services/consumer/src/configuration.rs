//! The consumer pod's settings, from `USACTAR_*` variables: how a container reads Kafka and
//! batches (the same for both), and where it writes (each container its own).

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::config::{ConfigError, Env};

/// Which container of the consumer pod this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Group `logs` → MongoDB `usactar.logs`.
    LogsWriter,
    /// Group `live` → gRPC ApplyBatch → live-store.
    LiveForwarder,
}

impl Role {
    /// The process's name, as logs and the stack call it.
    pub fn name(self) -> &'static str {
        match self {
            Role::LogsWriter => "logs-writer",
            Role::LiveForwarder => "live-forwarder",
        }
    }

    fn default_group(self) -> &'static str {
        match self {
            Role::LogsWriter => "logs",
            Role::LiveForwarder => "live",
        }
    }

    fn default_admin_listen(self) -> SocketAddr {
        match self {
            Role::LogsWriter => ([127, 0, 0, 1], 9184).into(),
            Role::LiveForwarder => ([127, 0, 0, 1], 9185).into(),
        }
    }
}

/// A container's settings: Kafka and batching, then its downstream.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `USACTAR_KAFKA_BOOTSTRAP`, and `USACTAR_KAFKA_USERNAME` with `USACTAR_KAFKA_PASSWORD`
    /// ([`service_kit::config::kafka_access`]).
    pub kafka: kafka_access::KafkaAccess,
    /// `USACTAR_TOPIC`.
    pub topic: String,
    /// `USACTAR_DEAD_LETTER_TOPIC`: where records that can never be written go, with the
    /// reason in headers (`<topic>.dead-letters` unless set; created on first use).
    pub dead_letter_topic: String,
    /// `USACTAR_TOPIC_REPLICATION`: replicas of the dead-letter topic when this container
    /// creates it (1 locally; the cluster's factor, e.g. 3, on Kubernetes).
    pub topic_replication: i32,
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
    /// `USACTAR_KAFKA_CONFIG`: librdkafka properties over the consumer's own (tuning).
    pub kafka_overrides: Vec<(String, String)>,
    /// `USACTAR_ADMIN_LISTEN`: /metrics, /livez, /readyz.
    pub admin_listen: SocketAddr,
    pub downstream: Downstream,
}

/// Where a container writes.
#[derive(Debug, Clone)]
pub enum Downstream {
    MongoDb(MongoSettings),
    LiveStore(LiveStoreEndpoint),
}

impl Settings {
    pub fn from_env(env: &impl Env, role: Role) -> Result<Self, ConfigError> {
        let topic = env.string_or("USACTAR_TOPIC", "predictions");
        let topic_replication = env.parse_in("USACTAR_TOPIC_REPLICATION", 1, 1..=16)?;
        Ok(Settings {
            kafka: service_kit::config::kafka_access(env)?,
            dead_letter_topic: env.string_or(
                "USACTAR_DEAD_LETTER_TOPIC",
                &format!("{topic}.dead-letters"),
            ),
            topic_replication,
            topic,
            group: env.string_or("USACTAR_GROUP", role.default_group()),
            group_instance_id: env.get("USACTAR_GROUP_INSTANCE_ID"),
            // 0 would make every batch empty and spin the loop on a CPU (issue 15 L4).
            batch_max: env.parse_in("USACTAR_BATCH_MAX", 500, 1..=100_000)?,
            // Past 10 s one batch would keep the loop silent for a good part of /livez's limit.
            batch_wait: env.duration_in(
                "USACTAR_BATCH_WAIT",
                Duration::from_millis(20),
                Duration::ZERO..=Duration::from_secs(10),
            )?,
            kafka_overrides: service_kit::config::kafka_overrides(env)?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", role.default_admin_listen())?,
            downstream: match role {
                Role::LogsWriter => Downstream::MongoDb(MongoSettings::from_env(env)?),
                Role::LiveForwarder => Downstream::LiveStore(LiveStoreEndpoint::from_env(env)?),
            },
        })
    }
}

/// logs-writer's MongoDB.
#[derive(Debug, Clone)]
pub struct MongoSettings {
    /// `USACTAR_MONGO_URI`.
    pub uri: String,
    /// `USACTAR_MONGO_DB`.
    pub database: String,
    /// `USACTAR_MONGO_WRITE_DEADLINE`: longest one batch insert may take (1 s to 10 s) before it
    /// counts as failed and is retried.
    pub write_deadline: Duration,
    /// `USACTAR_FIXTURES`, as ingest reads it: the matches whose logs are also counted per
    /// filter of `/api/logs` (`consumer::log_totals`); none with `any`.
    pub fixtures: Option<std::sync::Arc<model::Fixtures>>,
}

impl MongoSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        // Above 10 s, a healthy loop could go silent longer than /livez allows.
        let write_deadline = env.duration_in(
            "USACTAR_MONGO_WRITE_DEADLINE",
            Duration::from_secs(10),
            Duration::from_millis(100)..=Duration::from_secs(10),
        )?;
        Ok(MongoSettings {
            uri: env.string_or(
                "USACTAR_MONGO_URI",
                "mongodb://127.0.0.1:27017/?directConnection=true",
            ),
            database: env.string_or("USACTAR_MONGO_DB", "usactar"),
            write_deadline,
            fixtures: service_kit::config::fixtures(env)?,
        })
    }
}

/// live-forwarder's live-store: where it is, and how long one call may take.
#[derive(Debug, Clone)]
pub struct LiveStoreEndpoint {
    /// `USACTAR_LIVE_STORE_URL`: live-store as seen from this cluster (the Linkerd mirror
    /// `live-store-<cluster>` on Kubernetes, the Toxiproxy link locally).
    pub url: String,
    /// `USACTAR_LIVE_STORE_DEADLINE`: the deadline of one ApplyBatch call.
    pub deadline: Duration,
}

impl LiveStoreEndpoint {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        // Above 30 s, a healthy loop could go silent longer than /livez allows.
        let deadline = env.duration_in(
            "USACTAR_LIVE_STORE_DEADLINE",
            Duration::from_secs(5),
            Duration::from_millis(100)..=Duration::from_secs(30),
        )?;
        Ok(LiveStoreEndpoint {
            url: env.string_or("USACTAR_LIVE_STORE_URL", "http://127.0.0.1:50052"),
            deadline,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn each_role_has_its_defaults() {
        let env: HashMap<&str, &str> = HashMap::new();
        let logs = Settings::from_env(&env, Role::LogsWriter).unwrap();
        assert_eq!(
            (logs.group.as_str(), logs.admin_listen.port()),
            ("logs", 9184)
        );
        assert!(matches!(logs.downstream, Downstream::MongoDb(ref m) if m.database == "usactar"));
        let live = Settings::from_env(&env, Role::LiveForwarder).unwrap();
        assert_eq!(
            (live.group.as_str(), live.admin_listen.port()),
            ("live", 9185)
        );
        assert!(
            matches!(live.downstream, Downstream::LiveStore(ref l) if l.url == "http://127.0.0.1:50052")
        );
    }

    /// Issue 15 L4: a batch limit of 0 made every batch empty, and the loop spun on a CPU.
    #[test]
    fn numbers_outside_their_range_stop_the_start() {
        for (key, value) in [
            ("USACTAR_BATCH_MAX", "0"),
            ("USACTAR_BATCH_WAIT", "1h"),
            ("USACTAR_TOPIC_REPLICATION", "0"),
            ("USACTAR_MONGO_WRITE_DEADLINE", "0s"),
        ] {
            let env: HashMap<&str, &str> = [(key, value)].into();
            let err = Settings::from_env(&env, Role::LogsWriter)
                .expect_err(&format!("{key}={value} accepted"))
                .to_string();
            assert!(err.contains(key) && err.contains("must be from"), "{err}");
        }
        let env: HashMap<&str, &str> = [("USACTAR_LIVE_STORE_DEADLINE", "0s")].into();
        assert!(Settings::from_env(&env, Role::LiveForwarder).is_err());
    }
}
