//! One WebSocket's life: write what its feed gives, ping, drop it when it stops answering or
//! cannot keep up, close it with 1001 on shutdown, and count it while it is open.

use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use prometheus::IntGaugeVec;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A socket that does not answer two pings in a row is dropped.
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client that cannot take a message in this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a socket sends: the next text message, or None to close. Must be cancel safe: it is
/// polled in a select beside the socket's reads.
pub trait Feed {
    fn next(&mut self) -> impl Future<Output = Option<Utf8Bytes>> + Send;
}

/// Counts a socket as open for as long as it lives.
struct OpenGuard(prometheus::IntGauge);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub async fn pump(
    mut socket: WebSocket,
    mut feed: impl Feed,
    shutdown: CancellationToken,
    open: IntGaugeVec,
    stream: &'static str,
    // Held while the socket lives: it is one of `USACTAR_MAX_SOCKETS`.
    _slot: tokio::sync::OwnedSemaphorePermit,
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
                // An error includes a message over the inbound limit: the library closes with
                // 1009 and the socket ends here.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                // Any sign of life will do; browsers answer pings by themselves.
                Some(Ok(_)) => { answered = true; continue }
            },
            text = feed.next() => match text {
                Some(text) => Message::Text(text),
                None => return,
            },
        };
        match tokio::time::timeout(SEND_TIMEOUT, socket.send(out)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
