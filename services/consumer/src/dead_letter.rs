//! The dead-letter topic: where a record goes when it can never be written, so that one bad
//! record does not stop its partition (issue 15 H3). The record is copied as it was read (key
//! and value, byte for byte) with headers that say why and where it came from; an operator can
//! read it, fix the cause and produce it again to the main topic.
//!
//! A dead letter is durable before the offset of its record is stored: the producer waits for
//! Kafka's acknowledgement (acks=all), and a failure is retried like a failed write downstream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_access::rebootstrap::BrokerWatch;
use prometheus::IntCounterVec;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use retry::Backoff;
use service_kit::admin::Heartbeat;
use service_kit::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;

/// Header names of a dead letter.
pub mod headers {
    /// Why: one of [`super::Reason::label`].
    pub const REASON: &str = "usactar-dead-letter-reason";
    /// The error in words (the decoder's, the rule's or the downstream's).
    pub const ERROR: &str = "usactar-dead-letter-error";
    /// The consumer group that gave up on the record (`logs` or `live`).
    pub const GROUP: &str = "usactar-dead-letter-group";
    pub const TOPIC: &str = "usactar-dead-letter-topic";
    pub const PARTITION: &str = "usactar-dead-letter-partition";
    pub const OFFSET: &str = "usactar-dead-letter-offset";
}

/// Why a record can never be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not an accepted prediction in JSON (or no value at all).
    Undecodable,
    /// Decodes, but breaks a rule of `model::validate` (a team with ':', a score "1:0"...).
    Invalid,
    /// The downstream refused it for what it holds (gRPC INVALID_ARGUMENT or OUT_OF_RANGE, a
    /// MongoDB write error other than a duplicate key), alone in its batch.
    Refused,
}

impl Reason {
    /// The header value and the metric label.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Undecodable => "undecodable",
            Reason::Invalid => "invalid",
            Reason::Refused => "refused",
        }
    }
}

/// A record as it was read from Kafka.
#[derive(Debug, Clone)]
pub struct Raw {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

/// A record that will never be written, and why.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub raw: Raw,
    pub reason: Reason,
    pub error: String,
}

pub struct DeadLetters {
    producer: FutureProducer<BrokerWatch>,
    /// The producer's brokers, from its statistics (see `kafka_access::rebootstrap`).
    brokers: BrokerWatch,
    kafka: kafka_access::KafkaAccess,
    /// The dead-letter topic, and the topic the records come from.
    topic: String,
    source_topic: String,
    group: String,
    replication: i32,
    topic_exists: AtomicBool,
    counted: IntCounterVec,
}

/// Longest wait for Kafka's acknowledgement of one dead letter.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

impl DeadLetters {
    pub fn new(settings: &Settings, metrics: &Metrics) -> Result<Self, KafkaError> {
        let mut config = settings.kafka.client();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            );
        let brokers = BrokerWatch::for_client(&mut config);
        let producer: FutureProducer<BrokerWatch> = config.create_with_context(brokers.clone())?;
        let counted = metrics.counter(
            "dead_letters_total",
            "Records put on the dead-letter topic instead of being written, by reason",
            &["reason"],
        );
        for reason in [Reason::Undecodable, Reason::Invalid, Reason::Refused] {
            // Present at 0 from the start, so a dashboard's rate() sees the first one.
            counted.with_label_values(&[reason.label()]);
        }
        Ok(DeadLetters {
            producer,
            brokers,
            kafka: settings.kafka.clone(),
            topic: settings.dead_letter_topic.clone(),
            source_topic: settings.topic.clone(),
            group: settings.group.clone(),
            replication: settings.topic_replication,
            topic_exists: AtomicBool::new(false),
            counted,
        })
    }

    /// A check of the producer's fatal error (librdkafka's: after one it can never deliver
    /// again), for [`service_kit::fatal::Fatal::watch`].
    pub fn fatal_check(&self) -> impl Fn() -> Option<String> + Send + 'static {
        let producer = self.producer.clone();
        move || kafka_access::fatal_error(producer.client())
    }

    /// Puts every letter on the dead-letter topic, in order, retrying with backoff while Kafka
    /// does not acknowledge. False if shutdown came first (the offsets are then not stored, and
    /// the records are read again).
    pub async fn send_all(
        &self,
        letters: &[DeadLetter],
        heartbeat: &Heartbeat,
        shutdown: &CancellationToken,
    ) -> bool {
        for letter in letters {
            tracing::error!(
                partition = letter.raw.partition,
                offset = letter.raw.offset,
                reason = letter.reason.label(),
                error = %letter.error,
                dead_letter_topic = %self.topic,
                "record can never be written; putting it on the dead-letter topic"
            );
            let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
            loop {
                heartbeat.beat();
                match self.send(letter).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "dead letter not acknowledged; retrying");
                        self.brokers.rebootstrap_if_lost(self.producer.client());
                        if !backoff.sleep_or_stop(shutdown).await {
                            return false;
                        }
                    }
                }
            }
            self.counted
                .with_label_values(&[letter.reason.label()])
                .inc();
        }
        true
    }

    async fn send(&self, letter: &DeadLetter) -> Result<(), String> {
        self.ensure_topic().await?;
        let (partition, offset) = (
            letter.raw.partition.to_string(),
            letter.raw.offset.to_string(),
        );
        let headers = [
            (headers::REASON, letter.reason.label()),
            (headers::ERROR, letter.error.as_str()),
            (headers::GROUP, self.group.as_str()),
            (headers::TOPIC, self.source_topic.as_str()),
            (headers::PARTITION, partition.as_str()),
            (headers::OFFSET, offset.as_str()),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value),
            })
        });
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = &letter.raw.key {
            record = record.key(key.as_slice());
        }
        if let Some(payload) = &letter.raw.payload {
            record = record.payload(payload.as_slice());
        }
        self.producer
            .send(record, DELIVERY_TIMEOUT)
            .await
            .map(drop)
            .map_err(|(e, _)| e.to_string())
    }

    /// Creates the dead-letter topic once (one partition: dead letters are rare and read by
    /// people), so it exists where brokers do not create topics on first use.
    async fn ensure_topic(&self) -> Result<(), String> {
        if self.topic_exists.load(Ordering::Relaxed) {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> =
            self.kafka.client().create().map_err(|e| e.to_string())?;
        let results = admin
            .create_topics(
                &[NewTopic::new(
                    &self.topic,
                    1,
                    TopicReplication::Fixed(self.replication),
                )],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .map_err(|e| e.to_string())?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(format!("creating {topic}: {code}")),
            }
        }
        self.topic_exists.store(true, Ordering::Relaxed);
        Ok(())
    }
}
