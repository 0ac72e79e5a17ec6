//! The consumer pod's two containers share one loop ([`pipeline`]): read a batch from a consumer
//! group, write it downstream (retrying with backoff until it succeeds), and only then store the
//! batch's offsets. A crash between the write and the commit replays the batch; both sinks are
//! idempotent by prediction id, so the replay changes nothing: effectively once.
//!
//! - [`logs`]: the MongoDB sink of logs-writer (group `logs`);
//! - [`live`]: the gRPC sink of live-forwarder (group `live`).

pub mod configuration;
pub mod live;
pub mod logs;
pub mod pipeline;
