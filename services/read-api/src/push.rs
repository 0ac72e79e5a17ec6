//! WebSocket streams. One task per process feeds each stream through a broadcast channel:
//! - live: SUBSCRIBE to `{P}live-changes` (no polling), gather the changed match ids, and at most
//!   every 250 ms read just those matches and broadcast them;
//! - logs: MongoDB-compatible stores here have no change streams, so while at least one logs
//!   socket is open, read the ids after the last one seen every 500 ms.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::StreamExt;
use prometheus::IntGaugeVec;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;

use crate::error::AppError;
use crate::live::{LiveStore, MatchFilter, MatchView};
use crate::logs::{uuid_v7_floor, LogItem, LogStore};
use crate::routes::{match_filter, params, RawQuery, FILTER_PARAMS};
use crate::startup::AppState;

/// Live pushes go out at most this often, whatever the rate of changes.
pub const LIVE_COALESCE: Duration = Duration::from_millis(250);
/// How often the logs tail looks for new records.
pub const LOGS_POLL: Duration = Duration::from_millis(500);
/// A socket that does not answer two pings in a row is dropped.
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client that cannot take a message in this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The most logs one tail read (and one push) carries.
const TAIL_BATCH: u32 = 500;

// ---------------------------------------------------------------- live

#[derive(Debug)]
pub struct LiveDelta {
    pub total: u64,
    pub matches: Vec<MatchView>,
    /// The message for unfiltered sockets, serialized once for all of them.
    pub json: String,
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
}

impl LiveHub {
    /// Starts the one subscriber task of this process.
    pub fn start(store: LiveStore, shutdown: CancellationToken) -> Self {
        let (tx, _) = broadcast::channel(16);
        tokio::spawn(subscribe_loop(store, tx.clone(), shutdown));
        LiveHub { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}

/// Keeps a subscription to the changes channel, reconnecting with backoff when Redis goes away.
async fn subscribe_loop(
    store: LiveStore,
    tx: broadcast::Sender<LiveEvent>,
    shutdown: CancellationToken,
) {
    let channel = store.channel();
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let connect = async {
            let mut pubsub = store.client().get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = tokio::time::timeout(store.timeout(), connect) => r,
        };
        match attempt {
            Ok(Ok(pubsub)) => {
                tracing::info!(channel, "subscribed to live changes");
                backoff = Duration::from_millis(100);
                if !first {
                    let _ = tx.send(LiveEvent::Resync);
                }
                first = false;
                forward(pubsub, &store, &tx, &shutdown).await;
                if shutdown.is_cancelled() {
                    return;
                }
                tracing::warn!(channel, "live changes subscription lost; reconnecting");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, ?backoff, "cannot subscribe to live changes"),
            Err(_) => tracing::warn!(?backoff, "subscribing to live changes timed out"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Gathers changed ids and flushes them at most every [`LIVE_COALESCE`]; returns when the
/// subscription ends.
async fn forward(
    pubsub: redis::aio::PubSub,
    store: &LiveStore,
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
                flush(store, tx, &mut pending).await;
                last_flush = Instant::now();
            }
        }
    }
}

async fn flush(
    store: &LiveStore,
    tx: &broadcast::Sender<LiveEvent>,
    pending: &mut BTreeSet<String>,
) {
    if tx.receiver_count() == 0 {
        // Nobody is watching; a socket that opens later starts from a snapshot anyway.
        pending.clear();
        return;
    }
    let ids: Vec<String> = std::mem::take(pending).into_iter().collect();
    match store.matches(&ids).await {
        Ok((total, matches)) => {
            let json = json!({"type": "live", "total": total, "matches": matches}).to_string();
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

pub async fn live_ws(
    State(s): State<AppState>,
    raw: RawQuery,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let filter = match_filter(&params(raw, FILTER_PARAMS)?)?;
    // Subscribe before the snapshot is read, so nothing falls between the two.
    let feed = LiveFeed {
        rx: s.live_hub.subscribe(),
        store: s.live.clone(),
        filter,
        snapshot_due: true,
        failed_once: false,
    };
    Ok(ws.on_upgrade(move |socket| pump(socket, feed, s.shutdown, s.open_sockets, "live")))
}

struct LiveFeed {
    rx: broadcast::Receiver<LiveEvent>,
    store: LiveStore,
    filter: MatchFilter,
    snapshot_due: bool,
    failed_once: bool,
}

impl Feed for LiveFeed {
    async fn next(&mut self) -> Option<String> {
        loop {
            if self.snapshot_due {
                if self.failed_once {
                    sleep(Duration::from_secs(1)).await;
                }
                match self.store.snapshot(&self.filter).await {
                    Ok(view) => {
                        self.snapshot_due = false;
                        self.failed_once = false;
                        let mut msg = serde_json::to_value(view).expect("a view serializes");
                        msg["type"] = "snapshot".into();
                        return Some(msg.to_string());
                    }
                    Err(e) => {
                        // Tell the page, and retry: the socket stays useful once Redis is back.
                        self.failed_once = true;
                        return Some(json!({"type": "error", "error": e.to_string()}).to_string());
                    }
                }
            }
            match self.rx.recv().await {
                Ok(LiveEvent::Changed(delta)) => {
                    if self.filter.is_empty() {
                        return Some(delta.json.clone());
                    }
                    let matches: Vec<&MatchView> = delta
                        .matches
                        .iter()
                        .filter(|m| self.filter.accepts(m.phase, &m.team1, &m.team2))
                        .collect();
                    if !matches.is_empty() {
                        return Some(
                            json!({"type": "live", "total": delta.total, "matches": matches})
                                .to_string(),
                        );
                    }
                }
                // A socket that fell behind gets the current state, not a pile of stale deltas.
                Ok(LiveEvent::Resync) | Err(RecvError::Lagged(_)) => self.snapshot_due = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

// ---------------------------------------------------------------- logs

#[derive(Debug)]
pub struct LogsBatch {
    /// Newest first.
    pub items: Vec<LogItem>,
    /// True when the tail skipped records to keep up.
    pub gap: bool,
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
                let json = json!({"type": "logs", "items": items, "gap": gap}).to_string();
                let _ = hub.tx.send(Arc::new(LogsBatch { items, gap, json }));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "logs tail read failed"),
        }
    }
    *hub.running.lock().expect("not poisoned") = false;
}

pub async fn logs_ws(
    State(s): State<AppState>,
    raw: RawQuery,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let filter = match_filter(&params(raw, FILTER_PARAMS)?)?;
    let feed = LogsFeed {
        rx: s.logs_hub.subscribe(),
        filter,
    };
    Ok(ws.on_upgrade(move |socket| pump(socket, feed, s.shutdown, s.open_sockets, "logs")))
}

struct LogsFeed {
    rx: broadcast::Receiver<Arc<LogsBatch>>,
    filter: MatchFilter,
}

impl Feed for LogsFeed {
    async fn next(&mut self) -> Option<String> {
        loop {
            match self.rx.recv().await {
                Ok(batch) if self.filter.is_empty() => return Some(batch.json.clone()),
                Ok(batch) => {
                    let items: Vec<&LogItem> = batch
                        .items
                        .iter()
                        .filter(|i| i.accepted_by(&self.filter))
                        .collect();
                    if !items.is_empty() {
                        return Some(
                            json!({"type": "logs", "items": items, "gap": batch.gap}).to_string(),
                        );
                    }
                }
                // The page can re-read /api/logs; say so rather than silently skip records.
                Err(RecvError::Lagged(n)) => {
                    return Some(json!({"type": "lagged", "missed_batches": n}).to_string())
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

// ---------------------------------------------------------------- sockets

/// What a socket sends: the next text message, or None to close. Must be cancel safe: it is
/// polled in a select beside the socket's reads.
trait Feed {
    fn next(&mut self) -> impl Future<Output = Option<String>> + Send;
}

/// Counts a socket as open for as long as it lives.
struct OpenGuard(prometheus::IntGauge);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn pump(
    mut socket: WebSocket,
    mut feed: impl Feed,
    shutdown: CancellationToken,
    open: IntGaugeVec,
    stream: &'static str,
) {
    let gauge = open.with_label_values(&[stream]);
    gauge.inc();
    let _guard = OpenGuard(gauge);
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut answered = true;
    loop {
        let out = tokio::select! {
            _ = shutdown.cancelled() => {
                let frame = CloseFrame { code: 1001, reason: "server shutting down".into() };
                let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
                return;
            }
            _ = ping.tick() => {
                if !answered {
                    tracing::debug!(stream, "dropping a socket that stopped answering pings");
                    return;
                }
                answered = false;
                Message::Ping(Default::default())
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                // Any sign of life will do; browsers answer pings by themselves.
                Some(Ok(_)) => { answered = true; continue }
            },
            text = feed.next() => match text {
                Some(text) => Message::Text(text.into()),
                None => return,
            },
        };
        match tokio::time::timeout(SEND_TIMEOUT, socket.send(out)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
