//! `experiments capacity`: the rate this machine sustains, measured before the experiments so
//! that they run at a stated fraction of it. Steps of rising rate; a step is sustained when the
//! writers kept to its pace (the n requests took at most 10 % longer than planned), at least
//! 99.9 % succeeded, the p99 of the successes stayed under 500 ms, and the pipeline then drained
//! (both stores stopped changing) within the step's own length. The capacity is the highest
//! sustained step before the first one that was not.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::kit::invariant::quiesce;
use crate::kit::series::percentile;
use crate::kit::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub rate: f64,
    pub achieved_rps: f64,
    pub success: f64,
    pub p99_ms: Option<f64>,
    pub drained_after_s: f64,
    pub sustained: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub measured_at: String,
    pub target: String,
    pub writers: usize,
    pub step_s: f64,
    pub steps: Vec<Step>,
    /// The highest sustained rate, predictions per second; `None` if no step was.
    pub sustainable_rps: Option<f64>,
}

pub const RATES: [f64; 9] = [
    250.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0,
];

pub async fn measure(
    target: &Target,
    data: &[loadgen::Prediction],
    writers: usize,
    step: Duration,
) -> Result<Capacity> {
    let mut steps = Vec::new();
    for rate in RATES {
        quiesce(target, Duration::from_secs(60))
            .await
            .context("counting MongoDB and Redis")?;
        let n = (rate * step.as_secs_f64()).round() as u64;
        let mut config =
            loadgen::RunConfig::new(format!("{}/input", target.ingress()), writers, n, step * 3);
        config.rate = Some(rate);
        config.keep_requests = true;
        let summary = loadgen::run(config, data.to_vec())
            .await
            .context("the capacity step's writers")?;
        let stopped = Instant::now();
        quiesce(target, step)
            .await
            .context("counting MongoDB and Redis")?;
        // A step that did not drain within its own length is not sustained (below).
        let drained = stopped.elapsed().as_secs_f64();
        let ok: Vec<f64> = summary
            .requests
            .iter()
            .filter(|r| r.ok)
            .map(|r| (r.answered_s - r.sent_s) * 1000.0)
            .collect();
        let answered = summary.succeeded + summary.failed;
        let success = summary.succeeded as f64 / answered.max(1) as f64;
        let p99 = percentile(&ok, 0.99);
        let sustained = summary.elapsed_secs <= step.as_secs_f64() * 1.1
            && answered == n
            && success >= 0.999
            && p99.is_some_and(|p| p < 500.0)
            && drained < step.as_secs_f64();
        eprintln!(
            "capacity: {rate:>5.0}/s asked, {:>7.1}/s achieved, {:.2}% ok, p99 {:.1} ms, drained after {drained:.1} s: {}",
            summary.succeeded as f64 / summary.elapsed_secs.max(1e-9),
            success * 100.0,
            p99.unwrap_or(f64::NAN),
            if sustained { "sustained" } else { "NOT sustained" }
        );
        steps.push(Step {
            rate,
            achieved_rps: summary.succeeded as f64 / summary.elapsed_secs.max(1e-9),
            success,
            p99_ms: p99,
            drained_after_s: drained,
            sustained,
        });
        if !sustained {
            break;
        }
    }
    Ok(Capacity {
        measured_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        target: target.name().to_string(),
        writers,
        step_s: step.as_secs_f64(),
        sustainable_rps: steps
            .iter()
            .take_while(|s| s.sustained)
            .map(|s| s.rate)
            .reduce(f64::max),
        steps,
    })
}

pub fn path(out: &Path) -> std::path::PathBuf {
    out.join("capacity.json")
}

pub fn read(out: &Path) -> Option<Capacity> {
    serde_json::from_slice(&std::fs::read(path(out)).ok()?).ok()
}

pub fn write(out: &Path, c: &Capacity) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(path(out), serde_json::to_vec_pretty(c).expect("serializes"))
}
