//! `/metrics`, `/livez` and `/readyz`, on a listener of their own so that the ingress never
//! exposes them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Whether the service can do its work now (its dependencies answer). Live is simply "the
/// process answers"; ready is this flag, kept up to date by the service.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether the process still makes progress. By default it is alive as long as it answers; a
/// worker loop that can wedge (a call that never returns, a task that died) gives a heartbeat
/// instead, and `/livez` answers 503 once the loop has not beaten for `max_silence`, so the
/// kubelet restarts a pod that looks healthy but does nothing (issue 15 M9).
#[derive(Debug, Clone)]
pub struct Liveness(Option<Heartbeat>);

/// The beat a worker loop gives at every step; cheap (one atomic store).
#[derive(Debug, Clone)]
pub struct Heartbeat {
    start: Instant,
    /// Milliseconds after `start` of the last beat.
    last_ms: Arc<AtomicU64>,
    max_silence: Duration,
}

impl Liveness {
    /// Alive while the process answers.
    pub fn always() -> Self {
        Liveness(None)
    }

    /// Alive while `heartbeat` beats at least every `max_silence`.
    pub fn heartbeat(max_silence: Duration) -> (Self, Heartbeat) {
        let heartbeat = Heartbeat {
            start: Instant::now(),
            last_ms: Arc::default(),
            max_silence,
        };
        (Liveness(Some(heartbeat.clone())), heartbeat)
    }

    /// `Err` with the silence so far when the loop stopped beating.
    pub fn check(&self) -> Result<(), Duration> {
        let Some(h) = &self.0 else { return Ok(()) };
        let last = h.start + Duration::from_millis(h.last_ms.load(Ordering::Relaxed));
        let silence = last.elapsed();
        if silence > h.max_silence {
            Err(silence)
        } else {
            Ok(())
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    readiness: Readiness,
    liveness: Liveness,
}

pub fn router(metrics: Metrics, readiness: Readiness) -> Router {
    router_with_liveness(metrics, readiness, Liveness::always())
}

pub fn router_with_liveness(metrics: Metrics, readiness: Readiness, liveness: Liveness) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/livez", get(live))
        .route("/readyz", get(ready))
        .with_state(AdminState {
            metrics,
            readiness,
            liveness,
        })
}

async fn live(State(s): State<AdminState>) -> (StatusCode, String) {
    match s.liveness.check() {
        Ok(()) => (StatusCode::OK, "ok\n".into()),
        Err(silence) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no progress for {} ms\n", silence.as_millis()),
        ),
    }
}

async fn metrics_text(State(s): State<AdminState>) -> String {
    s.metrics.render()
}

async fn ready(State(s): State<AdminState>) -> (StatusCode, &'static str) {
    if s.readiness.get() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Binds `addr` and serves the admin routes until `shutdown`. Returns the bound address (port 0
/// picks one, for tests).
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    serve_with_liveness(addr, metrics, readiness, Liveness::always(), shutdown).await
}

/// [`serve`], with `/livez` following `liveness`.
pub async fn serve_with_liveness(
    addr: SocketAddr,
    metrics: Metrics,
    readiness: Readiness,
    liveness: Liveness,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router_with_liveness(metrics, readiness, liveness);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn readyz_follows_the_flag_and_metrics_render() {
        let metrics = Metrics::new();
        metrics.observe("/input", "202", std::time::Instant::now());
        let readiness = Readiness::default();
        let app = router(metrics, readiness.clone());
        let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
        let r = app.clone().oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        readiness.set(true);
        let r = app.clone().oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.oneshot(get("/metrics")).await.unwrap();
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("usactar_requests_total{route=\"/input\",status=\"202\"} 1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn livez_follows_the_heartbeat() {
        let (liveness, heartbeat) = Liveness::heartbeat(Duration::from_millis(100));
        let app = router_with_liveness(Metrics::new(), Readiness::default(), liveness);
        let livez = || Request::get("/livez").body(Body::empty()).unwrap();
        heartbeat.beat();
        let r = app.clone().oneshot(livez()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let r = app.clone().oneshot(livez()).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        heartbeat.beat();
        let r = app.oneshot(livez()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
