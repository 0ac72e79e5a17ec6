//! live-store applies batches of accepted predictions, received over gRPC from live-forwarder
//! across the cluster boundary, to the live aggregates in Redis. Each batch is one Lua script,
//! so it counts completely or not at all, and a prediction id already seen counts nothing; then
//! the changed matches are announced on a pub/sub channel, so read-api pushes instead of polling.
//!
//! - [`configuration`]: `USACTAR_*` settings;
//! - [`aggregates`]: the Lua script and the keys it writes ([`model::redis_keys`]);
//! - [`service`]: the gRPC edge (`ApplyBatch`), validation and metrics;
//! - [`startup`]: wiring, binding, readiness and graceful shutdown.

pub mod aggregates;
pub mod configuration;
pub mod service;
pub mod startup;
