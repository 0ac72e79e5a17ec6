//! A dependency's client that can never work again in this process, and ending the process for
//! it. librdkafka's idempotent producer is the case: when the broker refuses it a producer id
//! (for want of an ACL, say) the error is fatal, every record after it fails, and the client
//! never asks again, even once the ACL exists. Readiness alone would leave the process up and
//! useless (seen on the sandbox: ingest stayed ready while every POST got 503), so the service
//! stops as on SIGTERM and exits with an error; what runs it (the kubelet, the local stack's
//! supervisor) starts a fresh process, whose new client asks again.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The first fatal error seen, shared by the watch and the service's exit.
#[derive(Clone, Default, Debug)]
pub struct Fatal(Arc<OnceLock<String>>);

/// Why the process ends: a client of `what` failed for good.
#[derive(Debug, thiserror::Error)]
#[error("{0}; exiting so that a fresh process (and client) starts")]
pub struct FatalError(String);

impl Fatal {
    /// Calls `check` every `every` until `shutdown`. The first `Some(reason)` is kept, logged
    /// as an error naming `what`, and cancels `shutdown`: the service goes unready and stops as
    /// on SIGTERM, and [`Fatal::exit`] then makes its exit an error.
    pub fn watch(
        what: &'static str,
        every: Duration,
        shutdown: CancellationToken,
        check: impl Fn() -> Option<String> + Send + 'static,
    ) -> Fatal {
        let fatal = Fatal::default();
        let kept = fatal.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                if let Some(reason) = check() {
                    let reason = format!("{what} failed for good: {reason}");
                    tracing::error!(dependency = what, error = %reason, "fatal: stopping");
                    let _ = kept.0.set(reason);
                    shutdown.cancel();
                    return;
                }
            }
        });
        fatal
    }

    /// The reason, once a fatal error was seen.
    pub fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// What the service's run returns once it has stopped: an error if a fatal error stopped it.
    pub fn exit(&self) -> Result<(), FatalError> {
        match self.reason() {
            Some(reason) => Err(FatalError(reason.to_string())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn the_first_fatal_error_stops_the_service_and_is_its_exit() {
        let broken = Arc::new(AtomicBool::new(false));
        let shutdown = CancellationToken::new();
        let flag = broken.clone();
        let fatal = Fatal::watch(
            "kafka producer",
            Duration::from_millis(10),
            shutdown.clone(),
            move || {
                flag.load(Ordering::Relaxed)
                    .then(|| "ClusterAuthorizationFailed".to_string())
            },
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!shutdown.is_cancelled());
        assert!(fatal.exit().is_ok());
        broken.store(true, Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(2), shutdown.cancelled())
            .await
            .expect("a fatal error cancels the shutdown token");
        let error = fatal.exit().unwrap_err().to_string();
        assert_eq!(
            error,
            "kafka producer failed for good: ClusterAuthorizationFailed; exiting so that a fresh process (and client) starts"
        );
    }

    #[tokio::test]
    async fn a_shutdown_ends_the_watch_without_an_error() {
        let shutdown = CancellationToken::new();
        let fatal = Fatal::watch(
            "kafka producer",
            Duration::from_millis(10),
            shutdown.clone(),
            || None,
        );
        shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(fatal.exit().is_ok());
    }
}
