//! Per-second golden-metrics series: windows and percentiles. (Detection and recovery are
//! measured at 100 ms from raw samples: `signals`.)

use serde::{Deserialize, Serialize};

/// One second of one component's golden signals (rate, success, latency together). `None` where
/// nothing was measured (no request in that second, or no data from Prometheus). Not a
/// Prometheus sample (`chaos::prometheus::Point`, one value at one instant): it is built from
/// several of them, or from the load's own counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct GoldenSecond {
    /// Seconds since the load started.
    pub t: f64,
    pub rps: f64,
    /// Share of requests that succeeded, 0..1.
    pub success: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Mean latency (server side, from the exact sum and count of the durations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ms: Option<f64>,
}

/// Nearest-rank percentile of `values` (`q` in 0..=1); `None` for no values.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

/// The points with `from <= t < to`.
pub fn window(points: &[GoldenSecond], from: f64, to: f64) -> Vec<GoldenSecond> {
    points
        .iter()
        .filter(|p| p.t >= from && p.t < to)
        .copied()
        .collect()
}

/// What a window of points adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct WindowStats {
    pub seconds: usize,
    pub mean_rps: f64,
    /// Success over the window, weighted by each second's requests.
    pub success: Option<f64>,
    /// The median of the per-second p99s: typical tail latency.
    pub p99_ms: Option<f64>,
    /// The worst per-second p99.
    pub worst_p99_ms: Option<f64>,
}

pub fn stats(points: &[GoldenSecond]) -> WindowStats {
    let seconds = points.len();
    let total: f64 = points.iter().map(|p| p.rps).sum();
    let ok: f64 = points
        .iter()
        .filter_map(|p| p.success.map(|s| s * p.rps))
        .sum();
    let weighted: f64 = points
        .iter()
        .filter(|p| p.success.is_some())
        .map(|p| p.rps)
        .sum();
    let p99s: Vec<f64> = points.iter().filter_map(|p| p.p99_ms).collect();
    WindowStats {
        seconds,
        mean_rps: if seconds > 0 {
            total / seconds as f64
        } else {
            0.0
        },
        success: (weighted > 0.0).then(|| ok / weighted),
        p99_ms: percentile(&p99s, 0.5),
        worst_p99_ms: p99s.iter().copied().reduce(f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(t: f64, rps: f64, success: f64, p99: f64) -> GoldenSecond {
        GoldenSecond {
            t,
            rps,
            success: Some(success),
            p50_ms: Some(p99 / 3.0),
            p95_ms: Some(p99 / 1.5),
            p99_ms: Some(p99),
            mean_ms: None,
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert_eq!(percentile(&v, 0.99), Some(5.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_and_within_range(values in proptest::collection::vec(0.0f64..1e6, 1..200)) {
            let p50 = percentile(&values, 0.5).unwrap();
            let p95 = percentile(&values, 0.95).unwrap();
            let p99 = percentile(&values, 0.99).unwrap();
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(min <= p50 && p50 <= p95 && p95 <= p99 && p99 <= max);
        }

        #[test]
        fn window_success_is_between_its_seconds(
            seconds in proptest::collection::vec((1.0f64..1000.0, 0.0f64..=1.0), 1..50),
        ) {
            let points: Vec<GoldenSecond> = seconds.iter().enumerate()
                .map(|(t, (rps, s))| point(t as f64, *rps, *s, 10.0)).collect();
            let w = stats(&points);
            let lo = seconds.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
            let hi = seconds.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
            let s = w.success.unwrap();
            prop_assert!(s >= lo - 1e-9 && s <= hi + 1e-9);
        }
    }
}
