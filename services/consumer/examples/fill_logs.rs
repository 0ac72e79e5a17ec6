//! Fills `usactar.logs` with N predictions in logs-writer's own document shape
//! ([`consumer::logs::document`]), for the read benchmark (`bench/reads/run.sh`): a big store
//! without waiting for the pipeline to carry it. Matches and scores come from the load's data
//! file, cycled; ids are fresh UUIDv7s, so every document is new.
//!
//! `cargo run --release -p consumer --example fill_logs -- <mongodb uri> <n> <data file>`

use std::time::Instant;

use consumer::dead_letter::Raw;
use consumer::logs::document;
use consumer::pipeline::Record;
use model::Accepted;
use mongodb::bson::{DateTime, Document};

const BATCH: usize = 10_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, uri, n, data] = &args[..] else {
        anyhow::bail!(
            "usage: fill_logs <mongodb uri> <n> <data file (loadgen's predictions.json)>"
        );
    };
    let n: usize = n.parse()?;
    let predictions: Vec<model::Prediction> =
        serde_json::from_str(&std::fs::read_to_string(data)?)?;
    anyhow::ensure!(!predictions.is_empty(), "{data} holds no prediction");
    let client = mongodb::Client::with_uri_str(uri).await?;
    let logs = client.database("usactar").collection::<Document>("logs");
    let started = Instant::now();
    let mut written = 0;
    while written < n {
        let now = DateTime::now();
        let docs: Vec<Document> = (written..(written + BATCH).min(n))
            .map(|i| {
                let record = Record {
                    raw: Raw {
                        partition: (i % 3) as i32,
                        offset: i as i64,
                        key: None,
                        payload: None,
                    },
                    prediction: Accepted::new(predictions[i % predictions.len()].clone()),
                };
                document(&record, now)
            })
            .collect();
        written += docs.len();
        logs.insert_many(docs).ordered(false).await?;
        if written % 100_000 < BATCH {
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
