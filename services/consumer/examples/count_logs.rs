//! Counts `usactar.logs` itself (every document, however long that takes: FerretDB 1.24 reads
//! them all) beside what logs-writer counted in `log_totals`, and prints both as JSON. The
//! pipeline benchmark (`bench/pipeline/curve.py`) runs it once at the end, so its zero-loss check
//! does not rest on the counter alone.
//!
//! `cargo run --release -p consumer --example count_logs -- <mongodb uri>`

use std::time::Instant;

use model::log_layout::LOGS;
use mongodb::bson::{doc, Document};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, uri] = &args[..] else {
        anyhow::bail!("usage: count_logs <mongodb uri>");
    };
    let db = mongodb::Client::with_uri_str(uri)
        .await?
        .database("usactar");
    let started = Instant::now();
    let documents = db
        .collection::<Document>(LOGS)
        .count_documents(doc! {})
        .await?;
    let took_s = started.elapsed().as_secs_f64();
    let counted = consumer::log_totals::LogTotals::new(&db)
        .documents()
        .await?;
    println!(
        "{}",
        serde_json::json!({"documents": documents, "counted": counted, "count_took_s": took_s})
    );
    Ok(())
}
