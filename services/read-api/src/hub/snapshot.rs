//! Reads shared between callers ([`SharedReads`]): the live snapshots the sockets start from
//! ([`Snapshots`]: one Redis read per filter serves every socket that asks while it runs and for
//! [`SNAPSHOT_FRESH`] after it started, until the hub flushes a change), and `/api/stats`. The
//! read runs in its own task, so a caller that stops waiting (a socket's pump woke for an
//! inbound frame and will ask again) neither cancels it nor starts another.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
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
/// Distinct keys cached at once; past it, finished reads are dropped first.
const MAX_ENTRIES: usize = 256;

type Read<V> = Shared<BoxFuture<'static, Result<Arc<V>, AppError>>>;

struct Entry<V> {
    generation: u64,
    started: Instant,
    read: Read<V>,
}

struct Cache<K, V> {
    /// Bumped by every flushed change: reads started before it may miss the change.
    generation: u64,
    entries: HashMap<K, Entry<V>>,
}

/// Reads shared between every caller that asks for the same key while one runs and for
/// `fresh` after it started, until [`SharedReads::invalidate`]. A failed read is never reused.
pub struct SharedReads<K, V> {
    cache: Arc<Mutex<Cache<K, V>>>,
    fresh: Duration,
    /// Reads actually sent to the store.
    reads: IntCounter,
}

impl<K, V> Clone for SharedReads<K, V> {
    fn clone(&self) -> Self {
        SharedReads {
            cache: self.cache.clone(),
            fresh: self.fresh,
            reads: self.reads.clone(),
        }
    }
}

impl<K, V> SharedReads<K, V>
where
    K: Hash + Eq + Clone,
    V: Send + Sync + 'static,
{
    pub fn new(fresh: Duration, reads: IntCounter) -> Self {
        SharedReads {
            cache: Arc::new(Mutex::new(Cache {
                generation: 0,
                entries: HashMap::new(),
            })),
            fresh,
            reads,
        }
    }

    /// The value for `key`: joined if a read is running or fresh, else `read()` started in a
    /// task of its own. Cancel safe.
    pub async fn get<F, Fut>(&self, key: &K, read: F) -> Result<Arc<V>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, AppError>> + Send + 'static,
    {
        let shared = {
            let mut cache = self.cache.lock().expect("not poisoned");
            let generation = cache.generation;
            let reusable = cache.entries.get(key).is_some_and(|e| {
                e.generation == generation
                    && match e.read.peek() {
                        None => true,
                        Some(Ok(_)) => e.started.elapsed() < self.fresh,
                        Some(Err(_)) => false,
                    }
            });
            if reusable {
                cache.entries[key].read.clone()
            } else {
                if cache.entries.len() >= MAX_ENTRIES {
                    cache.entries.retain(|_, e| e.read.peek().is_none());
                }
                let shared = self.start(read());
                if cache.entries.len() < MAX_ENTRIES {
                    let entry = Entry {
                        generation,
                        started: Instant::now(),
                        read: shared.clone(),
                    };
                    cache.entries.insert(key.clone(), entry);
                }
                shared
            }
        };
        shared.await
    }

    fn start<Fut>(&self, read: Fut) -> Read<V>
    where
        Fut: Future<Output = Result<V, AppError>> + Send + 'static,
    {
        self.reads.inc();
        // In a task of its own: a caller that stops waiting neither cancels it nor starts another.
        let task = tokio::spawn(async move { read.await.map(Arc::new) });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(AppError::Unavailable {
                    backend: "store",
                    detail: format!("the shared read stopped: {e}"),
                })
            })
        }
        .boxed()
        .shared()
    }

    /// A change was flushed (or may have been missed): reads from now on start afresh.
    pub fn invalidate(&self) {
        let mut cache = self.cache.lock().expect("not poisoned");
        cache.generation += 1;
        cache.entries.clear();
    }
}

/// The live snapshots, by filter.
#[derive(Clone)]
pub struct Snapshots {
    reader: LiveReader,
    shared: SharedReads<MatchFilter, LiveView>,
}

impl Snapshots {
    pub fn new(reader: LiveReader, reads: IntCounter) -> Self {
        Snapshots {
            reader,
            shared: SharedReads::new(SNAPSHOT_FRESH, reads),
        }
    }

    /// The current snapshot for `filter`, read or joined. Cancel safe.
    pub async fn get(&self, filter: &MatchFilter) -> Result<Arc<LiveView>, AppError> {
        let (reader, owned) = (self.reader.clone(), filter.clone());
        self.shared
            .get(filter, || async move { reader.snapshot(&owned).await })
            .await
    }

    /// A change was flushed (or may have been missed): reads from now on start afresh. Called
    /// before the change is broadcast, so a socket that subscribed too late for the broadcast
    /// cannot get a snapshot older than it.
    pub fn invalidate(&self) {
        self.shared.invalidate();
    }
}
