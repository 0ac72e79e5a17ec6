//! Times read-api's own log queries ([`read_api::logs::LogStore`]) straight against a store,
//! without HTTP in between: the store benchmark (`bench/store/run.sh`) runs it against FerretDB on
//! SQLite and on PostgreSQL holding the same documents. Prints one line per query: name, answers
//! that came back, errors, p50 and p99 in ms.
//!
//! `cargo run --release -p read-api --example time_queries -- <mongodb uri> <repeats>`

use std::time::{Duration, Instant};

use read_api::filter::MatchFilter;
use read_api::logs::LogStore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, uri, repeats] = &args[..] else {
        anyhow::bail!("usage: time_queries <mongodb uri> <repeats>");
    };
    let repeats: usize = repeats.parse()?;
    // read-api's own bound is 2 s; a longer one here shows how long a query really takes.
    let store = LogStore::connect(uri, "usactar", Duration::from_secs(60)).await?;
    store.ensure_indexes().await?;
    let filter = |phase: Option<u8>, team1: Option<&str>, team2: Option<&str>| MatchFilter {
        phase,
        team1: team1.map(String::from),
        team2: team2.map(String::from),
    };
    // The data file's matches: Argentina v Saudi Arabia is one of its 64 (about 1/64 of the
    // documents), Argentina as team1 about 1/10, phase 1 about 3/4.
    let queries = [
        ("first page", filter(None, None, None)),
        (
            "match page",
            filter(None, Some("Argentina"), Some("Saudi Arabia")),
        ),
        ("team page", filter(None, Some("Argentina"), None)),
        ("phase page", filter(Some(1), None, None)),
    ];
    println!("query\tanswers\terrors\tp50_ms\tp99_ms");
    for (name, f) in &queries {
        time(name, repeats, || async {
            store.page(f, None, 50).await.map(drop)
        })
        .await;
    }
    time("total (log_totals)", repeats, || async {
        store.count().await.map(drop)
    })
    .await;
    Ok(())
}

async fn time<F, Fut, E>(name: &str, repeats: usize, mut query: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut took = Vec::with_capacity(repeats);
    let mut errors = 0;
    let mut last_error = None;
    for _ in 0..repeats {
        let started = Instant::now();
        match query().await {
            Ok(()) => took.push(started.elapsed().as_secs_f64() * 1000.0),
            Err(e) => {
                errors += 1;
                last_error = Some(e.to_string());
            }
        }
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| {
        took.get(((took.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .map_or("-".to_string(), |ms| format!("{ms:.1}"))
    };
    println!(
        "{name}\t{}\t{errors}\t{}\t{}",
        took.len(),
        at(0.5),
        at(0.99)
    );
    if let Some(e) = last_error {
        eprintln!("  {name}: {e}");
    }
}
