//! live-store: receives batches of accepted predictions over gRPC (from live-forwarder, across
//! the cluster boundary) and applies each batch to Redis in one Lua script, so a batch counts
//! completely or not at all, and a prediction id already seen counts nothing. Then it announces
//! the changed matches on a pub/sub channel, so read-api pushes instead of polling.

pub mod aggregates;
pub mod configuration;
pub mod service;
pub mod startup;
