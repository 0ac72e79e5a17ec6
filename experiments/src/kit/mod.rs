//! The experiment kit: chaos scenarios under load, with golden metrics, steady-state
//! hypotheses checked before and after the fault, an end-to-end data invariant, and reports.
//!
//! - [`scenario`]: the four faults the kit runs and how they are injected locally (the type is
//!   `chaos::Scenario`, shared with the Kubernetes target);
//! - [`target`]: where an experiment runs, the local stack or two clusters;
//! - [`load`]: writers (loadgen) and viewers;
//! - [`prom`]: the kit's PromQL for the local services' golden metrics (asked through
//!   `chaos::prometheus`, the workspace's one Prometheus client);
//! - [`series`]: per-second series math (windows, percentiles, detection, recovery);
//! - [`hypothesis`], [`invariant`]: the steady-state probes and the data invariant;
//! - [`impact`]: what the fault did (detection, recovery, failed requests, worst p99, lag);
//! - [`run`]: one experiment, start to finish;
//! - [`report`], [`chart`]: what is written, and the harm ranking;
//! - [`warzone_state`]: the running experiment, published for the /warzone page, and its
//!   screenshot in the report.

pub mod chart;
pub mod hypothesis;
pub mod impact;
pub mod invariant;
pub mod load;
pub mod prom;
pub mod report;
pub mod run;
pub mod scenario;
pub mod series;
pub mod target;
pub mod warzone_state;
