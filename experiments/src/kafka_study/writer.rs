//! Fans posting predictions to ingest through the ingress, one prediction per request, at a
//! fixed rate whatever the answers (an open loop: a slow or failing ingest does not slow the
//! fans down). Every answer is kept: its time, status, latency and the ids of a 202.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use model::Prediction;

/// Requests a writer lets wait at once; beyond it a request is not sent and counted apart.
const MAX_OUTSTANDING: usize = 512;

/// One request's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Seconds since the writer's clock started, when the request was sent and answered.
    pub sent: f64,
    pub done: f64,
    /// HTTP status; 0 for no answer (connection refused, reset or the client's 10 s timeout).
    pub status: u16,
    #[serde(skip)]
    pub id: Option<String>,
}

impl Answer {
    pub fn ms(&self) -> f64 {
        (self.done - self.sent) * 1000.0
    }
}

/// Posts one prediction; (status, the id a 202 gave it).
pub async fn post(http: &reqwest::Client, url: &str, p: &Prediction) -> (u16, Option<String>) {
    match http.post(url).json(p).send().await {
        Err(_) => (0, None),
        Ok(r) => {
            let status = r.status().as_u16();
            let id = match status {
                202 => r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["ids"][0].as_str().map(str::to_string)),
                _ => None,
            };
            (status, id)
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(MAX_OUTSTANDING)
        .build()
        .expect("an HTTP client builds")
}

/// A writer running until stopped.
pub struct Writer {
    answers: Arc<Mutex<Vec<Answer>>>,
    skipped: Arc<Mutex<u64>>,
    cancel: CancellationToken,
    ticker: tokio::task::JoinHandle<()>,
    outstanding: Arc<Semaphore>,
}

impl Writer {
    /// Posts `rate` predictions per second to `url` (`.../input`), cycling through `data`.
    pub fn start(url: &str, rate: f64, data: Arc<Vec<Prediction>>, clock: Instant) -> Self {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let skipped = Arc::new(Mutex::new(0u64));
        let cancel = CancellationToken::new();
        let outstanding = Arc::new(Semaphore::new(MAX_OUTSTANDING));
        let http = client();
        let ticker = tokio::spawn({
            let (answers, skipped, cancel, outstanding) = (
                answers.clone(),
                skipped.clone(),
                cancel.clone(),
                outstanding.clone(),
            );
            let url = url.to_string();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut i = 0usize;
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    let Ok(permit) = outstanding.clone().try_acquire_owned() else {
                        *skipped.lock().expect("skipped") += 1;
                        continue;
                    };
                    let (http, url, answers) = (http.clone(), url.clone(), answers.clone());
                    let p = data[i % data.len()].clone();
                    i += 1;
                    tokio::spawn(async move {
                        let sent = clock.elapsed().as_secs_f64();
                        let (status, id) = post(&http, &url, &p).await;
                        let done = clock.elapsed().as_secs_f64();
                        answers.lock().expect("answers").push(Answer {
                            sent,
                            done,
                            status,
                            id,
                        });
                        drop(permit);
                    });
                }
            }
        });
        Writer {
            answers,
            skipped,
            cancel,
            ticker,
            outstanding,
        }
    }

    /// The answers so far, by send time.
    pub fn answers_so_far(&self) -> Vec<Answer> {
        let mut answers = self.answers.lock().expect("answers").clone();
        answers.sort_by(|a, b| a.sent.total_cmp(&b.sent));
        answers
    }

    /// Stops sending, waits for the requests in flight, returns every answer and the number of
    /// requests not sent because `MAX_OUTSTANDING` were waiting.
    pub async fn stop(self) -> (Vec<Answer>, u64) {
        self.cancel.cancel();
        let _ = self.ticker.await;
        let _ = self.outstanding.acquire_many(MAX_OUTSTANDING as u32).await;
        let mut answers = std::mem::take(&mut *self.answers.lock().expect("answers"));
        answers.sort_by(|a, b| a.sent.total_cmp(&b.sent));
        let skipped = *self.skipped.lock().expect("skipped");
        (answers, skipped)
    }
}
