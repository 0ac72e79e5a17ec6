//! The loop both containers run: batch, write downstream until it succeeds, store offsets.
//!
//! Errors are of two kinds. A downstream that is down, slow or full ([`WriteError::Unavailable`])
//! is retried with backoff, for as long as it takes: nothing is skipped. A record that can never
//! be written (undecodable, breaking a rule, or refused by the downstream for what it holds) is
//! put on the dead-letter topic with the reason ([`crate::dead_letter`]) and the partition goes
//! on. When the downstream refuses a whole batch ([`WriteError::Refused`]), the batch is split in
//! halves until the records it refuses are alone; the others are written, in their order.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::time::{Duration, Instant};

use retry::Backoff;

use model::Accepted;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use service_kit::admin::{Heartbeat, Readiness};
use service_kit::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;
use crate::dead_letter::{DeadLetter, DeadLetters, Raw, Reason};
use crate::group::{GroupWatch, LagContext};
use kafka_access::rebootstrap::BrokerWatch;

/// One record of the topic, decoded and valid, with where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    pub raw: Raw,
    pub prediction: Accepted,
}

impl Record {
    /// A record at a Kafka position without its raw bytes (no key, no payload): for writers
    /// that make up positions, the benchmark's filler and the tests.
    pub fn at(partition: i32, offset: i64, prediction: Accepted) -> Self {
        Record {
            raw: Raw {
                partition,
                offset,
                key: None,
                payload: None,
            },
            prediction,
        }
    }

    pub fn partition(&self) -> i32 {
        self.raw.partition
    }
    pub fn offset(&self) -> i64 {
        self.raw.offset
    }
}

/// Why a write downstream failed, which decides what the loop does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The downstream cannot take writes now (down, slow, out of memory, not allowed): the same
    /// batch may pass later, so it is retried as it is.
    Unavailable(String),
    /// The downstream refused the batch for what it holds: some record of it can never be
    /// written. The loop splits the batch to find it.
    Refused(String),
    /// Those records (positions in the batch, with the reason) were refused for good; every
    /// other record of the batch is written.
    RefusedRecords(Vec<(usize, String)>),
}

/// A downstream that takes batches. `write` must be idempotent by prediction id: after a crash
/// the same batch (or part of it) is written again.
pub trait Sink: Send {
    /// What the golden metrics call this write, e.g. `mongodb:insert_many`.
    fn route(&self) -> &'static str;
    fn write(&mut self, batch: &[Record]) -> impl Future<Output = Result<(), WriteError>> + Send;
}

/// How often a loop waiting for records beats ([`Heartbeat`]).
const IDLE_BEAT: Duration = Duration::from_secs(1);

/// Longest a healthy loop goes without a beat: one write attempt (each sink bounds its own, at
/// most 10 s), one backoff sleep (at most 5 s) or one dead letter (10 s), with room to spare.
/// Past it `/livez` answers 503: the loop is wedged, and a restart is what helps.
pub const MAX_SILENCE: Duration = Duration::from_secs(60);

pub type PredictionConsumer = StreamConsumer<LagContext>;

/// A consumer of the group that stores offsets only when told to.
pub fn consumer(
    settings: &Settings,
    metrics: &Metrics,
    group: GroupWatch,
) -> Result<PredictionConsumer, KafkaError> {
    let lag = metrics.gauge(
        "consumer_lag",
        "Records on the topic that the group has not processed yet, by partition",
        &["topic", "partition"],
    );
    let mut client = settings.kafka.client();
    client
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
        // The broker holds a fetch until 32 KiB are there or 50 ms have passed, instead of
        // answering each as soon as one record is. Measured (bench/RESULTS.md, 2026-11-29): the
        // two groups sent 1,754 fetches/s for 962 records/s, and the broker spent 632 ms of CPU
        // per 1,000 records; with these, 294 ms, and 1,387 → 2,135 accepted/s at 10
        // simultaneous requests, for up to 50 ms more before a prediction is visible.
        .set("fetch.min.bytes", "32768")
        .set("fetch.wait.max.ms", "50")
        .set("statistics.interval.ms", "1000");
    if let Some(id) = &settings.group_instance_id {
        client.set("group.instance.id", id);
    }
    for (name, value) in &settings.kafka_overrides {
        client.set(name, value);
    }
    let brokers = BrokerWatch::for_client(&mut client);
    let consumer: PredictionConsumer =
        client.create_with_context(LagContext::new(lag, group, brokers))?;
    consumer.subscribe(&[&settings.topic])?;
    Ok(consumer)
}

/// Runs the loop until `shutdown`. On shutdown it finishes the batch in hand if its write
/// succeeds, stores its offsets, and commits synchronously before returning.
// Each argument is a separate collaborator the consumer's start-up builds and the loop hands on
// to the batch writer; a struct holding them would only rename them.
#[allow(clippy::too_many_arguments)]
pub async fn run<S: Sink>(
    consumer: PredictionConsumer,
    mut sink: S,
    dead_letters: DeadLetters,
    settings: &Settings,
    metrics: &Metrics,
    ready: Readiness,
    heartbeat: Heartbeat,
    shutdown: CancellationToken,
) {
    let consumed = metrics.counter(
        "kafka_consumed_total",
        "Records read from Kafka, by outcome: written downstream, or dead-lettered",
        &["outcome"],
    );
    ready.set(true);
    loop {
        let Some(batch) = next_batch(&consumer, settings, &heartbeat, &shutdown).await else {
            break;
        };
        if batch.records.is_empty() && batch.positions.is_empty() {
            continue;
        }
        let Some(refused) = write_isolating(
            &mut sink,
            &batch.records,
            metrics,
            &ready,
            &heartbeat,
            &shutdown,
        )
        .await
        else {
            tracing::info!(
                records = batch.records.len(),
                "stopping before the batch was written; it will be read again"
            );
            break;
        };
        let mut dead = batch.dead;
        let written = batch.records.len() - refused.len();
        dead.extend(refused.into_iter().map(|(i, error)| DeadLetter {
            raw: batch.records[i].raw.clone(),
            reason: Reason::Refused,
            error,
        }));
        // In offset order, as the records were read.
        dead.sort_by_key(|d| (d.raw.partition, d.raw.offset));
        if !dead_letters.send_all(&dead, &heartbeat, &shutdown).await {
            tracing::info!(
                "stopping before the dead letters were acknowledged; the batch will be read again"
            );
            break;
        }
        consumed
            .with_label_values(&["written"])
            .inc_by(written as u64);
        consumed
            .with_label_values(&["dead_letter"])
            .inc_by(dead.len() as u64);
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
    /// Records that can never be written: undecodable or invalid.
    dead: Vec<DeadLetter>,
    /// Highest offset seen per partition, dead letters included.
    positions: BTreeMap<i32, i64>,
}

/// Waits for one record, then takes more until the batch is full or `batch_wait` has passed.
/// `None` on shutdown.
async fn next_batch(
    consumer: &PredictionConsumer,
    settings: &Settings,
    heartbeat: &Heartbeat,
    shutdown: &CancellationToken,
) -> Option<Batch> {
    let mut batch = Batch {
        records: Vec::with_capacity(settings.batch_max),
        dead: Vec::new(),
        positions: BTreeMap::new(),
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    // librdkafka reconnects by itself; this only keeps a broker outage from spinning the loop.
    let mut errors = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    while batch.records.len() + batch.dead.len() < settings.batch_max {
        // Waiting counts as progress only while the consumer is in its group: out of it, no
        // record can come, and only a restart helps (see `group::MAX_OUT_OF_GROUP`).
        if consumer.context().in_group() {
            heartbeat.beat();
        }
        let received = match deadline {
            None => tokio::select! {
                _ = shutdown.cancelled() => return None,
                // Waiting for records is progress too: beat while the topic is quiet. A
                // consumer left with no broker at all waits here for ever (librdkafka#5301):
                // checked once a second, never on the path of a record.
                _ = tokio::time::sleep(IDLE_BEAT) => {
                    consumer.context().brokers.rebootstrap_if_lost(consumer.client());
                    continue;
                }
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
                // Errors may come faster than the idle beat: checked here too.
                consumer
                    .context()
                    .brokers
                    .rebootstrap_if_lost(consumer.client());
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
        let raw = Raw {
            partition,
            offset,
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
        };
        // Ingest writes only valid records, but any producer can write to the topic, and a rule
        // may be tightened during a rollout: such a record can never be processed, so it goes
        // to the dead-letter topic rather than blocking the partition.
        match check(raw.payload.as_deref()) {
            Ok(prediction) => batch.records.push(Record { raw, prediction }),
            Err((reason, error)) => batch.dead.push(DeadLetter { raw, reason, error }),
        }
    }
    if shutdown.is_cancelled() && batch.records.is_empty() && batch.dead.is_empty() {
        return None;
    }
    Some(batch)
}

/// The prediction in a record's value, if it decodes and follows the rules.
fn check(payload: Option<&[u8]>) -> Result<Accepted, (Reason, String)> {
    let payload = payload.ok_or((Reason::Undecodable, "the record has no value".to_string()))?;
    let accepted: Accepted =
        serde_json::from_slice(payload).map_err(|e| (Reason::Undecodable, e.to_string()))?;
    model::validate(&accepted.prediction()).map_err(|e| (Reason::Invalid, e.to_string()))?;
    Ok(accepted)
}

/// Writes `records` in order, isolating those the downstream refuses for good: a refused batch
/// is split in halves, depth first and left to right, so the records that are written go in
/// their offset order. Returns the refused records (positions and reasons), or `None` if
/// shutdown came first.
async fn write_isolating<S: Sink>(
    sink: &mut S,
    records: &[Record],
    metrics: &Metrics,
    ready: &Readiness,
    heartbeat: &Heartbeat,
    shutdown: &CancellationToken,
) -> Option<Vec<(usize, String)>> {
    let mut refused = Vec::new();
    // Ranges still to write: the whole batch first, then the halves of any refused range.
    let mut pending: Vec<Range<usize>> = Vec::with_capacity(1);
    pending.push(0..records.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        match write_until_done(
            sink,
            &records[range.clone()],
            metrics,
            ready,
            heartbeat,
            shutdown,
        )
        .await
        {
            Outcome::Stopped => return None,
            Outcome::Written => {}
            Outcome::Refused(reasons) => {
                refused.extend(reasons.into_iter().map(|(i, e)| (range.start + i, e)))
            }
            Outcome::BatchRefused(error) if range.len() == 1 => refused.push((range.start, error)),
            Outcome::BatchRefused(error) => {
                tracing::warn!(records = range.len(), %error, "downstream refused the batch; splitting it to find the record at fault");
                let middle = range.start + range.len() / 2;
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
        }
    }
    refused.sort();
    Some(refused)
}

enum Outcome {
    Written,
    /// These records (positions in the batch) were refused; the rest is written.
    Refused(Vec<(usize, String)>),
    BatchRefused(String),
    Stopped,
}

/// Writes until the sink answers for good: written, or refused for what the batch holds. While
/// it is unavailable, retries with backoff doubling from 100 ms to 5 s, and readiness is false.
async fn write_until_done<S: Sink>(
    sink: &mut S,
    records: &[Record],
    metrics: &Metrics,
    ready: &Readiness,
    heartbeat: &Heartbeat,
    shutdown: &CancellationToken,
) -> Outcome {
    if records.is_empty() {
        return Outcome::Written;
    }
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut attempt = 0u32;
    loop {
        heartbeat.beat();
        attempt += 1;
        let started = Instant::now();
        let result = tokio::select! {
            r = sink.write(records) => r,
            // A write in flight when the pod is told to stop still gets a moment to finish.
            _ = async { shutdown.cancelled().await; tokio::time::sleep(Duration::from_secs(5)).await } => {
                return Outcome::Stopped;
            }
        };
        let outcome = match result {
            Ok(()) => Outcome::Written,
            Err(WriteError::Refused(e)) => Outcome::BatchRefused(e),
            Err(WriteError::RefusedRecords(r)) => Outcome::Refused(r),
            Err(WriteError::Unavailable(e)) => {
                metrics.observe(sink.route(), "error", started);
                ready.set(false);
                tracing::warn!(attempt, error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "downstream write failed; offsets not stored");
                if !backoff.sleep_or_stop(shutdown).await {
                    return Outcome::Stopped;
                }
                continue;
            }
        };
        // Written or refused: either way the downstream answered.
        let status = if matches!(outcome, Outcome::Written) {
            "ok"
        } else {
            "refused"
        };
        metrics.observe(sink.route(), status, started);
        if !ready.get() {
            tracing::info!(attempt, "downstream accepts writes again");
        }
        ready.set(true);
        return outcome;
    }
}
