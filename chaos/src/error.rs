//! The crate's one error type.

use std::time::Duration;

/// Everything that can go wrong driving a fault or reading metrics.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("waiting on the Kubernetes API: {0}")]
    Wait(#[from] kube::runtime::wait::Error),
    #[error("{what} did not happen within {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{kind} {namespace}/{name} disappeared while waiting for {condition}")]
    Gone {
        kind: &'static str,
        namespace: String,
        name: String,
        condition: &'static str,
    },
    /// Chaos Mesh tried and failed to inject: this target cannot run the fault.
    #[error("Chaos Mesh could not inject {kind} {name}: {reason}")]
    NotInjected {
        kind: String,
        name: String,
        reason: String,
    },
    #[error("Prometheus at {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Prometheus query `{query}` failed: {message}")]
    Query { query: String, message: String },
    #[error("unknown scenario {0:?} (see chaos::Scenario::ALL)")]
    UnknownScenario(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
