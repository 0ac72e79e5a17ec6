//! How long a change takes to reach `/api/live/ws` viewers: opens VIEWERS sockets through the
//! ingress, then posts PROBES predictions of one match, one at a time, and times each from its
//! 202 to the push that shows it on every socket. The viewers benchmark (`bench/viewers/run.sh`)
//! runs it with 1 viewer (the baseline) and with 1,000 while other predictions arrive.
//!
//! `cargo run --release -p read-api --example ws_viewers -- <ingress url> <viewers> <probes> <team1> <team2> <phase>`
//!
//! Prints one JSON object: sockets opened, (probe, viewer) pairs timed and missed, the latency's
//! p50, p99 and max in ms (a push that arrives before the 202 counts as 0 ms), what the sockets
//! received per second while the probes ran, and this process's own CPU seconds.
//!
//! Cheap on purpose: the viewers share the machine with the stack, so a push is not decoded
//! whole; only the probe match's total is read out of its text (checked against a full decode
//! on every snapshot).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use model::push::{MatchView, PushMessage};
use tokio_tungstenite::tungstenite::Message;

/// When each viewer first saw the probe match's total reach each value.
type Seen = Arc<Mutex<Vec<(u64, Instant)>>>;

const BETWEEN_PROBES: Duration = Duration::from_millis(300);
/// How long after the last probe's 202 a viewer may still show it before it counts as missed.
const LATE_LIMIT: Duration = Duration::from_secs(5);

/// What every socket received, counted from the first probe on.
static BYTES: AtomicU64 = AtomicU64::new(0);
static MESSAGES: AtomicU64 = AtomicU64::new(0);
static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, ingress, viewers, probes, team1, team2, phase] = &args[..] else {
        bail!("usage: ws_viewers <ingress url> <viewers> <probes> <team1> <team2> <phase>");
    };
    let (viewers, probes): (usize, u64) = (viewers.parse()?, probes.parse()?);
    let phase: u8 = phase.parse()?;
    let id = format!("{phase}:{team1}:{team2}");
    let ws_url = format!("{}/api/live/ws", ingress.replacen("http", "ws", 1));

    // Open every socket and wait for its snapshot, a few at a time (the ingress and read-api
    // see a crowd arrive, not a single burst of 1,000 handshakes).
    let opened = futures::stream::iter(0..viewers)
        .map(|_| open(&ws_url, &id))
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
    let mut sockets = Vec::new();
    let mut refused = Vec::new();
    for o in opened {
        match o {
            Ok(s) => sockets.push(s),
            Err(e) => refused.push(e.to_string()),
        }
    }
    if sockets.is_empty() {
        bail!("no socket opened: {:?}", refused.first());
    }
    let start_total = sockets.iter().map(|(t, _)| *t).max().unwrap_or(0);
    let seen: Vec<Seen> = sockets.iter().map(|(_, s)| s.clone()).collect();

    let http = reqwest::Client::new();
    let body = serde_json::json!({
        "team1": team1, "team2": team2, "phase": phase, "score": "1-0",
    });
    let mut answered = Vec::new();
    COUNTING.store(true, Ordering::Relaxed);
    let probing = Instant::now();
    for _ in 0..probes {
        let response = http
            .post(format!("{ingress}/input"))
            .json(&body)
            .send()
            .await
            .context("posting a probe")?;
        let at = Instant::now();
        if response.status().as_u16() != 202 {
            bail!("a probe was answered {}", response.status());
        }
        answered.push(at);
        tokio::time::sleep(BETWEEN_PROBES).await;
    }
    tokio::time::sleep(LATE_LIMIT).await;
    let probing_s = probing.elapsed().as_secs_f64();
    let (bytes, messages) = (
        BYTES.load(Ordering::Relaxed),
        MESSAGES.load(Ordering::Relaxed),
    );

    let mut latencies = Vec::new();
    let mut missed = 0usize;
    for viewer in &seen {
        let viewer = viewer.lock().expect("seen lock");
        for (i, at) in answered.iter().enumerate() {
            let want = start_total + i as u64 + 1;
            match viewer.iter().find(|(total, _)| *total >= want) {
                Some((_, when)) => {
                    latencies.push(when.saturating_duration_since(*at).as_secs_f64() * 1e3)
                }
                None => missed += 1,
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        latencies
            .get(((q * latencies.len() as f64).ceil() as usize).saturating_sub(1))
            .copied()
    };
    println!(
        "{}",
        serde_json::json!({
            "viewers": viewers,
            "sockets_opened": sockets.len(),
            "sockets_refused": refused.len(),
            "first_refusal": refused.first(),
            "probes": probes,
            "pairs_timed": latencies.len(),
            "pairs_missed": missed,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "max_ms": latencies.last(),
            "received_mb_per_s": bytes as f64 / probing_s / 1e6,
            "messages_per_s": messages as f64 / probing_s,
            "mean_message_kb": if messages > 0 { bytes as f64 / messages as f64 / 1e3 } else { 0.0 },
            "own_cpu_s": own_cpu_seconds(),
        })
    );
    Ok(())
}

/// Opens one socket, waits for its snapshot, and keeps reading it in a task that notes each
/// new total of match `id`. Returns the snapshot's total of `id`.
async fn open(url: &str, id: &str) -> anyhow::Result<(u64, Seen)> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .context("opening the socket")?;
    let first = tokio::time::timeout(Duration::from_secs(30), socket.next())
        .await
        .context("no snapshot within 30 s")?
        .context("closed before its snapshot")??;
    let total = match decode(&first)? {
        Some(PushMessage::Snapshot(view)) => {
            let total = total_of(view.phases.iter().flat_map(|p| &p.matches), id);
            let Message::Text(text) = &first else {
                unreachable!("decoded from text")
            };
            // The shortcut the reading task takes must read what a full decode reads.
            if total.is_some() && probe_total(text, id) != total {
                bail!("reading the total out of the text disagrees with decoding it");
            }
            total.unwrap_or(0)
        }
        other => bail!("the first message was not a snapshot: {other:?}"),
    };
    let seen: Seen = Arc::new(Mutex::new(vec![(total, Instant::now())]));
    let notes = seen.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let now = Instant::now();
            let Message::Text(text) = &message else {
                continue;
            };
            if COUNTING.load(Ordering::Relaxed) {
                BYTES.fetch_add(text.len() as u64, Ordering::Relaxed);
                MESSAGES.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(total) = probe_total(text, &id) {
                let mut notes = notes.lock().expect("seen lock");
                if notes.last().is_none_or(|(t, _)| total > *t) {
                    notes.push((total, now));
                }
            }
        }
    });
    Ok((total, seen))
}

/// The total of match `id` in a push's text: the number after the first `"total":` that follows
/// its `"id"` (a match's fields serialize in [`MatchView`]'s order: id, phase, teams, total).
fn probe_total(text: &str, id: &str) -> Option<u64> {
    let at = text.find(&format!("\"id\":\"{id}\""))?;
    let rest = &text[at..];
    let from = rest.find("\"total\":")? + "\"total\":".len();
    let digits: String = rest[from..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// This process's user + system CPU seconds (/proc reports them in USER_HZ, 100 per second).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn decode(message: &Message) -> anyhow::Result<Option<PushMessage>> {
    match message {
        Message::Text(text) => Ok(Some(serde_json::from_str(text)?)),
        _ => Ok(None),
    }
}

fn total_of<'a>(mut matches: impl Iterator<Item = &'a MatchView>, id: &str) -> Option<u64> {
    matches.find(|m| m.id == id).map(|m| m.total)
}
