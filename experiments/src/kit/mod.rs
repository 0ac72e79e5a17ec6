//! The experiment kit: chaos scenarios under load, with golden metrics, steady-state
//! hypotheses checked before and after the fault, an end-to-end data invariant, and reports.
//!
//! - [`scenario`]: the four faults and how they are injected locally;
//! - [`load`]: writers (loadgen) and viewers;
//! - [`prom`]: server-side golden metrics from Prometheus;
//! - [`series`]: per-second series math (windows, percentiles, detection, recovery);
//! - [`run`]: one experiment, start to finish;
//! - [`report`], [`chart`]: what is written, and the harm ranking.

pub mod chart;
pub mod load;
pub mod prom;
pub mod report;
pub mod run;
pub mod scenario;
pub mod series;
pub mod target;
