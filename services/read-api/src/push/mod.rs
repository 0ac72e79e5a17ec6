//! The WebSocket routes, `/api/live/ws` and `/api/logs/ws`: each socket reads its own
//! `feeds` (its filters applied to what the [`crate::hub`] broadcasts) and a `socket` pump
//! writes it out as [`model::PushMessage`] text frames, with pings and a clean close on shutdown.
//! [`admit`] decides who may open one: a page from an allowed origin or a non-browser client,
//! while fewer than `USACTAR_MAX_SOCKETS` are open; what a client sends is capped at
//! [`admit::MAX_INBOUND`] bytes.

pub mod admit;
mod feeds;
mod socket;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::extract::Filter;
use crate::state::AppState;
use admit::MAX_INBOUND;
use feeds::{LiveFeed, LogsFeed};

/// The library's defaults are sized for large messages both ways: a 128 KiB read buffer per
/// socket (128 MiB for 1,000 idle sockets, measured: 146 MiB for read-api with 1,000 open),
/// where clients may send at most [`MAX_INBOUND`]; and writes gathered up to 128 KiB, where
/// every push is flushed at once anyway.
const READ_BUFFER: usize = 2 * MAX_INBOUND;

fn limited(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_INBOUND)
        .max_frame_size(MAX_INBOUND)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
}

pub async fn live_ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
    Filter(filter): Filter,
) -> Response {
    let slot = match s.admission.admit(&headers) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    // Subscribe before the snapshot is read, so nothing falls between the two.
    let feed = LiveFeed::new(
        s.live_hub.subscribe(),
        s.live_hub.snapshots().clone(),
        filter,
    );
    limited(ws).on_upgrade(move |socket| {
        socket::pump(socket, feed, s.shutdown, s.open_sockets, "live", slot)
    })
}

pub async fn logs_ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
    Filter(filter): Filter,
) -> Response {
    let slot = match s.admission.admit(&headers) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    let feed = LogsFeed::new(s.logs_hub.subscribe(), filter);
    limited(ws).on_upgrade(move |socket| {
        socket::pump(socket, feed, s.shutdown, s.open_sockets, "logs", slot)
    })
}
