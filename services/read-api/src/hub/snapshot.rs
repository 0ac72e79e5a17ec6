//! The live snapshots the sockets start from, shared: one Redis read per filter serves every
//! socket that asks while it runs and for [`SNAPSHOT_FRESH`] after it started, until the hub
//! flushes a change. The read runs in its own task, so a socket that stops waiting (its pump
//! woke for an inbound frame and will ask again) neither cancels it nor starts another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use model::push::LiveView;
use prometheus::IntCounter;
use tokio::time::Instant;

use crate::error::AppError;
use crate::filter::MatchFilter;
use crate::live::LiveReader;

/// How long a finished read stays good when no change is announced; bounds the staleness of a
/// snapshot when Redis is written without a notice (the hub's coalescing delay is the same).
pub const SNAPSHOT_FRESH: Duration = Duration::from_millis(250);
/// Distinct filters cached at once; past it, finished reads are dropped first.
const MAX_ENTRIES: usize = 256;

type Read = Shared<BoxFuture<'static, Result<Arc<LiveView>, AppError>>>;

struct Entry {
    generation: u64,
    started: Instant,
    read: Read,
}

#[derive(Default)]
struct Cache {
    /// Bumped by every flushed change: reads started before it may miss the change.
    generation: u64,
    entries: HashMap<MatchFilter, Entry>,
}

#[derive(Clone)]
pub struct Snapshots {
    reader: LiveReader,
    cache: Arc<Mutex<Cache>>,
    /// `usactar_live_snapshot_reads_total`: full snapshot reads sent to Redis.
    reads: IntCounter,
}

impl Snapshots {
    pub fn new(reader: LiveReader, reads: IntCounter) -> Self {
        Snapshots {
            reader,
            cache: Arc::default(),
            reads,
        }
    }

    /// The current snapshot for `filter`, read or joined. Cancel safe.
    pub async fn get(&self, filter: &MatchFilter) -> Result<Arc<LiveView>, AppError> {
        let read = {
            let mut cache = self.cache.lock().expect("not poisoned");
            let generation = cache.generation;
            let reusable = cache.entries.get(filter).is_some_and(|e| {
                e.generation == generation
                    && match e.read.peek() {
                        None => true,
                        Some(Ok(_)) => e.started.elapsed() < SNAPSHOT_FRESH,
                        Some(Err(_)) => false,
                    }
            });
            if reusable {
                cache.entries[filter].read.clone()
            } else {
                if cache.entries.len() >= MAX_ENTRIES {
                    cache.entries.retain(|_, e| e.read.peek().is_none());
                }
                let read = self.start(filter.clone());
                if cache.entries.len() < MAX_ENTRIES {
                    let entry = Entry {
                        generation,
                        started: Instant::now(),
                        read: read.clone(),
                    };
                    cache.entries.insert(filter.clone(), entry);
                }
                read
            }
        };
        read.await
    }

    fn start(&self, filter: MatchFilter) -> Read {
        self.reads.inc();
        let reader = self.reader.clone();
        let task = tokio::spawn(async move { reader.snapshot(&filter).await.map(Arc::new) });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(AppError::Unavailable {
                    backend: "redis",
                    detail: format!("the snapshot read stopped: {e}"),
                })
            })
        }
        .boxed()
        .shared()
    }

    /// A change was flushed (or may have been missed): reads from now on start afresh. Called
    /// before the change is broadcast, so a socket that subscribed too late for the broadcast
    /// cannot get a snapshot older than it.
    pub fn invalidate(&self) {
        let mut cache = self.cache.lock().expect("not poisoned");
        cache.generation += 1;
        cache.entries.clear();
    }
}
