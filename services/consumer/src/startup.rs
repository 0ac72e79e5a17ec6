//! Wiring of one container: the admin listener, the consumer of the group, the sink of its
//! role; then the loop until shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::admin::{self, Heartbeat, Liveness, Readiness};
use service_kit::fatal::Fatal;
use service_kit::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::configuration::{Downstream, Settings};
use crate::dead_letter::DeadLetters;
use crate::live::GrpcSink;
use crate::logs::MongoSink;
use crate::pipeline::{self, PredictionConsumer, Record, Sink, WriteError};

pub struct Application {
    settings: Settings,
    consumer: PredictionConsumer,
    sink: RoleSink,
    dead_letters: DeadLetters,
    metrics: Metrics,
    readiness: Readiness,
    heartbeat: Heartbeat,
    admin_addr: SocketAddr,
    shutdown: CancellationToken,
    /// Set if the dead-letter producer failed for good; the process then exits with it.
    fatal: Fatal,
}

impl Application {
    /// Binds the admin listener (port 0 picks a free port, for tests), joins the group and
    /// prepares the sink. Neither Kafka nor the downstream need be up yet: the loop waits for
    /// records and retries writes.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let readiness = Readiness::default();
        // /livez follows the loop's progress, not just the process (issue 15 M9).
        let (liveness, heartbeat) = Liveness::heartbeat(pipeline::MAX_SILENCE);
        heartbeat.beat();
        let admin_addr = admin::serve_with_liveness(
            settings.admin_listen,
            metrics.clone(),
            readiness.clone(),
            liveness,
            shutdown.clone(),
        )
        .await?;
        let sink = match &settings.downstream {
            Downstream::MongoDb(mongo) => {
                let client = mongodb::Client::with_uri_str(&mongo.uri).await?;
                // No index of its own: read-api creates those its queries use (a `received_at`
                // index that nothing read cost the store a quarter of its CPU per insert).
                let sink = MongoSink::new(&client, &mongo.database, mongo.write_deadline)
                    .with_fixtures(mongo.fixtures.clone());
                RoleSink::Logs(sink)
            }
            Downstream::LiveStore(endpoint) => {
                RoleSink::Live(GrpcSink::new(endpoint, &settings.topic)?)
            }
        };
        let consumer =
            pipeline::consumer(&settings, &metrics, crate::group::GroupWatch::default())?;
        let dead_letters = DeadLetters::new(&settings, &metrics)?;
        // Its producer asks for a producer id at once; refused (no ACL yet, say), it never asks
        // again, and the first dead letter would wait for it forever: stop, and exit with the
        // reason, so that a fresh process does.
        let fatal = Fatal::watch(
            "the dead-letter producer",
            Duration::from_millis(250),
            shutdown.clone(),
            dead_letters.fatal_check(),
        );
        Ok(Application {
            settings,
            consumer,
            sink,
            dead_letters,
            metrics,
            readiness,
            heartbeat,
            admin_addr,
            shutdown,
            fatal,
        })
    }

    /// The port of /metrics, /livez and /readyz.
    pub fn admin_port(&self) -> u16 {
        self.admin_addr.port()
    }

    /// Runs the loop until the shutdown token is cancelled; offsets are committed on the way out.
    /// An error if the dead-letter producer failed for good (see [`service_kit::fatal`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(
            group = %self.settings.group,
            topic = %self.settings.topic,
            admin = %self.admin_addr,
            "consuming"
        );
        pipeline::run(
            self.consumer,
            self.sink,
            self.dead_letters,
            &self.settings,
            &self.metrics,
            self.readiness,
            self.heartbeat,
            self.shutdown,
        )
        .await;
        Ok(self.fatal.exit()?)
    }
}

/// The sink of this container's role.
enum RoleSink {
    Logs(MongoSink),
    Live(GrpcSink),
}

impl Sink for RoleSink {
    fn route(&self) -> &'static str {
        match self {
            RoleSink::Logs(sink) => sink.route(),
            RoleSink::Live(sink) => sink.route(),
        }
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), WriteError> {
        match self {
            RoleSink::Logs(sink) => sink.write(batch).await,
            RoleSink::Live(sink) => sink.write(batch).await,
        }
    }
}
