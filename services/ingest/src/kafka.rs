//! The one long-lived Kafka producer, and a health check that lets ingest refuse quickly (503)
//! while the broker is unreachable instead of making every client wait for a timeout.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use kafka_access::rebootstrap::BrokerWatch;
use kafka_access::KafkaAccess;
use model::Accepted;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _, PurgeConfig};
use service_kit::admin::Heartbeat;
use service_kit::readiness::{self, Every, Readiness};
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;

/// Longest ingest goes without one metadata answer from Kafka before `/livez` fails and the
/// kubelet restarts it. Measured on the sandbox clusters (issue 12): after the single broker was
/// killed, librdkafka 2.12 dropped every broker from a metadata answer given during the
/// broker's restart (confluentinc/librdkafka#5301) and never connected again, so ingest stayed
/// unready with Kafka back. A new producer connects at once. The cost: during a real Kafka
/// outage longer than this, ingest (unready anyway) restarts every 2 minutes or so. Since
/// `kafka_access::rebootstrap` gives a producer with no broker its bootstrap servers back
/// within seconds (in [`Kafka::watch_health`]), this is the last resort for a stall of another
/// kind.
pub const MAX_WITHOUT_KAFKA: Duration = Duration::from_secs(120);

/// Why records could not be put on Kafka; every case is a 503 for the client.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("Kafka is unreachable")]
    Unavailable,
    #[error("Kafka did not acknowledge within {0:?}: {1}")]
    NotAcknowledged(Duration, String),
}

#[derive(Clone)]
pub struct Kafka {
    producer: FutureProducer<BrokerWatch>,
    /// The producer's brokers, from its statistics (see `kafka_access::rebootstrap`).
    brokers: BrokerWatch,
    topic: Arc<str>,
    timeout: Duration,
    /// Set by the health check; shared with /readyz.
    pub up: Readiness,
}

impl Kafka {
    pub fn new(settings: &Settings) -> Result<Self, KafkaError> {
        let mut config = settings.kafka.client();
        config
            // 202 means durable: every in-sync replica has it, and retries cannot duplicate it.
            .set("acks", "all")
            .set("enable.idempotence", "true")
            // Send at once: every request waits for its acknowledgement, so a linger is paid by
            // every client. Measured (bench/RESULTS.md, 2026-11-29): 2 ms → 0 took the seed's
            // command (10 simultaneous, 10,000 requests) from 2,206 to 3,308 requests/s (p50
            // 3.8 → 2.2 ms), with the same throughput at 32 simultaneous (5,165 → 5,065/s).
            // Concurrent requests still share produce requests: librdkafka batches what is
            // queued while the previous request is in flight.
            .set("linger.ms", "0")
            .set("compression.type", "lz4")
            .set(
                "message.timeout.ms",
                settings.delivery_timeout.as_millis().to_string(),
            )
            .set("queue.buffering.max.messages", "500000");
        for (name, value) in &settings.kafka_overrides {
            config.set(name, value);
        }
        let brokers = BrokerWatch::for_client(&mut config);
        let producer: FutureProducer<BrokerWatch> = config.create_with_context(brokers.clone())?;
        Ok(Kafka {
            producer,
            brokers,
            topic: settings.topic.as_str().into(),
            timeout: settings.delivery_timeout,
            up: Readiness::default(),
        })
    }

    /// Produces every record and waits until Kafka acknowledged all of them (or one failed).
    pub async fn produce(&self, records: &[Accepted]) -> Result<(), ProduceError> {
        if !self.up.get() {
            return Err(ProduceError::Unavailable);
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for record in records {
            let payload = serde_json::to_vec(record).expect("a record serializes");
            let key = record.match_key().id();
            let future = self
                .producer
                .send_result(FutureRecord::to(&self.topic).key(&key).payload(&payload))
                .map_err(|(e, _)| ProduceError::NotAcknowledged(self.timeout, e.to_string()))?;
            deliveries.push(future);
        }
        // message.timeout.ms bounds each delivery; this outer bound only guards against a bug.
        let all = tokio::time::timeout(self.timeout + Duration::from_secs(2), join_all(deliveries))
            .await
            .map_err(|_| ProduceError::NotAcknowledged(self.timeout, "timed out".into()))?;
        for delivery in all {
            match delivery {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    return Err(ProduceError::NotAcknowledged(self.timeout, e.to_string()))
                }
                Err(_) => {
                    return Err(ProduceError::NotAcknowledged(
                        self.timeout,
                        "the producer dropped the record".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Creates the topic if it does not exist, with `replication` replicas.
    pub async fn ensure_topic(
        &self,
        kafka: &KafkaAccess,
        partitions: i32,
        replication: i32,
    ) -> Result<(), KafkaError> {
        let admin: AdminClient<DefaultClientContext> = kafka.client().create()?;
        let results = admin
            .create_topics(
                &[NewTopic::new(
                    &self.topic,
                    partitions,
                    TopicReplication::Fixed(replication),
                )],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                        tracing::error!(topic, ?code, "could not create the topic")
                    })
                }
            }
        }
        Ok(())
    }

    /// Checks that the broker answers a metadata request for the topic, every second while it
    /// does and every 250 ms while it does not, and keeps `up` in step; each answer beats
    /// `alive` (see [`MAX_WITHOUT_KAFKA`]). Runs until `shutdown`.
    pub fn watch_health(&self, shutdown: CancellationToken, alive: Heartbeat) {
        let kafka = self.clone();
        let every = Every {
            when_ready: Duration::from_secs(1),
            when_not_ready: Duration::from_millis(250),
        };
        readiness::watch("kafka", self.up.clone(), every, shutdown, move || {
            let kafka = kafka.clone();
            let alive = alive.clone();
            async move {
                let producer = kafka.producer.clone();
                let topic = kafka.topic.clone();
                let answer = tokio::task::spawn_blocking(move || {
                    producer
                        .client()
                        .fetch_metadata(Some(&topic), Duration::from_millis(900))
                        .map_err(|e| e.to_string())
                        .and_then(|m| {
                            (!m.brokers().is_empty())
                                .then_some(())
                                .ok_or_else(|| "no broker in the metadata".to_string())
                        })
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                if answer.is_ok() {
                    alive.beat();
                }
                if answer.is_err() {
                    // Refuse new predictions at once (503), before the purge below.
                    kafka.up.set(false);
                    // A producer left with no broker at all never asks again (librdkafka#5301).
                    kafka.brokers.rebootstrap_if_lost(kafka.producer.client());
                    // Records still queued for a broker that is gone would wait out their
                    // timeout; purge them so their requests get 503 now. Queued records were
                    // never sent, so a 503 for them is definite: none can land later. (Records
                    // already in flight are left to librdkafka; they may have been written.)
                    let producer = kafka.producer.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        producer.purge(PurgeConfig::default().queue())
                    })
                    .await;
                }
                answer
            }
        });
    }

    /// librdkafka's fatal error, if the producer has had one: then it can never deliver again
    /// (see [`service_kit::fatal`]).
    pub fn fatal_error(&self) -> Option<String> {
        kafka_access::fatal_error(self.producer.client())
    }

    /// Waits until every queued record is delivered or `timeout` passes.
    pub async fn flush(&self, timeout: Duration) {
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
    }
}
