//! What one socket sends next: the hub's broadcasts with the socket's filters applied.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use model::push::PushMessage;
use tokio::sync::broadcast::{self, error::RecvError};

use super::socket::Feed;
use crate::filter::MatchFilter;
use crate::hub::Snapshots;
use crate::hub::{LiveEvent, LogsBatch};

/// A snapshot first (and again whenever the hub resyncs or this socket lags), then deltas.
pub struct LiveFeed {
    rx: broadcast::Receiver<LiveEvent>,
    snapshots: Snapshots,
    filter: MatchFilter,
    snapshot_due: bool,
    failed_once: bool,
}

impl LiveFeed {
    pub fn new(
        rx: broadcast::Receiver<LiveEvent>,
        snapshots: Snapshots,
        filter: MatchFilter,
    ) -> Self {
        LiveFeed {
            rx,
            snapshots,
            filter,
            snapshot_due: true,
            failed_once: false,
        }
    }
}

impl Feed for LiveFeed {
    async fn next(&mut self) -> Option<Utf8Bytes> {
        loop {
            if self.snapshot_due {
                if self.failed_once {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                match self.snapshots.get(&self.filter).await {
                    Ok(view) => {
                        self.snapshot_due = false;
                        self.failed_once = false;
                        return Some(PushMessage::Snapshot((*view).clone()).to_json().into());
                    }
                    Err(e) => {
                        // Tell the page, and retry: the socket stays useful once Redis is back.
                        self.failed_once = true;
                        tracing::warn!(error = %e, "live snapshot failed");
                        let error = e.public_message();
                        return Some(PushMessage::Error { error }.to_json().into());
                    }
                }
            }
            match self.rx.recv().await {
                Ok(LiveEvent::Changed(delta)) => {
                    if self.filter.is_empty() {
                        return Some(delta.json.clone());
                    }
                    let matches: Vec<_> = delta
                        .matches
                        .iter()
                        .filter(|m| self.filter.accepts_match(m))
                        .cloned()
                        .collect();
                    if !matches.is_empty() {
                        let total = delta.total;
                        return Some(PushMessage::Live { total, matches }.to_json().into());
                    }
                }
                // A socket that fell behind gets the current state, not a pile of stale deltas.
                Ok(LiveEvent::Resync) | Err(RecvError::Lagged(_)) => self.snapshot_due = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// The tail's batches, filtered; `lagged` when this socket fell behind.
pub struct LogsFeed {
    rx: broadcast::Receiver<Arc<LogsBatch>>,
    filter: MatchFilter,
}

impl LogsFeed {
    pub fn new(rx: broadcast::Receiver<Arc<LogsBatch>>, filter: MatchFilter) -> Self {
        LogsFeed { rx, filter }
    }
}

impl Feed for LogsFeed {
    async fn next(&mut self) -> Option<Utf8Bytes> {
        loop {
            match self.rx.recv().await {
                Ok(batch) if self.filter.is_empty() => return Some(batch.json.clone()),
                Ok(batch) => {
                    let items: Vec<_> = batch
                        .items
                        .iter()
                        .filter(|i| self.filter.accepts_log(i))
                        .cloned()
                        .collect();
                    if !items.is_empty() {
                        let gap = batch.gap;
                        return Some(PushMessage::Logs { items, gap }.to_json().into());
                    }
                }
                // The page can re-read /api/logs; say so rather than silently skip records.
                Err(RecvError::Lagged(missed_batches)) => {
                    return Some(PushMessage::Lagged { missed_batches }.to_json().into())
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
