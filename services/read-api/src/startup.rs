//! The router and the running application: API listener, admin listener, background tasks.

use std::net::SocketAddr;
use std::time::Duration;

use axum::middleware;
use axum::routing::get;
use axum::Router;
use retry::Backoff;
use service_kit::admin;
use service_kit::metrics::{track, Metrics};
use service_kit::readiness::{self, Every, Readiness};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;
use crate::live::LiveReader;
use crate::logs::LogStore;
use crate::state::AppState;
use crate::{push, routes};

pub fn router(state: AppState, metrics: Metrics) -> Router {
    Router::new()
        .route("/api/live", get(routes::live))
        .route("/api/live/ws", get(push::live_ws))
        .route("/api/logs", get(routes::logs).delete(routes::purge))
        .route("/api/logs/ws", get(push::logs_ws))
        .route("/api/stats", get(routes::stats))
        .route("/api/config", get(routes::config))
        .route("/openapi.json", get(routes::openapi))
        .with_state(state)
        .layer(middleware::from_fn_with_state(metrics, track))
        .layer(service_kit::telemetry::http_layer())
}

/// Lets the listed origins (the Cloud Run front end) call the API, purge included; `*` lets any
/// origin (no credentials are involved: purge takes its token in a header).
fn with_cors(router: Router, origins: &[String]) -> anyhow::Result<Router> {
    if origins.is_empty() {
        return Ok(router);
    }
    let cors = tower_http::cors::CorsLayer::new()
        .allow_methods([axum::http::Method::GET, axum::http::Method::DELETE])
        .allow_headers([axum::http::header::AUTHORIZATION]);
    if origins.iter().any(|o| o == "*") {
        // tower-http refuses `*` inside a list (it panics); it has its own way to say "any".
        return Ok(router.layer(cors.allow_origin(tower_http::cors::Any)));
    }
    let origins = origins
        .iter()
        .map(|o| o.parse::<axum::http::HeaderValue>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("USACTAR_CORS_ORIGINS: {e}"))?;
    Ok(router.layer(cors.allow_origin(origins)))
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    admin_port: u16,
    /// Cancelled [`Settings::shutdown_delay`] after the shutdown token.
    drain: CancellationToken,
}

impl Application {
    /// Binds both listeners and starts the background tasks. Redis and MongoDB may be down:
    /// the service starts anyway, not ready, and heals when they return.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let state = AppState::build(&settings, &metrics, shutdown.clone()).await?;
        let readiness = Readiness::default();
        // SIGTERM: unready at once (the readiness watch ends on `shutdown`), listeners closed
        // only after the delay (issue 15 L1).
        let drain = service_kit::shutdown::delayed(&shutdown, settings.shutdown_delay);
        let admin_addr: SocketAddr = admin::serve(
            settings.admin_listen,
            metrics.clone(),
            readiness.clone(),
            drain.clone(),
        )
        .await?;
        watch_readiness(
            state.live.clone(),
            state.logs.clone(),
            readiness,
            shutdown.clone(),
        );
        tokio::spawn(create_index(state.logs.clone(), shutdown.clone()));

        let listener = TcpListener::bind(settings.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            router: with_cors(
                // After the metrics layer: the war zone's polling is not read-api's traffic.
                router(state, metrics).merge(warzone::router(&settings.warzone)),
                &settings.cors_origins,
            )?,
            port,
            admin_port: admin_addr.port(),
            drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Serves until the shutdown delay after the shutdown token has passed (unready meanwhile),
    /// then stops accepting and lets requests in flight finish (sockets close themselves at the
    /// shutdown token).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(
            port = self.port,
            admin_port = self.admin_port,
            "read-api listening"
        );
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(self.drain.cancelled_owned())
            .await?;
        tracing::info!("read-api stopped");
        Ok(())
    }
}

/// Ready means both stores answer now; checked every second so /readyz is cheap.
fn watch_readiness(
    live: LiveReader,
    logs: LogStore,
    readiness: Readiness,
    shutdown: CancellationToken,
) {
    readiness::watch(
        "redis and mongodb",
        readiness,
        Every::fixed(Duration::from_secs(1)),
        shutdown,
        move || {
            let (live, logs) = (live.clone(), logs.clone());
            async move {
                let (redis, mongo) = tokio::join!(live.ping(), logs.ping());
                let failures: Vec<String> = [redis.err(), mongo.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect();
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(failures.join("; "))
                }
            }
        },
    );
}

/// The logs' indexes ([`crate::logs::INDEXES`]), retried until MongoDB answers.
async fn create_index(logs: LogStore, shutdown: CancellationToken) {
    Backoff::new(Duration::from_millis(500), Duration::from_secs(10))
        .retry(
            &shutdown,
            || logs.ensure_indexes(),
            |e, _| tracing::warn!(error = %e, "cannot create the logs indexes yet"),
        )
        .await;
}
