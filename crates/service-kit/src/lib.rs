//! What every Usactar service has, written once so that the services differ only in their work:
//! - [`config`]: typed configuration from `USACTAR_*` variables, read through a small trait so
//!   tests hand in a map;
//! - [`telemetry`]: JSON logs through tracing, every line naming the service, and one span per
//!   HTTP request and per gRPC call;
//! - [`metrics`]: golden signals (requests by route and status, a latency histogram) in a
//!   Prometheus registry that each service adds its own counters to;
//! - [`admin`]: `/metrics`, `/livez` and `/readyz` on their own listener;
//! - [`readiness`]: the background check that keeps `/readyz` true to the dependencies;
//! - [`shutdown`]: one token that SIGTERM and Ctrl-C cancel;
//! - [`fatal`]: ending the process when a client can never work again (librdkafka's fatal errors);
//! - [`redis`] (feature `redis`): a Redis connection that heals itself after Redis restarts.

pub mod admin;
pub mod config;
pub mod fatal;
pub mod metrics;
pub mod readiness;
#[cfg(feature = "redis")]
pub mod redis;
pub mod shutdown;
pub mod telemetry;
