//! The logs tail: one MongoDB poll per process, running only while a logs socket is open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use model::push::{LogItem, PushMessage};
use mongodb::bson::DateTime;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::logs::LogStore;

/// How often the logs tail looks for new records.
pub const LOGS_POLL: Duration = Duration::from_millis(500);
/// The most logs one tail read (and one push) carries.
const TAIL_BATCH: u32 = 500;
/// How far back each poll looks again, behind the newest write seen (issue 15 M3): a record
/// written up to this long after a newer one (a consumer's retry, a write in flight for up to
/// logs-writer's 10 s deadline, clocks of two logs-writers apart) is still pushed, once.
pub const LATE_MARGIN: Duration = Duration::from_secs(15);

/// The logs one poll found.
#[derive(Debug)]
pub struct LogsBatch {
    /// Newest first.
    pub items: Vec<LogItem>,
    /// True when the tail skipped records to keep up.
    pub gap: bool,
    /// The message for unfiltered sockets, serialized once for all of them.
    pub json: Utf8Bytes,
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
            // Records written from now on are new; computed here, so a client whose socket is
            // open sees everything written after it connected.
            let now_ms = DateTime::now().timestamp_millis();
            tokio::spawn(tail(self.inner.clone(), now_ms));
        }
        rx
    }
}

/// Polls by write time (`logged_at`), re-reading [`LATE_MARGIN`] behind the newest write seen
/// and skipping the ids already pushed, so each record is pushed once even when it was written
/// after a newer one. The ids remembered are those of the margin: bounded by the write rate.
async fn tail(hub: Arc<LogsHubInner>, started_ms: i64) {
    let margin = LATE_MARGIN.as_millis() as i64;
    let mut pushed: HashMap<String, i64> = HashMap::new();
    let mut newest_ms = started_ms;
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
        let since = DateTime::from_millis((newest_ms - margin).max(started_ms));
        match hub.store.logged_since(since, TAIL_BATCH).await {
            Ok(found) => {
                // A full read may have left out older new records; the page can re-read
                // /api/logs if it wants every one.
                let gap = found.len() == TAIL_BATCH as usize;
                let mut items = Vec::new();
                for (item, at) in found {
                    if pushed.insert(item.id.clone(), at).is_none() {
                        newest_ms = newest_ms.max(at);
                        items.push(item);
                    }
                }
                pushed.retain(|_, at| *at >= newest_ms - margin);
                if items.is_empty() {
                    continue;
                }
                let json = PushMessage::Logs {
                    items: items.clone(),
                    gap,
                }
                .to_json()
                .into();
                let _ = hub.tx.send(Arc::new(LogsBatch { items, gap, json }));
            }
            Err(e) => tracing::warn!(error = %e, "logs tail read failed"),
        }
    }
    *hub.running.lock().expect("not poisoned") = false;
}
