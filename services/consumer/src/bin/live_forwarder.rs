//! live-forwarder: group `live` → gRPC ApplyBatch → live-store (across the cluster boundary).

use consumer::configuration::{ConsumerConfig, LiveStoreConfig};
use consumer::live::GrpcSink;
use consumer::pipeline;
use service_kit::config::ProcessEnv;
use service_kit::metrics::Metrics;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("live-forwarder");
    let config = ConsumerConfig::from_env(&ProcessEnv, "live", ([127, 0, 0, 1], 9185).into())?;
    let live = LiveStoreConfig::from_env(&ProcessEnv)?;
    let shutdown = service_kit::shutdown::on_signal();
    pipeline::serve(&config, Metrics::new(), GrpcSink::new(&live)?, shutdown).await
}
