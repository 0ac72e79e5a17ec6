//! The experiment kit's Kubernetes target and the workspace's only Prometheus client: Chaos Mesh
//! faults driven through kube-rs, the one [`Scenario`] type the kit runs everywhere, and PromQL
//! queries ([`prometheus`]) with Linkerd's golden metrics on top ([`linkerd`]).
//!
//! Anything in the workspace that reads Prometheus does it through [`Prometheus`]; the kit keeps
//! only its own queries of the local services.
//!
//! ```no_run
//! # async fn demo() -> chaos::Result<()> {
//! use chaos::{KubeTarget, Params, Scenario, Workload};
//! use std::time::Duration;
//!
//! let target = KubeTarget::from_contexts(Some("kind-usactar-a"), Some("kind-usactar-b")).await?;
//! let injected = target.inject(Scenario::PodKill(Workload::ReadApi), &Params::default()).await?;
//! // Whatever happens next (an error, Ctrl-C), the caller deletes the fault.
//! let recovered = target.wait_recovered(&injected, Duration::from_secs(120)).await;
//! target.cleanup(&injected).await?;
//! recovered?;
//! # Ok(()) }
//! ```

mod apply;
pub mod crd;
mod error;
pub mod linkerd;
pub mod prometheus;
pub mod scenario;
mod target;

pub use error::{Error, Result};
pub use prometheus::Prometheus;
pub use scenario::{
    build, go_duration, ChaosObject, Cluster, Container, Params, Placement, Scenario, Workload,
};
pub use target::{CleanupGuard, Injected, KubeTarget, DEFAULT_PROMETHEUS, FIELD_MANAGER};

/// Picks rustls's crypto provider for the kube client. In a workspace build other crates turn on
/// rustls's aws-lc-rs feature beside kube's ring, and rustls then refuses to choose by itself.
/// Safe to call any number of times; the first provider installed stays.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
