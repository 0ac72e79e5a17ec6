//! What the users record, and the summary made of it.
//!
//! Each goose user writes to its own shard (an uncontended mutex, a few tens of nanoseconds), so
//! recording never serialises the users. A collector drains the shards a few times a second into
//! per-second buckets and closes the buckets of past seconds into numbers, so memory stays
//! constant however long the run is.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds, up to an hour.
const MAX_MICROS: u64 = 3_600_000_000;

fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, sigfig).expect("valid histogram bounds")
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Status(u16),
    /// No HTTP answer: connection refused or reset, request timeout, …
    Error(ErrorKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Connect,
    Timeout,
    Other,
}

impl Answer {
    fn succeeded(self) -> bool {
        matches!(self, Answer::Status(s) if (200..300).contains(&s))
    }

    /// Key in `failed_by_status`.
    fn key(self) -> String {
        match self {
            Answer::Status(s) => s.to_string(),
            Answer::Error(ErrorKind::Connect) => "connect error".into(),
            Answer::Error(ErrorKind::Timeout) => "timeout".into(),
            Answer::Error(ErrorKind::Other) => "other error".into(),
        }
    }
}

/// One second's requests while they are still arriving.
struct Bucket {
    succeeded: u64,
    failed: u64,
    latency: Histogram<u64>,
}

impl Bucket {
    fn new() -> Self {
        // Two significant figures (1 %) is plenty for a per-second p99 and keeps a bucket ~20 KB.
        Self {
            succeeded: 0,
            failed: 0,
            latency: histogram(2),
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.latency
            .add(&other.latency)
            .expect("same histogram bounds");
    }
}

/// One answered request (kept only when the run asks for them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The goose user that sent it.
    pub user: u32,
    /// When it was sent and when its answer (or error) came, in seconds since the run's start.
    pub sent_s: f64,
    pub answered_s: f64,
    /// Answered 2xx.
    pub ok: bool,
}

#[derive(Default)]
struct Shard {
    requests: Vec<RequestRecord>,
    /// Seconds (since the start) not yet drained; usually one.
    seconds: BTreeMap<u64, Bucket>,
    /// Whole-run latencies at three significant figures.
    latency: Option<Histogram<u64>>,
    failed_by: BTreeMap<String, u64>,
}

/// One closed second of the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondStats {
    /// Seconds since the start of the run (0 is the first second).
    pub second: u64,
    /// Requests answered (or failed) during this second.
    pub requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// succeeded / requests, 1.0 for a second without requests.
    pub success_rate: f64,
    pub p50_ms: f64,
    /// The experiment kit's golden metrics include p95.
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Latency percentiles of a whole run, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Counters the progress display reads without locking.
#[derive(Default)]
pub(crate) struct Live {
    pub sent: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
}

pub(crate) struct Recorder {
    pub start: Instant,
    shards: Vec<Mutex<Shard>>,
    collected: Mutex<Collected>,
    pub live: Live,
    keep_requests: bool,
}

#[derive(Default)]
struct Collected {
    open: BTreeMap<u64, Bucket>,
    closed: BTreeMap<u64, SecondStats>,
}

impl Recorder {
    pub fn new(shards: usize, start: Instant, keep_requests: bool) -> Self {
        Self {
            start,
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            collected: Mutex::new(Collected::default()),
            live: Live::default(),
            keep_requests,
        }
    }

    /// The kept request records of every shard.
    pub fn take_requests(&self) -> Vec<RequestRecord> {
        let mut all = Vec::new();
        for shard in &self.shards {
            all.append(&mut shard.lock().expect("shard lock").requests);
        }
        all
    }

    pub fn sent(&self) {
        self.live.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one finished request, sent at `sent`; `shard` is the user's index.
    pub fn record(&self, shard: usize, sent: Instant, answer: Answer) {
        let now = Instant::now();
        let latency = now.duration_since(sent);
        let second = now.duration_since(self.start).as_secs();
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        let ok = answer.succeeded();
        {
            let mut s = self.shards[shard % self.shards.len()]
                .lock()
                .expect("shard lock");
            let bucket = s.seconds.entry(second).or_insert_with(Bucket::new);
            if ok {
                bucket.succeeded += 1;
            } else {
                bucket.failed += 1;
            }
            bucket.latency.saturating_record(micros);
            s.latency
                .get_or_insert_with(|| histogram(3))
                .saturating_record(micros);
            if !ok {
                *s.failed_by.entry(answer.key()).or_default() += 1;
            }
            if self.keep_requests {
                s.requests.push(RequestRecord {
                    user: shard as u32,
                    sent_s: sent.saturating_duration_since(self.start).as_secs_f64(),
                    answered_s: now.duration_since(self.start).as_secs_f64(),
                    ok,
                });
            }
        }
        let counter = if ok {
            &self.live.succeeded
        } else {
            &self.live.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Moves what the shards hold into the per-second buckets and closes the seconds that can no
    /// longer grow (older than the previous one: a request records the second it ends in, and
    /// the collector runs more often than once a second).
    pub fn collect(&self, all: bool) {
        let mut c = self.collected.lock().expect("collector lock");
        for shard in &self.shards {
            let drained = std::mem::take(&mut shard.lock().expect("shard lock").seconds);
            for (second, bucket) in drained {
                if let Some(closed) = c.closed.get_mut(&second) {
                    // A straggler for a closed second keeps the totals exact; its latency is
                    // left out of that second's percentiles.
                    closed.succeeded += bucket.succeeded;
                    closed.failed += bucket.failed;
                    closed.requests = closed.succeeded + closed.failed;
                    closed.success_rate = closed.succeeded as f64 / closed.requests as f64;
                    continue;
                }
                match c.open.get_mut(&second) {
                    Some(open) => open.merge(&bucket),
                    None => {
                        c.open.insert(second, bucket);
                    }
                }
            }
        }
        let now = self.start.elapsed().as_secs();
        let closable: Vec<u64> = c
            .open
            .keys()
            .copied()
            .filter(|&s| all || s + 1 < now)
            .collect();
        for second in closable {
            let b = c.open.remove(&second).expect("key just listed");
            let requests = b.succeeded + b.failed;
            c.closed.insert(
                second,
                SecondStats {
                    second,
                    requests,
                    succeeded: b.succeeded,
                    failed: b.failed,
                    success_rate: if requests == 0 {
                        1.0
                    } else {
                        b.succeeded as f64 / requests as f64
                    },
                    p50_ms: ms(b.latency.value_at_quantile(0.50)),
                    p95_ms: ms(b.latency.value_at_quantile(0.95)),
                    p99_ms: ms(b.latency.value_at_quantile(0.99)),
                },
            );
        }
    }

    /// The series with a row for every second up to `elapsed` (silent seconds included, so
    /// charts show stalls), whole-run latency and failures by kind.
    pub fn finish(&self, elapsed: Duration) -> (Vec<SecondStats>, Latency, BTreeMap<String, u64>) {
        self.collect(true);
        let c = self.collected.lock().expect("collector lock");
        let last = c
            .closed
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(elapsed.as_secs_f64().ceil() as u64)
            .max(1);
        let series = (0..last)
            .chain(c.closed.keys().copied().filter(|&s| s >= last))
            .map(|second| {
                c.closed.get(&second).cloned().unwrap_or(SecondStats {
                    second,
                    requests: 0,
                    succeeded: 0,
                    failed: 0,
                    success_rate: 1.0,
                    p50_ms: 0.0,
                    p95_ms: 0.0,
                    p99_ms: 0.0,
                })
            })
            .collect();
        let mut total = histogram(3);
        let mut failed_by = BTreeMap::new();
        for shard in &self.shards {
            let s = shard.lock().expect("shard lock");
            if let Some(h) = &s.latency {
                total.add(h).expect("same histogram bounds");
            }
            for (k, v) in &s.failed_by {
                *failed_by.entry(k.clone()).or_default() += v;
            }
        }
        let latency = if total.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50_ms: ms(total.value_at_quantile(0.50)),
                p90_ms: ms(total.value_at_quantile(0.90)),
                p99_ms: ms(total.value_at_quantile(0.99)),
                max_ms: ms(total.max()),
                mean_ms: total.mean() / 1000.0,
            }
        };
        (series, latency, failed_by)
    }
}
