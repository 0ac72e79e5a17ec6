//! Per-second golden-metrics series and the math the reports stand on: windows, percentiles,
//! when a fault was detected and when the system recovered.

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

/// When a second counts as disturbed, relative to the steady window before the fault.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Disturbance {
    /// Success below this is disturbed.
    pub min_success: f64,
    /// p99 above `p99_factor` times the steady window's worst p99 (and at least `p99_floor_ms`
    /// above it): one slow second in the steady window is normal, so the worst is the bar.
    pub p99_factor: f64,
    pub p99_floor_ms: f64,
    /// Request rate below this share of the steady rate (when the steady rate is > 0).
    pub min_rate_share: f64,
}

impl Default for Disturbance {
    fn default() -> Self {
        Disturbance {
            min_success: 0.99,
            p99_factor: 2.0,
            p99_floor_ms: 100.0,
            min_rate_share: 0.5,
        }
    }
}

impl Disturbance {
    pub fn is_disturbed(&self, point: &GoldenSecond, steady: &WindowStats) -> bool {
        let failing = point.success.is_some_and(|s| s < self.min_success);
        let slow = match (point.p99_ms, steady.worst_p99_ms) {
            (Some(p99), Some(base)) => p99 > (base * self.p99_factor).max(base + self.p99_floor_ms),
            _ => false,
        };
        let starved = steady.mean_rps > 0.0 && point.rps < steady.mean_rps * self.min_rate_share;
        failing || slow || starved
    }
}

/// Seconds from `fault_at` to the first disturbed second, if any.
pub fn time_to_detect(
    points: &[GoldenSecond],
    fault_at: f64,
    steady: &WindowStats,
    rule: &Disturbance,
) -> Option<f64> {
    // A point covers [t, t+1): the one the fault falls in counts.
    points
        .iter()
        .filter(|p| p.t + 1.0 > fault_at)
        .find(|p| rule.is_disturbed(p, steady))
        .map(|p| (p.t - fault_at).max(0.0))
}

/// Seconds from `fault_at` until the end of the last disturbed second: after that, every second
/// is normal. `Some(0.0)` when nothing was disturbed; `None` when the series ends disturbed
/// (never recovered while measured).
pub fn time_to_recover(
    points: &[GoldenSecond],
    fault_at: f64,
    steady: &WindowStats,
    rule: &Disturbance,
) -> Option<f64> {
    let after: Vec<&GoldenSecond> = points.iter().filter(|p| p.t + 1.0 > fault_at).collect();
    let last_disturbed = after.iter().rposition(|p| rule.is_disturbed(p, steady));
    match last_disturbed {
        None => Some(0.0),
        Some(i) if i + 1 == after.len() => None,
        Some(i) => Some((after[i].t + 1.0 - fault_at).max(0.0)),
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

    #[test]
    fn detection_and_recovery_of_an_outage() {
        // 10 s steady at 100 rps, a 3 s outage at t=10, then normal again.
        let mut points: Vec<GoldenSecond> =
            (0..20).map(|t| point(t as f64, 100.0, 1.0, 10.0)).collect();
        for p in &mut points[10..13] {
            p.success = Some(0.2);
        }
        let steady = stats(&window(&points, 0.0, 10.0));
        assert_eq!(steady.success, Some(1.0));
        let rule = Disturbance::default();
        assert_eq!(time_to_detect(&points, 10.0, &steady, &rule), Some(0.0));
        assert_eq!(time_to_recover(&points, 10.0, &steady, &rule), Some(3.0));
        // Never recovered while measured.
        points.last_mut().unwrap().success = Some(0.0);
        assert_eq!(time_to_recover(&points, 10.0, &steady, &rule), None);
    }

    #[test]
    fn an_undisturbed_series_recovers_in_zero() {
        let points: Vec<GoldenSecond> =
            (0..20).map(|t| point(t as f64, 100.0, 1.0, 10.0)).collect();
        let steady = stats(&window(&points, 0.0, 10.0));
        let rule = Disturbance::default();
        assert_eq!(time_to_detect(&points, 10.0, &steady, &rule), None);
        assert_eq!(time_to_recover(&points, 10.0, &steady, &rule), Some(0.0));
    }

    #[test]
    fn slowness_and_starvation_count_as_disturbed() {
        let steady = WindowStats {
            seconds: 10,
            mean_rps: 100.0,
            success: Some(1.0),
            p99_ms: Some(10.0),
            worst_p99_ms: Some(12.0),
        };
        let rule = Disturbance::default();
        // The bar is the steady window's worst p99 (12 ms): 2x, but at least 100 ms more.
        assert!(!rule.is_disturbed(&point(0.0, 100.0, 1.0, 110.0), &steady));
        assert!(rule.is_disturbed(&point(0.0, 100.0, 1.0, 113.0), &steady));
        assert!(rule.is_disturbed(&point(0.0, 40.0, 1.0, 10.0), &steady));
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
        fn recovery_is_never_before_detection(
            disturbed in proptest::collection::vec(any::<bool>(), 1..60),
        ) {
            let points: Vec<GoldenSecond> = disturbed.iter().enumerate()
                .map(|(t, d)| point(t as f64, 100.0, if *d { 0.0 } else { 1.0 }, 10.0))
                .collect();
            let steady = WindowStats { seconds: 10, mean_rps: 100.0, success: Some(1.0), p99_ms: Some(10.0), worst_p99_ms: Some(10.0) };
            let rule = Disturbance::default();
            let detect = time_to_detect(&points, 0.0, &steady, &rule);
            let recover = time_to_recover(&points, 0.0, &steady, &rule);
            match (detect, recover) {
                (None, r) => prop_assert_eq!(r, Some(0.0)),
                (Some(d), Some(r)) => prop_assert!(r > d),
                (Some(_), None) => prop_assert!(*disturbed.last().unwrap()),
            }
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
