//! Latency samples summarised the same way for every path the study compares (Kafka produce,
//! ingest, Redis, FerretDB), and the closed loop that takes them.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Percentiles of a set of latencies, in milliseconds (nearest rank, so every figure is a
/// latency that was really observed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Distribution {
    /// `None` for no samples: a figure with no data is not measured.
    pub fn of(samples_ms: &[f64]) -> Option<Self> {
        if samples_ms.is_empty() {
            return None;
        }
        let mut sorted = samples_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank =
            |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Some(Distribution {
            count: sorted.len(),
            mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            p999_ms: rank(0.999),
            max_ms: *sorted.last().expect("not empty"),
        })
    }
}

/// What a closed loop measured: each of `in_flight` workers does one operation, waits for its
/// answer, and starts the next, until `duration` has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopResult {
    pub in_flight: usize,
    pub seconds: f64,
    /// Operations that succeeded, per second.
    pub ops_per_s: f64,
    pub errors: u64,
    /// Latency of the successful operations only.
    pub latency: Option<Distribution>,
}

/// Runs `op` in a closed loop; `op(i)` gets a sequence number and answers whether it succeeded.
pub async fn closed_loop<F, Fut>(in_flight: usize, duration: Duration, op: F) -> LoopResult
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..in_flight)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut ok_ms, mut errors, mut i) = (Vec::new(), 0u64, w as u64);
                while Instant::now() < deadline {
                    let begin = Instant::now();
                    if op(i).await {
                        ok_ms.push(begin.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        errors += 1;
                    }
                    i += in_flight as u64;
                }
                (ok_ms, errors)
            })
        })
        .collect();
    let (mut ok_ms, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (ms, e) = worker.await.expect("a loop worker does not panic");
        ok_ms.extend(ms);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    LoopResult {
        in_flight,
        seconds,
        ops_per_s: ok_ms.len() as f64 / seconds,
        errors,
        latency: Distribution::of(&ok_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_a_known_set() {
        let samples: Vec<f64> = (1..=1000).map(f64::from).collect();
        let d = Distribution::of(&samples).unwrap();
        assert_eq!(d.count, 1000);
        assert_eq!(d.p50_ms, 500.0);
        assert_eq!(d.p90_ms, 900.0);
        assert_eq!(d.p99_ms, 990.0);
        assert_eq!(d.p999_ms, 999.0);
        assert_eq!(d.max_ms, 1000.0);
        assert_eq!(d.mean_ms, 500.5);
        assert_eq!(Distribution::of(&[]), None);
        assert_eq!(Distribution::of(&[7.0]).unwrap().p50_ms, 7.0);
    }

    #[tokio::test]
    async fn a_closed_loop_counts_successes_and_errors_apart() {
        let r = closed_loop(2, Duration::from_millis(100), |i| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            i % 2 == 0
        })
        .await;
        // Worker 0 gets even numbers only, worker 1 odd ones only.
        assert!(r.errors > 0 && r.latency.as_ref().unwrap().count > 0);
        assert!(r.latency.unwrap().p50_ms >= 10.0);
    }
}
