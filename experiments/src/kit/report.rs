//! What an experiment writes: `report.json` (every number), `report.md` (the answers), and SVG
//! charts. The harm ranking, the three answers and `SUMMARY.md` are in `report/harm.rs`; the
//! Markdown of one report in `report/markdown.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kit::load::SocketStats;
use crate::kit::scenario::{FaultRecord, Scenario};
use crate::kit::series::{GoldenSecond, WindowStats};

mod harm;
mod markdown;

pub use harm::{answer, rank, summary, Harm};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: Scenario,
    pub run_id: String,
    pub started_at: String,
    pub target: String,
    pub passed: bool,
    /// Why it failed, in words, when it did.
    pub failures: Vec<String>,
    pub config: RunSettings,
    pub fault: FaultRecord,
    pub hypotheses: Hypotheses,
    pub invariant: Invariant,
    pub impact: Impact,
    pub series: SeriesSet,
    pub answers: Answers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub warmup_s: f64,
    pub steady_s: f64,
    pub fault_s: f64,
    pub recovery_s: f64,
    pub rate: f64,
    pub writers: usize,
    pub viewers: usize,
}

/// One steady-state probe: what it expects and what was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub name: String,
    pub expected: String,
    pub observed: Option<f64>,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypotheses {
    /// Over the steady window before the fault.
    pub before: Vec<Probe>,
    /// Over the end of the recovery window.
    pub after: Vec<Probe>,
}

/// accepted by ingest == documents in MongoDB == sum of the live counters in Redis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invariant {
    pub accepted: u64,
    pub mongodb: i64,
    pub redis: i64,
    /// Predictions counted more than once (Redis or MongoDB above accepted).
    pub duplicates: i64,
    /// Accepted predictions missing from a store.
    pub lost: i64,
    pub passed: bool,
    /// Seconds after the load stopped until both stores matched (the drain).
    pub settled_after_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// Seconds from the fault to the first disturbed second of any golden signal.
    pub time_to_detect_s: Option<f64>,
    /// Seconds from the fault until every signal stayed normal; `None`: never while measured.
    pub time_to_recover_s: Option<f64>,
    /// Requests that failed, client side, by component.
    pub failed_requests: BTreeMap<String, u64>,
    pub worst_p99_ms: BTreeMap<String, f64>,
    pub max_lag: BTreeMap<String, f64>,
    /// Steady window vs fault window, per component (client side).
    pub steady: BTreeMap<String, WindowStats>,
    pub during: BTreeMap<String, WindowStats>,
    pub sockets: SocketStats,
}

/// Per-second series: client side (what users felt), server side (Prometheus), consumer lag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SeriesSet {
    pub client: BTreeMap<String, Vec<GoldenSecond>>,
    pub server: BTreeMap<String, Vec<GoldenSecond>>,
    pub lag: BTreeMap<String, Vec<(f64, f64)>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Answers {
    pub how_it_shows: String,
    pub how_it_differs: String,
    pub most_harmful: String,
}

/// The latest report of each scenario under `out`, read from `<out>/<scenario>/<run>/report.json`
/// (run ids sort by time).
pub fn latest_reports(out: &Path) -> Vec<Report> {
    let mut reports = Vec::new();
    for scenario in crate::kit::scenario::ALL {
        let dir = out.join(scenario.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut runs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("report.json").exists())
            .collect();
        runs.sort();
        if let Some(latest) = runs.last() {
            if let Ok(text) = std::fs::read_to_string(latest.join("report.json")) {
                if let Ok(report) = serde_json::from_str::<Report>(&text) {
                    reports.push(report);
                }
            }
        }
    }
    reports
}

/// Writes report.json, report.md and the charts into `dir`.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(report).expect("report serializes"),
    )?;
    let fault = (
        report.fault.start_s,
        report.fault.end_s.max(report.fault.start_s + 1.0),
    );
    let client = |name: &str| report.series.client.get(name).cloned().unwrap_or_default();
    let lines = |f: fn(&GoldenSecond) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
        ["ingest", "read-api"]
            .iter()
            .map(|c| {
                (
                    c.to_string(),
                    client(c)
                        .iter()
                        .filter_map(|p| f(p).map(|v| (p.t, v)))
                        .collect(),
                )
            })
            .collect()
    };
    std::fs::write(
        dir.join("rate.svg"),
        crate::kit::chart::svg(
            "Requests per second (client side)",
            "req/s",
            &lines(|p| Some(p.rps)),
            fault,
        ),
    )?;
    std::fs::write(
        dir.join("success.svg"),
        crate::kit::chart::svg(
            "Success rate (client side)",
            "%",
            &lines(|p| p.success.map(|s| s * 100.0)),
            fault,
        ),
    )?;
    std::fs::write(
        dir.join("p99.svg"),
        crate::kit::chart::svg(
            "p99 latency (client side)",
            "ms",
            &lines(|p| p.p99_ms),
            fault,
        ),
    )?;
    let lag: Vec<(String, Vec<(f64, f64)>)> = report
        .series
        .lag
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    std::fs::write(
        dir.join("lag.svg"),
        crate::kit::chart::svg("Consumer lag", "records", &lag, fault),
    )?;
    std::fs::write(dir.join("report.md"), markdown::markdown(report))
}
