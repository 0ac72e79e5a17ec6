//! The experiment kit: chaos scenarios under load, with golden metrics, steady-state
//! hypotheses checked before and after the fault, an end-to-end data invariant, and reports.
//!
//! - [`scenario`]: the catalog of experiments (a fault on a component) and how each is injected
//!   locally (on a cluster: `chaos::Scenario`);
//! - [`target`]: where an experiment runs, the local stack or two clusters;
//! - [`load`]: writers (loadgen) and viewers;
//! - [`prom`]: the kit's PromQL for the local services' golden metrics (asked through
//!   `chaos::prometheus`, the workspace's one Prometheus client);
//! - [`series`]: per-second series (windows, percentiles);
//! - [`signals`]: the definitions the reports stand on, on raw samples (latency of successes,
//!   disturbed, detection and recovery at 100 ms, user-seconds, stale pages, 202 → visible);
//! - [`sampler`]: the kit's own 100 ms scrapes of the services and the broker's consumer lag;
//! - [`hypothesis`], [`invariant`]: the steady-state probes and the data invariant;
//! - [`impact`]: what the fault did, signal by signal, and the impact window;
//! - [`capacity`]: the sustainable rate, measured first;
//! - [`run`]: one experiment, start to finish;
//! - [`report`], [`chart`]: what is written, and the harm ranking; [`resume`]: what an
//!   interrupted batch already holds;
//! - [`warzone_state`]: the running experiment, published for the /warzone page;
//!   [`screenshot`]: the page photographed in the middle of the fault, for the report;
//!   [`viewer`]: the page served by the kit itself for a cluster target.

pub mod capacity;
pub mod chart;
pub mod hypothesis;
pub mod impact;
pub mod invariant;
pub mod load;
pub mod prom;
pub mod report;
pub mod resume;
pub mod run;
pub mod sampler;
pub mod scenario;
pub mod screenshot;
pub mod series;
pub mod signals;
pub mod target;
pub mod viewer;
pub mod warzone_state;
