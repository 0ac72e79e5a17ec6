//! Wiring: Redis connection, gRPC server with health, admin endpoints, readiness.

use std::net::SocketAddr;
use std::time::Duration;

use live_proto::v1::live_store_server::LiveStoreServer;
use service_kit::admin::{self, Readiness};
use service_kit::metrics::Metrics;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

use crate::aggregates::Aggregates;
use crate::configuration::Config;
use crate::service::LiveStoreService;

pub struct Application {
    listener: TcpListener,
    service: LiveStoreService,
    aggregates: Aggregates,
    readiness: Readiness,
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds both listeners (port 0 for tests). Redis may be down at start: the connection
    /// manager reconnects, and readiness says so meanwhile.
    pub async fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let client = redis::Client::open(config.redis_url.as_str())?;
        // Redis may be down at start: the first batch (or readiness check) connects.
        let aggregates = Aggregates::new(
            client,
            config.redis_prefix.clone(),
            config.seen_ttl.as_secs(),
        );
        let metrics = Metrics::new();
        let readiness = Readiness::default();
        let admin_addr = admin::serve(
            config.admin_listen,
            metrics.clone(),
            readiness.clone(),
            shutdown.clone(),
        )
        .await?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        Ok(Application {
            listener,
            service: LiveStoreService::new(aggregates.clone(), metrics),
            aggregates,
            readiness,
            addr,
            admin_addr,
            shutdown,
        })
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let (health, health_service) = tonic_health::server::health_reporter();
        // Readiness and gRPC health follow Redis: without it, no batch can be applied.
        let aggregates = self.aggregates.clone();
        let readiness = self.readiness.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let ok = aggregates.ping().await.is_ok();
                if ok != readiness.get() {
                    tracing::info!(redis_up = ok, "Redis availability changed");
                }
                readiness.set(ok);
                if ok {
                    health
                        .set_serving::<LiveStoreServer<LiveStoreService>>()
                        .await;
                } else {
                    health
                        .set_not_serving::<LiveStoreServer<LiveStoreService>>()
                        .await;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        tracing::info!(addr = %self.addr, admin = %self.admin_addr, "live-store listening");
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(LiveStoreServer::new(self.service))
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(self.listener),
                self.shutdown.cancelled_owned(),
            )
            .await?;
        tracing::info!("live-store stopped");
        Ok(())
    }
}
