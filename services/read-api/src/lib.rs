//! read-api: the live aggregates (Redis) and the logs (MongoDB), served to the web pages over
//! HTTP and WebSocket.
//!
//! - [`configuration`]: `USACTAR_*` settings;
//! - [`live`] and [`logs`]: reading each store, with every call bounded in time;
//! - [`routes`]: the HTTP handlers and their query parameters;
//! - [`push`]: the WebSocket streams and the one task per stream that feeds them;
//! - [`startup`]: the router and the running application.

pub mod configuration;
pub mod error;
pub mod live;
pub mod logs;
pub mod push;
pub mod routes;
pub mod startup;
