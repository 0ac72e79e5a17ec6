//! logs-writer: group `logs` → MongoDB `usactar.logs`.

use std::time::Duration;

use consumer::configuration::{ConsumerConfig, MongoConfig};
use consumer::logs::MongoSink;
use consumer::pipeline;
use service_kit::config::ProcessEnv;
use service_kit::metrics::Metrics;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("logs-writer");
    let config = ConsumerConfig::from_env(&ProcessEnv, "logs", ([127, 0, 0, 1], 9184).into())?;
    let mongo = MongoConfig::from_env(&ProcessEnv);
    let shutdown = service_kit::shutdown::on_signal();
    let client = mongodb::Client::with_uri_str(&mongo.uri).await?;
    // MongoDB may still be starting; the index is an optimisation, so keep trying in the
    // background rather than refusing to start.
    let index_sink = MongoSink::new(&client, &mongo.database);
    tokio::spawn(async move {
        for attempt in 1..=30 {
            match index_sink.ensure_indexes().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "could not create the received_at index yet")
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let sink = MongoSink::new(&client, &mongo.database);
    pipeline::serve(&config, Metrics::new(), sink, shutdown).await
}
