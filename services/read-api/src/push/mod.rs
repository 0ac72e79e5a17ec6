//! The WebSocket routes, `/api/live/ws` and `/api/logs/ws`: each socket reads its own
//! `feeds` (its filters applied to what the [`crate::hub`] broadcasts) and a `socket` pump
//! writes it out as [`model::PushMessage`] text frames, with pings and a clean close on shutdown.

mod feeds;
mod socket;

use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;

use crate::extract::Filter;
use crate::state::AppState;
use feeds::{LiveFeed, LogsFeed};

pub async fn live_ws(
    State(s): State<AppState>,
    ws: WebSocketUpgrade,
    Filter(filter): Filter,
) -> Response {
    // Subscribe before the snapshot is read, so nothing falls between the two.
    let feed = LiveFeed::new(s.live_hub.subscribe(), s.live.clone(), filter);
    ws.on_upgrade(move |socket| socket::pump(socket, feed, s.shutdown, s.open_sockets, "live"))
}

pub async fn logs_ws(
    State(s): State<AppState>,
    ws: WebSocketUpgrade,
    Filter(filter): Filter,
) -> Response {
    let feed = LogsFeed::new(s.logs_hub.subscribe(), filter);
    ws.on_upgrade(move |socket| socket::pump(socket, feed, s.shutdown, s.open_sockets, "logs"))
}
