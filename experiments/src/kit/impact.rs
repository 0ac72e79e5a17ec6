//! What the fault did, from the per-second series: when the golden signals showed it and when
//! they were steady again (over every signal, consumer lag included), failed requests, the worst
//! p99 and the lag's peak.

use std::collections::BTreeMap;

use crate::kit::load::SocketStats;
use crate::kit::report::{Impact, SeriesSet};
use crate::kit::scenario::FaultRecord;
use crate::kit::series::{self, Disturbance, GoldenSecond};

/// The windows the impact is measured over, in seconds since the load started.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// The steady window before the fault, `[from, to)`.
    pub steady: (f64, f64),
    /// Where the fault window ends (it starts at the second the fault falls in).
    pub during_end: f64,
    /// When the load stopped.
    pub load_end: f64,
}

/// Consumer lag as points the disturbance rule understands: a second is failing when the lag is
/// well above what the steady window saw (3x its worst, and at least 500 records more).
fn lag_points(lag: &[(f64, f64)], steady: (f64, f64)) -> Vec<GoldenSecond> {
    let steady_max = lag
        .iter()
        .filter(|(t, _)| *t >= steady.0 && *t < steady.1)
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    let bar = (steady_max * 3.0).max(steady_max + 500.0);
    lag.iter()
        .map(|(t, v)| GoldenSecond {
            t: *t,
            success: Some(if *v > bar { 0.0 } else { 1.0 }),
            ..GoldenSecond::default()
        })
        .collect()
}

/// The impact of `fault` on the series in `set`; `writers` gives the writers' own failure count.
pub fn impact(
    set: &SeriesSet,
    fault: &FaultRecord,
    writers: &loadgen::Summary,
    sockets: SocketStats,
    windows: Windows,
) -> Impact {
    let Windows {
        steady,
        during_end,
        load_end,
    } = windows;
    let rule = Disturbance::default();
    let mut ttd: Option<f64> = None;
    let mut ttr: Option<f64> = Some(0.0);
    let mut steady_stats = BTreeMap::new();
    let mut during_stats = BTreeMap::new();
    let mut worst = BTreeMap::new();
    let mut signals: Vec<(String, Vec<GoldenSecond>)> = set
        .client
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (consumer, lag) in &set.lag {
        signals.push((format!("{consumer} lag"), lag_points(lag, steady)));
    }
    for (name, points) in &signals {
        // The last partial second of a series is not a disturbance.
        let points: Vec<GoldenSecond> = series::window(points, 0.0, load_end - 1.0);
        let base = series::stats(&series::window(&points, steady.0, steady.1));
        if let Some(d) = series::time_to_detect(&points, fault.start_s, &base, &rule) {
            ttd = Some(ttd.map_or(d, |t: f64| t.min(d)));
        }
        let r = series::time_to_recover(&points, fault.start_s, &base, &rule);
        ttr = match (ttr, r) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        if set.client.contains_key(name) {
            steady_stats.insert(name.clone(), base);
            let d = series::stats(&series::window(&points, fault.start_s.floor(), during_end));
            during_stats.insert(name.clone(), d);
            let after_fault =
                series::stats(&series::window(&points, fault.start_s.floor(), load_end));
            worst.insert(name.clone(), after_fault.worst_p99_ms.unwrap_or(0.0));
        }
    }
    let mut failed = BTreeMap::new();
    failed.insert("ingest".to_string(), writers.failed + writers.unanswered);
    let read_failed: f64 = set.client["read-api"]
        .iter()
        .map(|p| p.rps * (1.0 - p.success.unwrap_or(1.0)))
        .sum();
    failed.insert("read-api".to_string(), read_failed.round() as u64);
    let max_lag = set
        .lag
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().map(|(_, v)| *v).fold(0.0, f64::max)))
        .collect();

    Impact {
        time_to_detect_s: ttd,
        time_to_recover_s: ttr,
        failed_requests: failed,
        worst_p99_ms: worst,
        max_lag,
        steady: steady_stats,
        during: during_stats,
        sockets,
    }
}
