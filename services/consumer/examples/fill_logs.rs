//! Fills `usactar.logs` with N predictions through logs-writer's own sink
//! ([`consumer::logs::MongoSink`]: its documents, and their counts in `log_totals`), for the read
//! benchmark (`bench/reads/run.sh`): a big store without waiting for the pipeline to carry it. Matches and scores come from the load's data
//! file, cycled; ids are fresh UUIDv7s, so every document is new.
//!
//! `cargo run --release -p consumer --example fill_logs -- <mongodb uri> <n> <data file> [batch]`
//!
//! `batch` (default 10,000) is the documents per `insert_many`; logs-writer's is 500.

use std::time::Instant;

use consumer::logs::MongoSink;
use consumer::pipeline::{Record, Sink};
use model::Accepted;

const DEFAULT_BATCH: usize = 10_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (uri, n, data, batch_size) = match &args[..] {
        [_, uri, n, data] => (uri, n, data, DEFAULT_BATCH),
        [_, uri, n, data, batch] => (uri, n, data, batch.parse()?),
        _ => anyhow::bail!(
            "usage: fill_logs <mongodb uri> <n> <data file (loadgen's predictions.json)> [batch]"
        ),
    };
    anyhow::ensure!(batch_size > 0, "the batch holds at least one document");
    let n: usize = n.parse()?;
    let predictions: Vec<model::Prediction> =
        serde_json::from_str(&std::fs::read_to_string(data)?)?;
    anyhow::ensure!(!predictions.is_empty(), "{data} holds no prediction");
    let client = mongodb::Client::with_uri_str(uri).await?;
    let mut sink = MongoSink::new(&client, "usactar", std::time::Duration::from_secs(120));
    // Offsets go on from what an earlier fill counted, so a second fill is counted too.
    let first_offset = consumer::log_totals::LogTotals::new(&client.database("usactar"))
        .next_offset()
        .await?;
    let started = Instant::now();
    let mut written = 0;
    while written < n {
        let batch: Vec<Record> = (written..(written + batch_size).min(n))
            .map(|i| {
                Record::at(
                    (i % 3) as i32,
                    first_offset + i as i64,
                    Accepted::new(predictions[i % predictions.len()].clone()),
                )
            })
            .collect();
        written += batch.len();
        sink.write(&batch)
            .await
            .map_err(|e| anyhow::anyhow!("writing {} documents: {e:?}", batch.len()))?;
        if written % 100_000 < batch_size {
            eprintln!(
                "  {written} of {n} written ({:.0}/s)",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "{n} documents written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
