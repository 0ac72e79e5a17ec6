//! Consumer lag as the broker knows it: each group's committed offsets against the partitions'
//! end offsets, read through the admin side of the protocol (OffsetFetch, ListOffsets). It
//! keeps measuring while a consumer is dead, unlike the lag a consumer reports about itself.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_access::KafkaAccess;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// One reading of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagSample {
    /// Seconds since the sampler's clock started.
    pub t: f64,
    /// Records written to the topic and not yet committed by the group; `None` when the broker
    /// did not answer (not measured).
    pub lag: Option<i64>,
    /// The sum of the group's committed offsets: it stops moving while the group is stalled.
    pub committed: Option<i64>,
}

/// Reads the committed offsets of `group` without joining it. The one broker-side lag reader:
/// the kit's samplers (`kit::sampler`) use it too.
///
/// A client that got no answer [`REBUILD_AFTER`] times in a row is replaced by a new one: in one
/// broker-pause run (reports/broker-pause/20261130T024431Z) the client never answered again
/// after the broker was continued, and the whole recovery went unmeasured, while in the run
/// before it the same reader recovered within a second.
pub struct GroupLag {
    topic: String,
    group: String,
    kafka: KafkaAccess,
    consumer: Mutex<BaseConsumer>,
    missed: AtomicU32,
    timeout: Duration,
}

/// Misses in a row after which a reader's client is replaced.
const REBUILD_AFTER: u32 = 5;

fn client(kafka: &KafkaAccess, group: &str) -> anyhow::Result<BaseConsumer> {
    Ok(kafka
        .client()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        // A dead or paused broker is what some runs measure: its errors are the data
        // (`None`), not log lines.
        .set_log_level(RDKafkaLogLevel::Emerg)
        .create()?)
}

impl GroupLag {
    pub fn new(kafka: &KafkaAccess, topic: &str, group: &str) -> anyhow::Result<Self> {
        Ok(GroupLag {
            topic: topic.to_string(),
            group: group.to_string(),
            kafka: kafka.clone(),
            consumer: Mutex::new(client(kafka, group)?),
            missed: AtomicU32::new(0),
            timeout: Duration::from_millis(1000),
        })
    }

    /// How long each call to the broker may block (1 s unless set).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// (lag, committed sum), blocking for at most `timeout` per call to the broker.
    pub fn read(&self) -> Option<(i64, i64)> {
        let mut consumer = self.consumer.lock().expect("lag client");
        let reading = self.read_with(&consumer);
        if reading.is_some() {
            self.missed.store(0, Ordering::Relaxed);
        } else if self.missed.fetch_add(1, Ordering::Relaxed) + 1 >= REBUILD_AFTER {
            if let Ok(fresh) = client(&self.kafka, &self.group) {
                // Closing a client may wait on the broker that is not answering: elsewhere.
                let old = std::mem::replace(&mut *consumer, fresh);
                std::thread::spawn(move || drop(old));
            }
            self.missed.store(0, Ordering::Relaxed);
        }
        reading
    }

    fn read_with(&self, consumer: &BaseConsumer) -> Option<(i64, i64)> {
        let timeout = self.timeout;
        let metadata = consumer
            .fetch_metadata(Some(self.topic.as_str()), timeout)
            .ok()?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.topic)?
            .partitions()
            .iter()
            .map(|p| p.id())
            .collect();
        if partitions.is_empty() {
            return None;
        }
        let mut list = TopicPartitionList::new();
        for p in &partitions {
            list.add_partition(&self.topic, *p);
        }
        let committed = consumer.committed_offsets(list, timeout).ok()?;
        let (mut lag, mut sum) = (0i64, 0i64);
        for p in partitions {
            let (low, high) = consumer.fetch_watermarks(&self.topic, p, timeout).ok()?;
            let at = match committed.find_partition(&self.topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                // Nothing committed yet: the group starts from the earliest record.
                _ => low,
            };
            lag += (high - at).max(0);
            sum += at;
        }
        Some((lag, sum))
    }
}

/// Samples groups every `period` until stopped.
pub struct LagSampler {
    samples: Arc<Mutex<BTreeMap<String, Vec<LagSample>>>>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LagSampler {
    pub fn start(
        kafka: &KafkaAccess,
        topic: &str,
        groups: &[&str],
        period: Duration,
        clock: Instant,
    ) -> anyhow::Result<Self> {
        let samples = Arc::new(Mutex::new(BTreeMap::new()));
        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        for group in groups {
            let reader = GroupLag::new(kafka, topic, group)?;
            let (samples, cancel, group) = (samples.clone(), cancel.clone(), group.to_string());
            tasks.push(tokio::task::spawn_blocking(move || {
                while !cancel.is_cancelled() {
                    let begin = Instant::now();
                    let reading = reader.read();
                    let sample = LagSample {
                        t: clock.elapsed().as_secs_f64(),
                        lag: reading.map(|r| r.0),
                        committed: reading.map(|r| r.1),
                    };
                    samples
                        .lock()
                        .expect("lag samples")
                        .entry(group.clone())
                        .or_insert_with(Vec::new)
                        .push(sample);
                    std::thread::sleep(period.saturating_sub(begin.elapsed()));
                }
            }));
        }
        Ok(LagSampler {
            samples,
            cancel,
            tasks,
        })
    }

    /// The samples so far, per group.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<LagSample>> {
        self.samples.lock().expect("lag samples").clone()
    }

    pub async fn stop(self) -> BTreeMap<String, Vec<LagSample>> {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        let samples = self.samples.lock().expect("lag samples").clone();
        samples
    }
}

/// Waits until every group's lag is zero (or `timeout`); true when it got there.
pub async fn wait_drained(readers: Arc<Vec<GroupLag>>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let r = readers.clone();
        let drained =
            tokio::task::spawn_blocking(move || r.iter().all(|g| matches!(g.read(), Some((0, _)))))
                .await
                .unwrap_or(false);
        if drained {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}
