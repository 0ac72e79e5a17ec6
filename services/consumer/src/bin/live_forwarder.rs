//! live-forwarder: group `live` → gRPC ApplyBatch → live-store (across the cluster boundary).

use consumer::configuration::{ConsumerConfig, LiveStoreConfig};
use consumer::live::GrpcSink;
use consumer::pipeline;
use service_kit::admin::{self, Readiness};
use service_kit::config::ProcessEnv;
use service_kit::metrics::Metrics;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("live-forwarder");
    let config = ConsumerConfig::from_env(&ProcessEnv, "live", ([127, 0, 0, 1], 9185).into())?;
    let live = LiveStoreConfig::from_env(&ProcessEnv)?;
    let shutdown = service_kit::shutdown::on_signal();
    let metrics = Metrics::new();
    let ready = Readiness::default();
    admin::serve(
        config.admin_listen,
        metrics.clone(),
        ready.clone(),
        shutdown.clone(),
    )
    .await?;
    let sink = GrpcSink::new(&live)?;
    let consumer = pipeline::consumer(&config, &metrics)?;
    pipeline::run(consumer, sink, &config, &metrics, ready, shutdown).await;
    Ok(())
}
