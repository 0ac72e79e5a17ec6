//! The consumer pod carries accepted predictions from Kafka to where they are read: its two
//! containers, logs-writer (to MongoDB) and live-forwarder (over gRPC to live-store), share one
//! loop ([`pipeline`]): read a batch from a consumer group, write it downstream (retrying with
//! backoff until it succeeds), and only then store the batch's offsets. A crash between the
//! write and the commit replays the batch; both sinks are idempotent by prediction id, so the
//! replay changes nothing: effectively once.
//!
//! - [`configuration`]: `USACTAR_*` settings of each [`configuration::Role`];
//! - [`dead_letter`]: where a record that can never be written goes, with the reason;
//! - [`group`]: what librdkafka's statistics say (lag, and whether the consumer is in its group);
//! - [`logs`]: the MongoDB sink of logs-writer (group `logs`);
//! - [`live`]: the gRPC sink of live-forwarder (group `live`);
//! - [`startup`]: wiring one container, until shutdown.

pub mod configuration;
pub mod dead_letter;
pub mod group;
pub mod live;
pub mod log_totals;
pub mod logs;
pub mod pipeline;
pub mod startup;
