//! read-api serves the live aggregates (Redis) and the logs (MongoDB) to the web pages, over
//! HTTP and WebSocket.
//!
//! Modules, each depending only on those listed before it:
//! - [`configuration`]: `USACTAR_*` settings; [`error`]: every failure as a JSON answer;
//! - [`filter`]: which matches a reader wants;
//! - [`live`] ([`live::LiveReader`]) and [`logs`] ([`logs::LogStore`]): reading each store,
//!   with every call bounded in time; [`log_totals`]: the logs' totals, from logs-writer's
//!   counts;
//! - [`hub`]: the one task per stream that watches a store and broadcasts what changed;
//! - [`state`]: [`state::AppState`], what every handler shares;
//! - [`extract`]: the query parameters of every route, checked;
//! - [`routes`]: the HTTP handlers; [`push`]: the WebSocket handlers, which send
//!   [`model::PushMessage`]s;
//! - [`startup`]: the router and the running [`startup::Application`];
//!
//! The `/warzone` page's routes (`/api/warzone/*`) are the `warzone` crate's, merged in
//! [`startup`]: the experiment kit serves the same routes for a cluster.

/// The OpenAPI document of every route read-api serves, at `GET /openapi.json` (the WebSockets
/// in prose).
pub const OPENAPI: &str = include_str!("../openapi.json");

pub mod configuration;
pub mod error;
pub mod extract;
pub mod filter;
pub mod hub;
pub mod live;
pub mod log_totals;
pub mod logs;
pub mod push;
pub mod routes;
pub mod startup;
pub mod state;
