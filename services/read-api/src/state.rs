//! What every handler shares, and how it is made.

use model::RedisKeys;
use prometheus::IntGaugeVec;
use service_kit::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::configuration::{AdminToken, Settings};
use crate::hub::{LiveHub, LogsHub, SharedReads};
use crate::live::LiveReader;
use crate::logs::LogStore;
use crate::push::admit::Admission;

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub live: LiveReader,
    pub logs: LogStore,
    pub admin_token: Option<AdminToken>,
    /// Failed purge attempts, limited.
    pub purge_attempts: std::sync::Arc<crate::routes::Attempts>,
    pub live_hub: LiveHub,
    pub logs_hub: LogsHub,
    /// `usactar_websockets_open{stream}`.
    pub open_sockets: IntGaugeVec,
    /// Who may open a socket, and the room for more.
    pub admission: Admission,
    /// `/api/stats`, read once for every request in [`crate::routes::STATS_FRESH`].
    pub stats: SharedReads<(), crate::routes::Stats>,
    /// Cancelled on SIGTERM; open sockets close when it is.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// The stores and the push hubs (whose tasks start here), registering the socket gauge in
    /// `metrics`. Separate from `Application::build` so tests can drive the router directly.
    pub async fn build(
        settings: &Settings,
        metrics: &Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<AppState> {
        let open_sockets = metrics.gauge(
            "websockets_open",
            "WebSocket connections open, by stream",
            &["stream"],
        );
        // Both series exist from the start, so dashboards show 0 rather than nothing.
        for stream in ["live", "logs"] {
            open_sockets.with_label_values(&[stream]).set(0);
        }
        let snapshot_reads = metrics
            .counter(
                "live_snapshot_reads_total",
                "Full live snapshots read from Redis for sockets (shared between them)",
                &[],
            )
            .with_label_values(&[] as &[&str]);
        let live = LiveReader::new(
            &settings.redis_url,
            settings.redis_ca_file.as_deref(),
            RedisKeys::new(settings.redis_prefix.clone()),
            settings.fixtures.clone(),
            settings.backend_timeout,
        )?;
        let logs = LogStore::connect(
            &settings.mongo_uri,
            &settings.mongo_db,
            settings.backend_timeout,
        )
        .await?
        .limiting_pages(settings.max_log_queries)
        .counting_undecodable(
            metrics
                .counter(
                    "logs_undecodable_total",
                    "Log documents skipped because they do not decode",
                    &[],
                )
                .with_label_values(&[] as &[&str]),
        );
        let stats_reads = metrics
            .counter(
                "stats_reads_total",
                "Reads of both stores for /api/stats (shared between requests)",
                &[],
            )
            .with_label_values(&[] as &[&str]);
        Ok(AppState {
            stats: SharedReads::new(crate::routes::STATS_FRESH, stats_reads),
            live_hub: LiveHub::start(live.clone(), snapshot_reads, shutdown.clone()),
            logs_hub: LogsHub::new(logs.clone(), shutdown.clone()),
            live,
            logs,
            admin_token: settings.admin_token.clone(),
            purge_attempts: Default::default(),
            open_sockets,
            admission: Admission::new(&settings.cors_origins, settings.max_sockets),
            shutdown,
        })
    }
}
