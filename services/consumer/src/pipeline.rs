//! The loop both containers run: batch, write downstream until it succeeds, store offsets.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use retry::Backoff;

use model::Accepted;
use prometheus::{IntCounterVec, IntGaugeVec};
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientConfig, ClientContext};
use service_kit::admin::Readiness;
use service_kit::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;

/// One record of the topic, decoded, with where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub prediction: Accepted,
}

/// A downstream that takes batches. `write` must be idempotent by prediction id: after a crash
/// the same batch (or part of it) is written again.
pub trait Sink: Send {
    /// What the golden metrics call this write, e.g. `mongodb:insert_many`.
    fn route(&self) -> &'static str;
    fn write(&mut self, batch: &[Record]) -> impl Future<Output = Result<(), String>> + Send;
}

/// Keeps the consumer-lag gauge from librdkafka's statistics (every second): no extra requests.
pub struct LagContext {
    lag: IntGaugeVec,
}

impl ClientContext for LagContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                // -1 means unknown (not assigned, or no committed offset yet).
                if *partition >= 0 && p.consumer_lag >= 0 {
                    self.lag
                        .with_label_values(&[topic, &partition.to_string()])
                        .set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for LagContext {}

pub type PredictionConsumer = StreamConsumer<LagContext>;

/// A consumer of the group that stores offsets only when told to.
pub fn consumer(settings: &Settings, metrics: &Metrics) -> Result<PredictionConsumer, KafkaError> {
    let lag = metrics.gauge(
        "consumer_lag",
        "Records on the topic that the group has not processed yet, by partition",
        &["topic", "partition"],
    );
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &settings.kafka_bootstrap)
        .set("group.id", &settings.group)
        .set("auto.offset.reset", "earliest")
        // Commit in the background what the loop stored, and only what it stored: an offset is
        // stored after the downstream write succeeded, never on receipt.
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("enable.auto.offset.store", "false")
        // The broker's minimum: a killed container's partitions move to its replacement after
        // at most 6 s.
        .set("session.timeout.ms", "6000")
        .set("statistics.interval.ms", "1000");
    if let Some(id) = &settings.group_instance_id {
        client.set("group.instance.id", id);
    }
    let consumer: PredictionConsumer = client.create_with_context(LagContext { lag })?;
    consumer.subscribe(&[&settings.topic])?;
    Ok(consumer)
}

/// Runs the loop until `shutdown`. On shutdown it finishes the batch in hand if its write
/// succeeds, stores its offsets, and commits synchronously before returning.
pub async fn run<S: Sink>(
    consumer: PredictionConsumer,
    mut sink: S,
    settings: &Settings,
    metrics: &Metrics,
    ready: Readiness,
    shutdown: CancellationToken,
) {
    let consumed = metrics.counter(
        "kafka_consumed_total",
        "Records read from Kafka, by outcome: written downstream, or undecodable (skipped)",
        &["outcome"],
    );
    ready.set(true);
    loop {
        let Some(batch) = next_batch(&consumer, settings, &consumed, &shutdown).await else {
            break;
        };
        if batch.records.is_empty() && batch.positions.is_empty() {
            continue;
        }
        if !write_until_done(&mut sink, &batch.records, metrics, &ready, &shutdown).await {
            tracing::info!(
                records = batch.records.len(),
                "stopping before the batch was written; it will be read again"
            );
            break;
        }
        consumed
            .with_label_values(&["written"])
            .inc_by(batch.records.len() as u64);
        for (partition, offset) in &batch.positions {
            if let Err(e) = consumer.store_offset(&settings.topic, *partition, *offset) {
                // The partition was revoked meanwhile; its new owner reads the batch again,
                // which the sink's idempotence makes harmless.
                tracing::warn!(partition, offset, error = %e, "could not store the offset");
            }
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        // NoOffset: nothing was stored since the last auto-commit.
        tracing::debug!(error = %e, "final commit");
    }
    tracing::info!("consumer stopped; offsets committed");
}

struct Batch {
    records: Vec<Record>,
    /// Highest offset seen per partition, undecodable records included.
    positions: BTreeMap<i32, i64>,
}

/// Waits for one record, then takes more until the batch is full or `batch_wait` has passed.
/// `None` on shutdown.
async fn next_batch(
    consumer: &PredictionConsumer,
    settings: &Settings,
    consumed: &IntCounterVec,
    shutdown: &CancellationToken,
) -> Option<Batch> {
    let mut batch = Batch {
        records: Vec::with_capacity(settings.batch_max),
        positions: BTreeMap::new(),
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    // librdkafka reconnects by itself; this only keeps a broker outage from spinning the loop.
    let mut errors = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    while batch.records.len() < settings.batch_max {
        let received = match deadline {
            None => tokio::select! {
                _ = shutdown.cancelled() => return None,
                m = consumer.recv() => m,
            },
            Some(d) => tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(d) => break,
                m = consumer.recv() => m,
            },
        };
        let message = match received {
            Ok(m) => {
                errors.reset();
                m
            }
            Err(e) => {
                tracing::warn!(error = %e, "Kafka consumer error");
                if !errors.sleep_or_stop(shutdown).await {
                    break;
                }
                continue;
            }
        };
        deadline.get_or_insert_with(|| tokio::time::Instant::now() + settings.batch_wait);
        let (partition, offset) = (message.partition(), message.offset());
        let position = batch.positions.entry(partition).or_insert(offset);
        *position = (*position).max(offset);
        match message.payload().map(serde_json::from_slice::<Accepted>) {
            Some(Ok(prediction)) => batch.records.push(Record {
                partition,
                offset,
                prediction,
            }),
            // Ingest writes only valid records; something else on the topic can never be
            // processed, so it is counted and skipped rather than blocking the partition.
            other => {
                consumed.with_label_values(&["undecodable"]).inc();
                tracing::error!(partition, offset, error = ?other.map(|r| r.err()), "undecodable record skipped");
            }
        }
    }
    if shutdown.is_cancelled() && batch.records.is_empty() {
        return None;
    }
    Some(batch)
}

/// Writes until the sink succeeds (true) or shutdown comes first (false). Backoff doubles from
/// 100 ms to 5 s; readiness is false while the downstream refuses.
async fn write_until_done<S: Sink>(
    sink: &mut S,
    records: &[Record],
    metrics: &Metrics,
    ready: &Readiness,
    shutdown: &CancellationToken,
) -> bool {
    if records.is_empty() {
        return true;
    }
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let started = Instant::now();
        let result = tokio::select! {
            r = sink.write(records) => r,
            // A write in flight when the pod is told to stop still gets a moment to finish.
            _ = async { shutdown.cancelled().await; tokio::time::sleep(Duration::from_secs(5)).await } => {
                return false;
            }
        };
        match result {
            Ok(()) => {
                metrics.observe(sink.route(), "ok", started);
                if !ready.get() {
                    tracing::info!(attempt, "downstream accepts writes again");
                }
                ready.set(true);
                return true;
            }
            Err(e) => {
                metrics.observe(sink.route(), "error", started);
                ready.set(false);
                tracing::warn!(attempt, error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "downstream write failed; offsets not stored");
                if !backoff.sleep_or_stop(shutdown).await {
                    return false;
                }
            }
        }
    }
}
