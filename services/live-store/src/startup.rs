//! Wiring: Redis connection, gRPC server with health, admin endpoints, readiness.

use std::net::SocketAddr;
use std::time::Duration;

use live_proto::v1::live_store_server::LiveStoreServer;
use model::RedisKeys;
use service_kit::admin::{self, Readiness};
use service_kit::metrics::Metrics;
use service_kit::readiness::{self, Every};
use service_kit::redis::Reconnecting;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

use crate::aggregates::{Aggregates, CALL_TIMEOUT};
use crate::configuration::Settings;
use crate::service::LiveStoreService;

pub struct Application {
    listener: TcpListener,
    service: LiveStoreService,
    aggregates: Aggregates,
    readiness: Readiness,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    shutdown: CancellationToken,
    /// Cancelled the shutdown delay after `shutdown`.
    drain: CancellationToken,
}

impl Application {
    /// Binds both listeners (port 0 picks free ports, for tests). Redis may be down at start:
    /// the connection is made on first use and again after any failure, and readiness says so
    /// meanwhile.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let redis = Reconnecting::open(
            &settings.redis_url,
            settings.redis_ca_file.as_deref(),
            CALL_TIMEOUT,
        )?;
        let aggregates = Aggregates::new(
            redis,
            RedisKeys::new(settings.redis_prefix.clone()),
            settings.dedup_window,
        );
        let metrics = Metrics::new();
        let readiness = Readiness::default();
        // SIGTERM: unready at once (the readiness watch ends on `shutdown`), listeners closed
        // only after the delay (issue 15 L1).
        let drain = service_kit::shutdown::delayed(&shutdown, settings.shutdown_delay);
        let admin_addr = admin::serve(
            settings.admin_listen,
            metrics.clone(),
            readiness.clone(),
            drain.clone(),
        )
        .await?;
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        Ok(Application {
            listener,
            service: LiveStoreService::new(aggregates.clone(), metrics),
            aggregates,
            readiness,
            addr,
            admin_addr,
            shutdown,
            drain,
        })
    }

    /// The gRPC port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The port of /metrics, /livez and /readyz.
    pub fn admin_port(&self) -> u16 {
        self.admin_addr.port()
    }

    /// Serves until the shutdown token is cancelled; calls in flight finish first.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (health, health_service) = tonic_health::server::health_reporter();
        // Readiness and gRPC health follow Redis: without it, no batch can be applied.
        let aggregates = self.aggregates.clone();
        readiness::watch(
            "redis",
            self.readiness.clone(),
            Every::fixed(Duration::from_secs(1)),
            self.shutdown.clone(),
            move || {
                let aggregates = aggregates.clone();
                let health = health.clone();
                async move {
                    let answer = aggregates.ping().await;
                    if answer.is_ok() {
                        health
                            .set_serving::<LiveStoreServer<LiveStoreService>>()
                            .await;
                    } else {
                        health
                            .set_not_serving::<LiveStoreServer<LiveStoreService>>()
                            .await;
                    }
                    answer
                }
            },
        );
        tracing::info!(addr = %self.addr, admin = %self.admin_addr, "live-store listening");
        tonic::transport::Server::builder()
            .layer(service_kit::telemetry::grpc_layer())
            .add_service(health_service)
            .add_service(LiveStoreServer::new(self.service))
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(self.listener),
                self.drain.cancelled_owned(),
            )
            .await?;
        tracing::info!("live-store stopped");
        Ok(())
    }
}
