//! The live changes: one Redis subscription per process, coalesced into deltas.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures::StreamExt;
use model::push::{MatchView, PushMessage};
use retry::Backoff;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{bounded, AppError};
use crate::live::LiveReader;

use super::Snapshots;

/// Live pushes go out at most this often, whatever the rate of changes.
pub const LIVE_COALESCE: Duration = Duration::from_millis(250);

/// The matches that changed in one flush.
#[derive(Debug)]
pub struct LiveDelta {
    pub total: u64,
    pub matches: Vec<MatchView>,
    /// The message for unfiltered sockets, serialized once for all of them and shared, not
    /// copied: a push is 70-90 KB at 5,000 predictions/s, and a copy per socket cost 1,000
    /// sockets that much memory each time (bench/viewers/run.sh).
    pub json: Utf8Bytes,
}

#[derive(Debug, Clone)]
pub enum LiveEvent {
    Changed(Arc<LiveDelta>),
    /// Changes may have been missed (the subscription was lost): every socket re-reads.
    Resync,
}

#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<LiveEvent>,
    snapshots: Snapshots,
}

impl LiveHub {
    /// Starts the one subscriber task of this process.
    /// `snapshot_reads` counts the full snapshot reads (see [`Snapshots`]).
    pub fn start(
        reader: LiveReader,
        snapshot_reads: prometheus::IntCounter,
        shutdown: CancellationToken,
    ) -> Self {
        let (tx, _) = broadcast::channel(16);
        let snapshots = Snapshots::new(reader.clone(), snapshot_reads);
        tokio::spawn(subscribe_loop(
            reader,
            snapshots.clone(),
            tx.clone(),
            shutdown,
        ));
        LiveHub { tx, snapshots }
    }

    /// The shared snapshots; a socket subscribes before it asks for one.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}

/// Keeps a subscription to the changes channel, reconnecting with backoff when Redis goes away.
async fn subscribe_loop(
    reader: LiveReader,
    snapshots: Snapshots,
    tx: broadcast::Sender<LiveEvent>,
    shutdown: CancellationToken,
) {
    let channel = reader.keys().changes_channel();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut first = true;
    loop {
        let subscribed = tokio::select! {
            _ = shutdown.cancelled() => return,
            s = backoff.retry(
                &shutdown,
                || subscribe(&reader, &channel),
                |e, wait| tracing::warn!(error = %e, ?wait, "cannot subscribe to live changes"),
            ) => s,
        };
        let Some(pubsub) = subscribed else { return };
        tracing::info!(channel, "subscribed to live changes");
        if !first {
            snapshots.invalidate();
            let _ = tx.send(LiveEvent::Resync);
        }
        first = false;
        forward(pubsub, &reader, &snapshots, &tx, &shutdown).await;
        if shutdown.is_cancelled() {
            return;
        }
        tracing::warn!(channel, "live changes subscription lost; reconnecting");
        if !backoff.sleep_or_stop(&shutdown).await {
            return;
        }
    }
}

async fn subscribe(reader: &LiveReader, channel: &str) -> Result<redis::aio::PubSub, AppError> {
    let connect = async {
        let mut pubsub = reader.client().get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    bounded("redis", reader.timeout(), connect).await
}

/// Gathers changed ids and flushes them at most every [`LIVE_COALESCE`]; returns when the
/// subscription ends.
async fn forward(
    pubsub: redis::aio::PubSub,
    reader: &LiveReader,
    snapshots: &Snapshots,
    tx: &broadcast::Sender<LiveEvent>,
    shutdown: &CancellationToken,
) {
    let mut messages = pubsub.into_on_message();
    let mut pending: BTreeSet<String> = BTreeSet::new();
    let mut last_flush = Instant::now()
        .checked_sub(LIVE_COALESCE)
        .unwrap_or_else(Instant::now);
    loop {
        let flush_at = last_flush + LIVE_COALESCE;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            msg = messages.next() => match msg {
                None => return,
                Some(msg) => match serde_json::from_slice::<Vec<String>>(msg.get_payload_bytes()) {
                    Ok(ids) => pending.extend(ids),
                    Err(e) => tracing::warn!(error = %e, "a live-changes message is not a JSON array of ids"),
                },
            },
            _ = tokio::time::sleep_until(flush_at), if !pending.is_empty() => {
                flush(reader, snapshots, tx, &mut pending).await;
                last_flush = Instant::now();
            }
        }
    }
}

async fn flush(
    reader: &LiveReader,
    snapshots: &Snapshots,
    tx: &broadcast::Sender<LiveEvent>,
    pending: &mut BTreeSet<String>,
) {
    // Before the broadcast: see [`Snapshots::invalidate`].
    snapshots.invalidate();
    if tx.receiver_count() == 0 {
        // Nobody is watching; a socket that opens later starts from a snapshot anyway.
        pending.clear();
        return;
    }
    let ids: Vec<String> = std::mem::take(pending).into_iter().collect();
    match reader.matches(&ids).await {
        Ok((total, matches)) => {
            let json = PushMessage::Live {
                total,
                matches: matches.clone(),
            }
            .to_json()
            .into();
            let _ = tx.send(LiveEvent::Changed(Arc::new(LiveDelta {
                total,
                matches,
                json,
            })));
        }
        Err(e) => {
            // Keep them for the next flush.
            tracing::warn!(error = %e, "reading changed matches failed");
            pending.extend(ids);
        }
    }
}
