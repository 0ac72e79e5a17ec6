//! What the consumer's tests share: one real Kafka and FerretDB per test binary, a fresh topic
//! and group per test, records produced as ingest produces them, the group's committed offsets,
//! and a container started in-process.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::time::Duration;

use consumer::configuration::{Role, Settings};
use consumer::startup::Application;
use model::{Accepted, Prediction};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

pub use testkit::{eventually, unique};

pub const DEADLINE: Duration = Duration::from_secs(60);
pub const PARTITIONS: i32 = 2;

testkit::shared_stack!(pub fn shared_stack("kafka", "ferretdb"));

/// The broker, as its administrator (tests use topics and groups of their own).
pub fn kafka() -> &'static kafka_access::KafkaAccess {
    &shared_stack().kafka
}

pub fn mongo_uri() -> String {
    stack::local::mongo_uri(&shared_stack().ports)
}

/// A topic of the test's own, with [`PARTITIONS`] partitions.
pub async fn fresh_topic() -> String {
    let topic = unique("consumer");
    let admin: AdminClient<DefaultClientContext> =
        kafka().client().create().expect("an admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(
                &topic,
                PARTITIONS,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("the broker answers");
    for result in results {
        result.expect("the topic is created");
    }
    topic
}

/// `n` accepted predictions over four matches, as ingest would make them.
pub fn accepted(n: usize) -> Vec<Accepted> {
    (0..n)
        .map(|i| {
            Accepted::new(Prediction {
                team1: format!("Home {}", i % 4),
                team2: format!("Away {}", i % 4),
                score: format!("{}-{}", i % 3, i % 2),
                phase: (i % 4) as u8 + 1,
            })
        })
        .collect()
}

/// The id ingest gives a prediction sent with an `Idempotency-Key` (a UUIDv5; any one here): a
/// client's retry repeats it, so it may appear at two offsets. Without a key, ids are UUIDv7,
/// on the topic once.
pub fn keyed(id: uuid::Uuid) -> uuid::Uuid {
    let mut bytes = *id.as_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    let id = uuid::Uuid::from_bytes(bytes);
    assert_eq!(id.get_version_num(), 5);
    id
}

/// Produces `records` as ingest does (JSON, keyed by match) and waits for every acknowledgement.
pub async fn produce(topic: &str, records: &[Accepted]) {
    let producer: FutureProducer = kafka()
        .client()
        .set("acks", "all")
        .create()
        .expect("a producer");
    for record in records {
        let payload = serde_json::to_vec(record).unwrap();
        let key = record.match_key().id();
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .expect("Kafka acknowledges the record");
    }
}

/// The group's committed offset per partition (`None`: nothing committed), and the end of each
/// partition.
pub async fn offsets(topic: &str, group: &str) -> (Vec<Option<i64>>, Vec<i64>) {
    let (topic, group) = (topic.to_string(), group.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = kafka()
            .client()
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let mut partitions = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            partitions.add_partition(&topic, p);
        }
        let committed = consumer
            .committed_offsets(partitions, Duration::from_secs(10))
            .expect("the group coordinator answers");
        let committed = (0..PARTITIONS)
            .map(
                |p| match committed.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => Some(o),
                    _ => None,
                },
            )
            .collect();
        let ends = (0..PARTITIONS)
            .map(|p| {
                consumer
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .expect("the broker answers")
                    .1
            })
            .collect();
        (committed, ends)
    })
    .await
    .unwrap()
}

/// Waits until the group has committed the end of every partition.
pub async fn all_committed(topic: &str, group: &str) {
    eventually(DEADLINE, "the group commits every record", || async {
        let (committed, ends) = offsets(topic, group).await;
        // Nothing committed on an empty partition is all of it.
        let committed: Vec<i64> = committed.iter().map(|c| c.unwrap_or(0)).collect();
        (committed == ends)
            .then_some(())
            .ok_or(format!("committed {committed:?}, ends {ends:?}"))
    })
    .await;
}

/// A container running in-process.
pub struct Running {
    pub admin: String,
    pub group: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn readyz(&self) -> u16 {
        match reqwest::get(format!("{}/readyz", self.admin)).await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// Stops the container and waits until it has committed and returned.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the container stops")
            .expect("the task ends")
            .expect("the loop ends cleanly");
    }
}

/// Starts `role` on `topic` with a group of its own; `extra` adds or overrides variables.
pub async fn start(role: Role, topic: &str, extra: &[(&str, &str)]) -> Running {
    service_kit::telemetry::init_for_tests(role.name());
    let group = unique("group");
    let mut env: HashMap<&str, &str> = shared_stack().kafka_env().into_iter().collect();
    env.extend([
        ("USACTAR_ADMIN_LISTEN", "127.0.0.1:0"),
        ("USACTAR_TOPIC", topic),
        ("USACTAR_GROUP", group.as_str()),
    ]);
    env.extend(extra.iter().copied());
    let settings = Settings::from_env(&env, role).expect("valid settings");
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .expect("the container builds");
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    let task = tokio::spawn(app.run_until_stopped());
    Running {
        admin,
        group,
        shutdown,
        task,
    }
}

/// Produces one record as any producer could (no validation), keyed `key`, and waits for the
/// acknowledgement.
pub async fn produce_raw(topic: &str, key: &str, payload: &[u8]) {
    let producer: FutureProducer = kafka()
        .client()
        .set("acks", "all")
        .create()
        .expect("a producer");
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .expect("Kafka acknowledges the record");
}

/// A record read back from a topic: its value and its headers.
#[derive(Debug, Clone)]
pub struct Read {
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Reads `topic` from its beginning until `n` records are there (or the deadline passes).
pub async fn read_topic(topic: &str, n: usize) -> Vec<Read> {
    use rdkafka::consumer::StreamConsumer;
    use rdkafka::message::{Headers, Message};
    let consumer: StreamConsumer = kafka()
        .client()
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while out.len() < n {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} records on {topic}: {out:?}", out.len()));
        let Ok(message) = message else { continue };
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Read {
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    out
}

/// The value of one sample of `/metrics` (0 if absent).
pub async fn metric(admin: &str, sample: &str) -> f64 {
    let text = reqwest::get(format!("{admin}/metrics"))
        .await
        .expect("/metrics answers")
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}
