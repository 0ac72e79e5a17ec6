//! The logs tail: one MongoDB poll per process, running only while a logs socket is open.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::push::{LogItem, PushMessage};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::logs::{uuid_v7_floor, LogStore};

/// How often the logs tail looks for new records.
pub const LOGS_POLL: Duration = Duration::from_millis(500);
/// The most logs one tail read (and one push) carries.
const TAIL_BATCH: u32 = 500;

/// The logs one poll found.
#[derive(Debug)]
pub struct LogsBatch {
    /// Newest first.
    pub items: Vec<LogItem>,
    /// True when the tail skipped records to keep up.
    pub gap: bool,
    /// The message for unfiltered sockets, serialized once for all of them.
    pub json: String,
}

/// Starts the tail when the first logs socket subscribes; the tail stops when the last leaves.
#[derive(Clone)]
pub struct LogsHub {
    inner: Arc<LogsHubInner>,
}

struct LogsHubInner {
    tx: broadcast::Sender<Arc<LogsBatch>>,
    /// Whether the tail task runs; taken with the receiver count so start and stop cannot race.
    running: Mutex<bool>,
    store: LogStore,
    shutdown: CancellationToken,
}

impl LogsHub {
    pub fn new(store: LogStore, shutdown: CancellationToken) -> Self {
        let (tx, _) = broadcast::channel(16);
        LogsHub {
            inner: Arc::new(LogsHubInner {
                tx,
                running: Mutex::new(false),
                store,
                shutdown,
            }),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogsBatch>> {
        let mut running = self.inner.running.lock().expect("not poisoned");
        let rx = self.inner.tx.subscribe();
        if !*running {
            *running = true;
            // Records with ids from now on are new; computed here, so a client whose socket is
            // open sees everything written after it connected.
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("the clock is after 1970")
                .as_millis() as u64;
            tokio::spawn(tail(self.inner.clone(), uuid_v7_floor(now_ms)));
        }
        rx
    }
}

async fn tail(hub: Arc<LogsHubInner>, mut last_seen: String) {
    let mut tick = tokio::time::interval(LOGS_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hub.shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        {
            let mut running = hub.running.lock().expect("not poisoned");
            if hub.tx.receiver_count() == 0 {
                *running = false;
                return;
            }
        }
        match hub.store.newest_after(&last_seen, TAIL_BATCH).await {
            Ok(items) if !items.is_empty() => {
                last_seen = items[0].id.clone();
                // A full batch may have skipped older new records; the page can re-read
                // /api/logs if it wants every one.
                let gap = items.len() == TAIL_BATCH as usize;
                let json = PushMessage::Logs {
                    items: items.clone(),
                    gap,
                }
                .to_json();
                let _ = hub.tx.send(Arc::new(LogsBatch { items, gap, json }));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "logs tail read failed"),
        }
    }
    *hub.running.lock().expect("not poisoned") = false;
}
