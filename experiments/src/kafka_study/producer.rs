//! The producer on its own: ingest's settings (acks=all, idempotence, lz4) against a topic of the
//! study's, with the batching delay (`linger.ms`) and the records in flight varied, so the cost
//! of each setting is a measured number.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use kafka_access::KafkaAccess;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::util::Timeout;
use rdkafka::ClientContext;
use serde::{Deserialize, Serialize};

use super::stats::{closed_loop, LoopResult};

/// How a study producer acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acks {
    /// ingest's: every in-sync replica, idempotent (no duplicates on retry).
    AllIdempotent,
    /// The leader only, no idempotence: what durability would save, if anything.
    Leader,
}

/// One cell of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProduceCell {
    pub linger_ms: u32,
    pub acks: Acks,
    /// Closed loop: each record waits for its acknowledgement before the next is sent.
    pub result: LoopResult,
    /// Records per Produce request: librdkafka's messages sent over its Produce requests.
    pub records_per_request: Option<f64>,
    pub produce_requests: i64,
    /// From librdkafka's 0.5 s windows: records and bytes (after lz4) per partition batch,
    /// averaged over the windows weighted by their batches; the broker's round trip (p50/p99,
    /// ms) of the window with the most requests.
    pub batch_records_avg: Option<f64>,
    pub batch_bytes_avg: Option<f64>,
    pub broker_rtt_p50_ms: Option<f64>,
    pub broker_rtt_p99_ms: Option<f64>,
}

/// Keeps every statistics report librdkafka emits (one per 0.5 s): its windows (batch sizes,
/// round trips) cover only the interval before each report.
#[derive(Clone, Default)]
struct StatsLog(Arc<Mutex<Vec<Statistics>>>);

impl ClientContext for StatsLog {
    fn stats(&self, statistics: Statistics) {
        self.0.lock().expect("stats").push(statistics);
    }
}

/// Creates the study's topic with as many partitions as `predictions` has.
pub async fn create_topic(kafka: &KafkaAccess, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka.client().create()?;
    for r in admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await?
    {
        r.map_err(|(t, code)| anyhow::anyhow!("creating topic {t}: {code}"))?;
    }
    Ok(())
}

pub async fn delete_topic(kafka: &KafkaAccess, topic: &str) {
    let admin: Result<AdminClient<DefaultClientContext>, _> = kafka.client().create();
    if let Ok(admin) = admin {
        let _ = admin.delete_topics(&[topic], &AdminOptions::new()).await;
    }
}

/// Produces `payloads` (key, value) round-robin for `duration` with `in_flight` records awaiting
/// their acknowledgement at any time.
pub async fn cell(
    kafka: &KafkaAccess,
    topic: &str,
    payloads: Arc<Vec<(String, Vec<u8>)>>,
    linger_ms: u32,
    acks: Acks,
    in_flight: usize,
    duration: Duration,
) -> Result<ProduceCell> {
    let stats = StatsLog::default();
    let mut config = kafka.client();
    config
        .set("linger.ms", linger_ms.to_string())
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "5000")
        .set("statistics.interval.ms", "500");
    match acks {
        Acks::AllIdempotent => config.set("acks", "all").set("enable.idempotence", "true"),
        Acks::Leader => config.set("acks", "1").set("enable.idempotence", "false"),
    };
    let producer: FutureProducer<StatsLog> = config
        .create_with_context(stats.clone())
        .context("creating a study producer")?;
    // The first record pays for the connection and the metadata; it is not a sample.
    let (key, value) = &payloads[0];
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(value),
            Timeout::After(Duration::from_secs(10)),
        )
        .await
        .map_err(|(e, _)| anyhow::anyhow!("the first study record was not acknowledged: {e}"))?;

    let topic_name: Arc<str> = topic.into();
    let sender = producer.clone();
    let result = closed_loop(in_flight, duration, move |i| {
        let (producer, topic, payloads) = (sender.clone(), topic_name.clone(), payloads.clone());
        async move {
            let (key, value) = &payloads[i as usize % payloads.len()];
            producer
                .send(
                    FutureRecord::to(&topic).key(key).payload(value),
                    Timeout::Never,
                )
                .await
                .is_ok()
        }
    })
    .await;
    // One more statistics interval, so the counters include the loop's last requests.
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(producer);
    let log = std::mem::take(&mut *stats.0.lock().expect("stats"));
    // Counters are totals since the producer started (the first record included).
    let (messages, produce_requests) = log.last().map_or((0, 0), |s| {
        let requests = s
            .brokers
            .values()
            .filter(|b| b.nodeid >= 0)
            .map(|b| b.req.get("Produce").copied().unwrap_or(0))
            .sum::<i64>();
        (s.txmsgs, requests)
    });
    let windows: Vec<_> = log
        .iter()
        .filter_map(|s| s.topics.get(topic))
        .filter(|t| t.batchcnt.cnt > 0)
        .collect();
    let batches: i64 = windows.iter().map(|t| t.batchcnt.cnt).sum();
    let weighted = |avg: fn(&rdkafka::statistics::Topic) -> i64| {
        (batches > 0).then(|| {
            windows
                .iter()
                .map(|t| avg(t) as f64 * t.batchcnt.cnt as f64)
                .sum::<f64>()
                / batches as f64
        })
    };
    let busiest_rtt = log
        .iter()
        .flat_map(|s| s.brokers.values().filter(|b| b.nodeid >= 0))
        .filter_map(|b| b.rtt.as_ref())
        .filter(|w| w.cnt > 0)
        .max_by_key(|w| w.cnt);
    Ok(ProduceCell {
        linger_ms,
        acks,
        result,
        records_per_request: (produce_requests > 0)
            .then(|| messages as f64 / produce_requests as f64),
        produce_requests,
        batch_records_avg: weighted(|t| t.batchcnt.avg),
        batch_bytes_avg: weighted(|t| t.batchsize.avg),
        // librdkafka reports round trips in microseconds.
        broker_rtt_p50_ms: busiest_rtt.map(|w| w.p50 as f64 / 1000.0),
        broker_rtt_p99_ms: busiest_rtt.map(|w| w.p99 as f64 / 1000.0),
    })
}
