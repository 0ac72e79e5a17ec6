//! Usactar's experiment kit: it runs chaos scenarios under load, on the local stack or on two
//! clusters, and reports what their golden metrics, hypotheses and data invariant showed.
//! The local stack it runs against is the `stack` crate; faults on clusters and every
//! Prometheus query go through the `chaos` crate.

pub mod kafka_study;
pub mod kit;
