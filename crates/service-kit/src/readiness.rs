//! Readiness kept up to date by one background check, the same in every service: run a check
//! every so often, set the [`Readiness`] flag behind `/readyz`, and log only when it changes.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use retry::Backoff;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::admin::Readiness;

/// How often to check: while ready, and (often sooner, to notice recovery) while not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every {
    pub when_ready: Duration,
    pub when_not_ready: Duration,
}

impl Every {
    /// The same interval in both states.
    pub fn fixed(interval: Duration) -> Self {
        Every {
            when_ready: interval,
            when_not_ready: interval,
        }
    }
}

/// Spawns the check loop: `check` runs at once, then per `every`, until `shutdown`; each answer
/// sets `readiness` (`Ok` ready, `Err` not ready, with why). A change is logged with `what`
/// (the dependency checked, e.g. "redis"). On shutdown the flag goes false, so a load balancer
/// stops sending work while requests in flight finish.
pub fn watch<F, Fut, E>(
    what: &'static str,
    readiness: Readiness,
    every: Every,
    shutdown: CancellationToken,
    mut check: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    // A backoff whose cap is its start is a fixed interval that still ends on shutdown.
    let mut while_ready = Backoff::new(every.when_ready, every.when_ready);
    let mut while_not_ready = Backoff::new(every.when_not_ready, every.when_not_ready);
    tokio::spawn(async move {
        let mut was: Option<bool> = None;
        loop {
            // In a block of its own, so the answer (which need not be Send) is gone before the
            // next await.
            let ready = {
                let answer = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    answer = check() => answer,
                };
                let ready = answer.is_ok();
                if was != Some(ready) {
                    match answer {
                        Ok(()) => tracing::info!(dependency = what, "ready: {what} answers"),
                        Err(e) => tracing::warn!(
                            dependency = what,
                            error = %e,
                            "not ready: {what} does not answer"
                        ),
                    }
                    was = Some(ready);
                }
                ready
            };
            readiness.set(ready);
            let wait = if ready {
                &mut while_ready
            } else {
                &mut while_not_ready
            };
            if !wait.sleep_or_stop(&shutdown).await {
                break;
            }
        }
        readiness.set(false);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn follows_the_check_and_ends_not_ready() {
        let readiness = Readiness::default();
        let shutdown = CancellationToken::new();
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        // Down for the first two checks, then up.
        let task = watch(
            "test",
            readiness.clone(),
            Every {
                when_ready: Duration::from_secs(1),
                when_not_ready: Duration::from_millis(250),
            },
            shutdown.clone(),
            move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err("down")
                    } else {
                        Ok(())
                    }
                }
            },
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!readiness.get());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(readiness.get(), "ready after two quick re-checks");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4, "once a second while ready");
        shutdown.cancel();
        task.await.unwrap();
        assert!(!readiness.get());
    }
}
