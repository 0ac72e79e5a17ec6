//! Where the time goes between a fan's POST and the prediction on /live: predictions sent one at
//! a time to an idle pipeline, each followed until the page's WebSocket shows it, with the
//! stages timed on the machine's one clock (client, ingest's `received_at`, logs-writer's
//! `logged_at`) and the services' own write latencies from their /metrics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures::StreamExt;
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};

use model::push::PushMessage;
use model::Prediction;

use super::stats::Distribution;
use super::writer;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visibility {
    pub predictions: usize,
    /// Client POST → ingest's `received_at` (HTTP, NGINX, routing).
    pub post_to_received: Option<Distribution>,
    /// `received_at` → the 202 at the client (validation, produce, acks=all, answer).
    pub received_to_accepted: Option<Distribution>,
    /// The client's whole POST → 202.
    pub post_to_accepted: Option<Distribution>,
    /// 202 → logs-writer's `logged_at` in MongoDB (consume, batch wait, insert).
    pub accepted_to_logged: Option<Distribution>,
    /// 202 → the WebSocket push of /live whose total includes it.
    pub accepted_to_live: Option<Distribution>,
    /// Predictions whose push never came within 10 s.
    pub not_seen_on_live: usize,
    /// Mean latency of the services' writes while this ran, from their own histograms (ms).
    pub server_means_ms: Vec<(String, Option<f64>)>,
}

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        * 1000.0
}

/// (sum in seconds, count) of `usactar_request_duration_seconds{route}` at a /metrics URL.
pub async fn route_histogram(metrics_url: &str, route: &str) -> Option<(f64, f64)> {
    let text = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
    let label = format!("route=\"{route}\"");
    let find = |name: &str| {
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    Some((
        find("usactar_request_duration_seconds_sum"),
        find("usactar_request_duration_seconds_count"),
    ))
}

/// `(name, /metrics URL, route)` of the writes whose mean is reported.
pub type ServerWrite = (String, String, String);

pub async fn measure(
    ingress: &str,
    mongo_uri: &str,
    data: &[Prediction],
    count: usize,
    server_writes: &[ServerWrite],
) -> Result<Visibility> {
    let ws_url = format!("{}/api/live/ws", ingress.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .with_context(|| format!("opening {ws_url}"))?;
    // (wall ms at receipt, total) of every push that carries the grand total.
    let totals: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    let reader = tokio::spawn({
        let totals = totals.clone();
        async move {
            while let Some(Ok(message)) = socket.next().await {
                let at = wall_ms();
                let Ok(text) = message.to_text() else {
                    continue;
                };
                let total = match serde_json::from_str::<PushMessage>(text) {
                    Ok(PushMessage::Snapshot(view)) => view.total,
                    Ok(PushMessage::Live { total, .. }) => total,
                    _ => continue,
                };
                totals.lock().expect("totals").push((at, total));
            }
        }
    });
    let first_total = retry::poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
        let totals = totals.clone();
        async move {
            totals
                .lock()
                .expect("totals")
                .last()
                .map(|t| t.1)
                .ok_or("no snapshot yet")
        }
    })
    .await
    .context("/api/live/ws sent no snapshot within 10 s")?;

    let mut before = Vec::new();
    for (_, url, route) in server_writes {
        before.push(route_histogram(url, route).await);
    }
    let http = writer::client();
    let input = format!("{ingress}/input");
    // (post wall ms, 202 wall ms, id, push wall ms)
    let mut followed = Vec::new();
    // The live total each prediction must reach once it is counted.
    for (expected, p) in (first_total + 1..).zip(data.iter().cycle().take(count)) {
        let posted = wall_ms();
        let (status, id) = writer::post(&http, &input, p).await;
        let accepted = wall_ms();
        let id = match (status, id) {
            (202, Some(id)) => id,
            _ => anyhow::bail!("ingest answered {status} to a prediction on an idle pipeline"),
        };
        let seen = retry::poll_until(Duration::from_secs(10), Duration::from_millis(2), || {
            let totals = totals.clone();
            async move {
                let totals = totals.lock().expect("totals");
                totals
                    .iter()
                    .find(|(_, t)| *t >= expected)
                    .map(|(at, _)| *at)
                    .ok_or("not on /live yet")
            }
        })
        .await
        .ok();
        followed.push((posted, accepted, id, seen));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reader.abort();
    let mut server_means_ms = Vec::new();
    for ((name, url, route), b) in server_writes.iter().zip(before) {
        let a = route_histogram(url, route).await;
        let mean = match (b, a) {
            (Some((s0, c0)), Some((s1, c1))) if c1 > c0 => Some((s1 - s0) / (c1 - c0) * 1000.0),
            _ => None,
        };
        server_means_ms.push((name.clone(), mean));
    }

    // The log documents, once logs-writer has them all.
    let mongo = mongodb::Client::with_uri_str(mongo_uri).await?;
    let logs = mongo.database("usactar").collection::<Document>("logs");
    let ids: Vec<&str> = followed.iter().map(|f| f.2.as_str()).collect();
    let docs: Vec<Document> =
        retry::poll_until(Duration::from_secs(15), Duration::from_millis(200), || {
            let (logs, ids) = (logs.clone(), ids.clone());
            async move {
                let Ok(cursor) = logs.find(doc! {"_id": {"$in": ids.clone()}}).await else {
                    return Err("MongoDB did not answer");
                };
                let docs: Vec<Document> = cursor.filter_map(|d| async { d.ok() }).collect().await;
                (docs.len() == ids.len())
                    .then_some(docs)
                    .ok_or("not all in MongoDB yet")
            }
        })
        .await
        .context("the followed predictions did not all reach MongoDB within 15 s")?;
    mongo.shutdown().await;
    let time_of = |d: &Document, field: &str| {
        d.get_datetime(field)
            .ok()
            .map(|t| t.timestamp_millis() as f64)
    };

    let (mut to_received, mut to_accepted, mut whole, mut to_logged, mut to_live) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (posted, accepted, id, seen) in &followed {
        whole.push(accepted - posted);
        if let Some(seen) = seen {
            to_live.push(seen - accepted);
        }
        let Some(d) = docs
            .iter()
            .find(|d| d.get_str("_id").ok() == Some(id.as_str()))
        else {
            continue;
        };
        if let (Some(received), Some(logged)) = (time_of(d, "received_at"), time_of(d, "logged_at"))
        {
            to_received.push((received - posted).max(0.0));
            to_accepted.push(accepted - received);
            to_logged.push(logged - accepted);
        }
    }
    Ok(Visibility {
        predictions: followed.len(),
        post_to_received: Distribution::of(&to_received),
        received_to_accepted: Distribution::of(&to_accepted),
        post_to_accepted: Distribution::of(&whole),
        accepted_to_logged: Distribution::of(&to_logged),
        accepted_to_live: Distribution::of(&to_live),
        not_seen_on_live: followed.iter().filter(|f| f.3.is_none()).count(),
        server_means_ms,
    })
}
