//! Wiring: build the producer and the routers, bind, serve until shutdown, flush.

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::admin::{self, Liveness};
use service_kit::fatal::Fatal;
use service_kit::metrics::Metrics;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;
use crate::kafka::Kafka;
use crate::routes::{router, AppState};

pub struct Application {
    listener: TcpListener,
    app: axum::Router,
    kafka: Kafka,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    /// Cancelled the shutdown delay after the shutdown token.
    drain: CancellationToken,
    /// Set if the producer failed for good; the process then exits with it.
    fatal: Fatal,
}

impl Application {
    /// Binds both listeners (port 0 picks free ports, for tests) and starts the health check.
    /// The topic is created if missing, but Kafka being down does not stop ingest from
    /// starting: it answers 503 until the broker is back.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let kafka = Kafka::new(&settings)?;
        if let Err(e) = kafka
            .ensure_topic(
                &settings.kafka,
                settings.topic_partitions,
                settings.topic_replication,
            )
            .await
        {
            tracing::warn!(error = %e, "could not make sure the topic exists; producing anyway");
        }
        // /livez fails after MAX_WITHOUT_KAFKA without one answer from Kafka: the last resort
        // for a producer stuck for good (the health watch re-bootstraps one that lost every
        // broker, librdkafka#5301).
        let (liveness, alive) = Liveness::heartbeat(crate::kafka::MAX_WITHOUT_KAFKA);
        alive.beat();
        kafka.watch_health(shutdown.clone(), alive);
        // A producer refused its producer id (no ACL yet, say) never asks again: stop, and exit
        // with the reason, so that a fresh process does.
        let fatal = Fatal::watch(
            "the Kafka producer",
            Duration::from_millis(250),
            shutdown.clone(),
            {
                let kafka = kafka.clone();
                move || kafka.fatal_error()
            },
        );
        // SIGTERM: unready at once (the health watch ends on `shutdown`), listeners closed only
        // after the delay (issue 15 L1).
        let drain = service_kit::shutdown::delayed(&shutdown, settings.shutdown_delay);
        let admin_addr = admin::serve_with_liveness(
            settings.admin_listen,
            metrics.clone(),
            kafka.up.clone(),
            liveness,
            drain.clone(),
        )
        .await?;
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let state = AppState::new(
            kafka.clone(),
            settings.max_batch,
            settings.fixtures.clone(),
            &metrics,
        );
        Ok(Application {
            listener,
            app: router(state, metrics, &settings),
            kafka,
            addr,
            admin_addr,
            drain,
            fatal,
        })
    }

    /// The API's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The port of /metrics, /livez and /readyz.
    pub fn admin_port(&self) -> u16 {
        self.admin_addr.port()
    }

    /// Serves until the shutdown token is cancelled, then delivers whatever is still queued. An
    /// error if the producer failed for good (the process must exit non-zero: see
    /// [`service_kit::fatal`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.addr, admin = %self.admin_addr, "ingest listening");
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(self.drain.cancelled_owned())
            .await?;
        self.kafka.flush(Duration::from_secs(10)).await;
        tracing::info!("ingest stopped; producer flushed");
        Ok(self.fatal.exit()?)
    }
}
