//! The load during an experiment: writers posting predictions through loadgen, and viewers
//! reading `/api/live` and holding its WebSocket open, as fans on the /live page would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::kit::series::{percentile, GoldenSecond};

/// What the viewers saw, request by request and socket by socket.
#[derive(Debug, Default)]
struct Seen {
    /// (seconds since the load started at the answer, ok, latency ms) per GET /api/live.
    reads: Vec<(f64, bool, f64)>,
    /// Seconds since the start at which a live socket dropped.
    drops: Vec<f64>,
    /// Pushes received over the live sockets.
    pushes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SocketStats {
    pub viewers: usize,
    pub pushes: u64,
    pub drops: usize,
}

/// Viewers that run until cancelled.
pub struct Viewers {
    seen: Arc<Mutex<Seen>>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    viewers: usize,
}

impl Viewers {
    /// `ingress` is `http://host:port`. Each viewer reads `/api/live` twice a second and keeps a
    /// WebSocket to `/api/live/ws`, reconnecting when it drops.
    pub fn start(ingress: &str, viewers: usize, started: Instant) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let cancel = CancellationToken::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        let mut tasks = Vec::new();
        for _ in 0..viewers {
            let (reads, stop, http) = (seen.clone(), cancel.clone(), http.clone());
            let url = format!("{ingress}/api/live");
            tasks.push(tokio::spawn(async move {
                let (seen, cancel) = (reads, stop);
                while !cancel.is_cancelled() {
                    let begin = Instant::now();
                    let ok = match http.get(&url).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    let ms = begin.elapsed().as_secs_f64() * 1000.0;
                    // A request counts in the second it ends, when its outcome is known (as in
                    // loadgen): one cut short by a kill belongs to the fault, not before it.
                    let t = started.elapsed().as_secs_f64();
                    seen.lock().expect("seen").reads.push((t, ok, ms));
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }));
            let (seen, cancel) = (seen.clone(), cancel.clone());
            let ws = format!("{}/api/live/ws", ingress.replacen("http", "ws", 1));
            tasks.push(tokio::spawn(async move {
                // Reconnects a quarter-second after each drop, as a page would, until cancelled.
                let mut reconnect =
                    retry::Backoff::new(Duration::from_millis(250), Duration::from_millis(250));
                while !cancel.is_cancelled() {
                    if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&ws).await {
                        loop {
                            tokio::select! {
                                _ = cancel.cancelled() => return,
                                message = socket.next() => match message {
                                    Some(Ok(m)) if m.is_text() => seen.lock().expect("seen").pushes += 1,
                                    Some(Ok(_)) => {}
                                    _ => break,
                                }
                            }
                        }
                        seen.lock().expect("seen").drops.push(started.elapsed().as_secs_f64());
                    }
                    if !reconnect.sleep_or_stop(&cancel).await {
                        return;
                    }
                }
            }));
        }
        Viewers {
            seen,
            cancel,
            tasks,
            viewers,
        }
    }

    /// Stops the viewers; returns their per-second series and socket counts.
    pub async fn stop(self) -> (Vec<GoldenSecond>, SocketStats) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let seen = std::mem::take(&mut *self.seen.lock().expect("seen"));
        let stats = SocketStats {
            viewers: self.viewers,
            pushes: seen.pushes,
            drops: seen.drops.len(),
        };
        (per_second(&seen.reads), stats)
    }
}

/// Groups (t, ok, ms) samples into per-second points.
pub fn per_second(samples: &[(f64, bool, f64)]) -> Vec<GoldenSecond> {
    let mut seconds: BTreeMap<u64, Vec<(bool, f64)>> = BTreeMap::new();
    for (t, ok, ms) in samples {
        seconds
            .entry(t.max(0.0) as u64)
            .or_default()
            .push((*ok, *ms));
    }
    seconds
        .into_iter()
        .map(|(t, s)| {
            let ok = s.iter().filter(|(ok, _)| *ok).count();
            let ms: Vec<f64> = s.iter().map(|(_, ms)| *ms).collect();
            GoldenSecond {
                t: t as f64,
                rps: s.len() as f64,
                success: Some(ok as f64 / s.len() as f64),
                p50_ms: percentile(&ms, 0.5),
                p95_ms: percentile(&ms, 0.95),
                p99_ms: percentile(&ms, 0.99),
            }
        })
        .collect()
}

/// loadgen's per-second series as golden-metrics points, shifted so `t` counts from `offset`
/// seconds after the experiment's start.
pub fn writer_points(summary: &loadgen::Summary, offset: f64) -> Vec<GoldenSecond> {
    summary
        .series
        .iter()
        .map(|s| GoldenSecond {
            t: s.second as f64 + offset,
            rps: s.requests as f64,
            success: (s.requests > 0).then_some(s.success_rate),
            p50_ms: (s.requests > 0).then_some(s.p50_ms),
            p95_ms: (s.requests > 0).then_some(s.p95_ms),
            p99_ms: (s.requests > 0).then_some(s.p99_ms),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_group_by_second() {
        let points = per_second(&[(0.1, true, 5.0), (0.9, false, 50.0), (1.2, true, 7.0)]);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].rps, 2.0);
        assert_eq!(points[0].success, Some(0.5));
        assert_eq!(points[0].p99_ms, Some(50.0));
        assert_eq!(points[1].t, 1.0);
    }
}
