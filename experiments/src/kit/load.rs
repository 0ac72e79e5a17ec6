//! The load during an experiment: writers posting predictions through loadgen, and viewers
//! reading `/api/live` and holding its WebSocket open, as fans on the /live page would.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::kit::signals::{Pushes, Request};

/// What the viewers saw, request by request and push by push.
#[derive(Debug, Default)]
struct Seen {
    reads: Vec<Request>,
    /// Per viewer: (seconds since the start, the grand total) of each push that carried one.
    pushes: Vec<Vec<(f64, u64)>>,
    /// Seconds since the start at which a live socket dropped.
    drops: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SocketStats {
    pub viewers: usize,
    pub pushes: u64,
    pub drops: usize,
}

/// What the viewers measured: every GET /api/live, every push, every dropped socket.
#[derive(Debug, Default)]
pub struct Viewed {
    pub reads: Vec<Request>,
    pub pushes: Pushes,
    pub sockets: SocketStats,
}

/// Viewers that run until cancelled.
pub struct Viewers {
    seen: Arc<Mutex<Seen>>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    viewers: usize,
}

/// The grand total a live push carries (`snapshot` and `live` messages).
fn push_total(text: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("total")?.as_u64()
}

impl Viewers {
    /// `ingress` is `http://host:port`. Each viewer reads `/api/live` every `read_every` (as a
    /// page that reloads) and keeps a WebSocket to `/api/live/ws`, reconnecting when it drops.
    pub fn start(ingress: &str, viewers: usize, read_every: Duration, started: Instant) -> Self {
        let seen = Arc::new(Mutex::new(Seen {
            pushes: vec![Vec::new(); viewers],
            ..Seen::default()
        }));
        let cancel = CancellationToken::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        let mut tasks = Vec::new();
        for viewer in 0..viewers {
            let (reads, stop, http) = (seen.clone(), cancel.clone(), http.clone());
            let url = format!("{ingress}/api/live");
            tasks.push(tokio::spawn(async move {
                let (seen, cancel) = (reads, stop);
                // Viewers start spread over one period, as pages loaded at different times.
                let offset = read_every.mul_f64(viewer as f64 / viewers.max(1) as f64);
                tokio::time::sleep(offset).await;
                while !cancel.is_cancelled() {
                    let sent = started.elapsed().as_secs_f64();
                    let ok = match http.get(&url).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    let answered = started.elapsed().as_secs_f64();
                    seen.lock().expect("seen").reads.push(Request {
                        user: viewer as u32,
                        sent,
                        answered,
                        ok,
                    });
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(read_every) => {}
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
                                    Some(Ok(m)) if m.is_text() => {
                                        let t = started.elapsed().as_secs_f64();
                                        if let Some(total) = m.to_text().ok().and_then(push_total) {
                                            seen.lock().expect("seen").pushes[viewer].push((t, total));
                                        }
                                    }
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

    /// Stops the viewers; returns what they measured.
    pub async fn stop(self) -> Viewed {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let seen = std::mem::take(&mut *self.seen.lock().expect("seen"));
        Viewed {
            sockets: SocketStats {
                viewers: self.viewers,
                pushes: seen.pushes.iter().map(|p| p.len() as u64).sum(),
                drops: seen.drops.len(),
            },
            reads: seen.reads,
            pushes: seen.pushes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_pushes_carry_the_grand_total() {
        assert_eq!(
            push_total(r#"{"type":"live","total":42,"matches":[]}"#),
            Some(42)
        );
        assert_eq!(
            push_total(r#"{"type":"snapshot","total":7,"phases":[]}"#),
            Some(7)
        );
        assert_eq!(push_total(r#"{"type":"error","error":"x"}"#), None);
    }
}
