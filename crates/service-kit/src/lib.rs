//! What every Usactar service has, in one place:
//! - [`config`]: typed configuration from `USACTAR_*` variables, read through a small trait so
//!   tests hand in a map;
//! - [`telemetry`]: JSON logs through tracing;
//! - [`metrics`]: golden signals (requests by route and status, a latency histogram) in a
//!   Prometheus registry that each service adds its own counters to;
//! - [`admin`]: `/metrics`, `/livez` and `/readyz` on their own listener;
//! - [`shutdown`]: one token that SIGTERM and Ctrl-C cancel.

pub mod admin;
pub mod config;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
