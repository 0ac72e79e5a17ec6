//! librdkafka's re-bootstrap, done by hand, for a client that has lost every broker.
//!
//! Why: librdkafka 2.10 and later drop every broker a Metadata answer does not list. A lone
//! KRaft broker lists none while it shuts down and while it is fenced at start-up, so a client
//! that asks then (a race of about a second) is left with no broker at all. librdkafka is meant
//! to re-bootstrap then, but its timer starts only with a Metadata request, and with no broker it
//! sends none: the client waits for ever (confluentinc/librdkafka#5301, open; the fix, #5303,
//! is not released). Seen on the sandbox cluster after a broker kill, locally after broker
//! pauses, and in CI after the pipeline test's 15 s Kafka stop (MongoDB got nothing for 2
//! minutes after Kafka was back).
//!
//! What: [`BrokerWatch`] reads the client's statistics (every `statistics.interval.ms`); when
//! they have listed no broker to ask for [`LOST_BEFORE_REBOOTSTRAP`], [`BrokerWatch::rebootstrap_if_lost`]
//! adds the bootstrap servers back (`rd_kafka_brokers_add`, what librdkafka's own re-bootstrap
//! does), and the client connects and asks again at once. A broker that is only down (a real
//! outage) stays listed, so an outage causes no re-bootstrap.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientConfig, ClientContext};

/// How long a client may list no broker before its bootstrap servers are added back: longer
/// than the moment between dropping a broker and learning it again from the next answer.
pub const LOST_BEFORE_REBOOTSTRAP: Duration = Duration::from_secs(3);

/// Least time between two re-bootstraps of one client (each one adds a list to librdkafka's
/// memory of extra bootstrap lists).
pub const REBOOTSTRAP_EVERY: Duration = Duration::from_secs(10);

/// What a client's statistics say about its brokers. Cloning shares it; as a client's context
/// (for producers and admin clients), it reads the statistics itself.
#[derive(Clone, Debug)]
pub struct BrokerWatch(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The client's `bootstrap.servers`, given back when it has lost every broker.
    bootstrap: String,
    /// When the statistics last listed a broker the client can ask (learned from Metadata, or
    /// configured as a bootstrap server).
    last_listed: Mutex<Instant>,
    last_rebootstrap: Mutex<Option<Instant>>,
    rebootstraps: AtomicU64,
}

impl BrokerWatch {
    /// The watch of the client `config` will make: its bootstrap servers, and statistics every
    /// second unless the configuration asks for them already (the watch reads nothing else).
    /// A client just created counts as having brokers: its first statistics come later.
    pub fn for_client(config: &mut ClientConfig) -> Self {
        if config.get("statistics.interval.ms").is_none() {
            // A report of a few kilobytes a second.
            config.set("statistics.interval.ms", "1000");
        }
        BrokerWatch(Arc::new(Inner {
            bootstrap: config
                .get("bootstrap.servers")
                .unwrap_or_default()
                .to_string(),
            last_listed: Mutex::new(Instant::now()),
            last_rebootstrap: Mutex::new(None),
            rebootstraps: AtomicU64::new(0),
        }))
    }

    /// Reads one statistics report (call it from the context's `stats`).
    pub fn observe(&self, statistics: &Statistics) {
        if lists_a_broker(statistics) {
            *self.0.last_listed.lock().unwrap() = Instant::now();
        }
    }

    /// How long the statistics have listed no broker to ask.
    pub fn lost_for(&self) -> Duration {
        self.0.last_listed.lock().unwrap().elapsed()
    }

    /// Re-bootstraps done so far.
    pub fn rebootstraps(&self) -> u64 {
        self.0.rebootstraps.load(Ordering::Relaxed)
    }

    /// Adds the bootstrap servers back to `client` (the one this watch was made for) if it has
    /// listed no broker for [`LOST_BEFORE_REBOOTSTRAP`], at most every [`REBOOTSTRAP_EVERY`].
    /// True if it did. Cheap: call it whenever the client seems stuck.
    pub fn rebootstrap_if_lost<C: ClientContext>(&self, client: &Client<C>) -> bool {
        let lost_for = self.lost_for();
        if lost_for < LOST_BEFORE_REBOOTSTRAP {
            return false;
        }
        {
            let mut last = self.0.last_rebootstrap.lock().unwrap();
            if last.is_some_and(|t| t.elapsed() < REBOOTSTRAP_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let bootstrap = self.0.bootstrap.as_str();
        let added = add_brokers(client, bootstrap);
        self.0.rebootstraps.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            lost_for_ms = lost_for.as_millis() as u64,
            bootstrap,
            added,
            "Kafka client knew no broker (librdkafka#5301); added the bootstrap servers back"
        );
        true
    }
}

impl ClientContext for BrokerWatch {
    fn stats(&self, statistics: Statistics) {
        self.observe(&statistics);
    }
}

/// Whether the client knows a broker it can ask for metadata: one learned from a Metadata
/// answer or configured as a bootstrap server (not the group coordinator's logical handle,
/// which has no address of its own, nor the internal one).
fn lists_a_broker(statistics: &Statistics) -> bool {
    statistics
        .brokers
        .values()
        .any(|b| matches!(b.source.as_str(), "learned" | "configured"))
}

/// `rd_kafka_brokers_add`: the brokers of `list` become bootstrap brokers of `client` (one
/// already there with the same address is kept). The number added.
fn add_brokers<C: ClientContext>(client: &Client<C>, list: &str) -> i32 {
    let Ok(list) = CString::new(list) else {
        return 0;
    };
    // Safety: the client's handle lives as long as `client`; librdkafka copies the string and
    // takes its own locks (the function may be called from any thread).
    #[allow(unsafe_code)]
    unsafe {
        rd::rd_kafka_brokers_add(client.native_ptr(), list.as_ptr())
    }
}
