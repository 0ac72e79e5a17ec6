//! Graceful shutdown: one token, cancelled by SIGTERM or Ctrl-C, that every task watches.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A token that is cancelled when the process receives SIGTERM or SIGINT.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
        cancel.cancel();
    });
    token
}

/// `USACTAR_SHUTDOWN_DELAY` (default 5 s, at most 60 s): how long a service keeps serving after
/// SIGTERM while it answers "not ready" (issue 15 L1).
pub fn delay_from_env(
    env: &impl crate::config::Env,
) -> Result<Duration, crate::config::ConfigError> {
    // At most 60 s: the pod's grace period is 30 s by default.
    env.duration_in(
        "USACTAR_SHUTDOWN_DELAY",
        DEFAULT_DELAY,
        Duration::ZERO..=MAX_DELAY,
    )
}

pub const DEFAULT_DELAY: Duration = Duration::from_secs(5);
const MAX_DELAY: Duration = Duration::from_secs(60);

/// A token cancelled `delay` after `token`: what the listeners stop on. Kubernetes goes on
/// sending requests to a pod for a few seconds after SIGTERM (until every endpoint list has
/// dropped it); a pod that closed its listener at once fails them. So at SIGTERM a service goes
/// unready (its readiness checks end on `token`), keeps serving for `delay`, and only then
/// stops accepting and drains what is in flight.
pub fn delayed(token: &CancellationToken, delay: Duration) -> CancellationToken {
    let later = CancellationToken::new();
    let (token, cancel) = (token.clone(), later.clone());
    tokio::spawn(async move {
        token.cancelled().await;
        if !delay.is_zero() {
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "not ready; serving on for the delay, then draining"
            );
            tokio::time::sleep(delay).await;
        }
        cancel.cancel();
    });
    later
}
