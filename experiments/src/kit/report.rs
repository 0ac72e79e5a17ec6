//! What an experiment writes: `report.json` (every number), `report.md` (the answers, written
//! from those numbers), and SVG charts. The ranking is in `report/harm.rs`, the answers in
//! `report/answers.rs`, the Markdown in `report/markdown.rs`. `summary` re-answers every report
//! of the latest batch once all of them exist, and writes `SUMMARY.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kit::chart::{self, Line, Panel, Shade};
use crate::kit::impact::Impact;
use crate::kit::scenario::FaultRecord;
use crate::kit::series::GoldenSecond;

mod answers;
mod harm;
mod markdown;

pub use answers::{answer, shows as answers_shows, Answers, DiffRow};
pub use harm::{rank, Harm, RankRow, Ranking, Spread};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub experiment: String,
    pub run_id: String,
    /// The invocation this run belongs to (its repeats share it), and which repeat it is.
    pub batch: String,
    pub repeat: usize,
    pub repeats: usize,
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
    /// The /warzone page photographed in the middle of the fault (`warzone.png` beside the
    /// report), or why there is none. Part of the report, so re-answering keeps it.
    #[serde(default)]
    pub warzone: WarzoneShot,
}

/// What [`Report::warzone`] says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarzoneShot {
    /// `warzone.png` is in the report's folder; what the page showed when it was taken.
    Taken {
        shown: String,
    },
    Missing {
        why: String,
    },
}

impl Default for WarzoneShot {
    /// A report written before the screenshot was part of it.
    fn default() -> Self {
        WarzoneShot::Missing {
            why: "not recorded in this report".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub warmup_s: f64,
    pub steady_s: f64,
    pub fault_s: f64,
    pub recovery_s: f64,
    /// Writers' total rate, predictions per second.
    pub rate: f64,
    /// The sustainable rate `experiments capacity` measured, and the share of it used.
    pub capacity_rps: Option<f64>,
    pub load_fraction: Option<f64>,
    pub writers: usize,
    pub viewers: usize,
    /// How often each viewer reads `/api/live`, seconds.
    pub read_every_s: f64,
}

/// One steady-state probe: what it expects and what was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub name: String,
    pub expected: String,
    pub observed: Option<f64>,
    pub passed: bool,
    /// The signal had no source in this run (consumer lag on a cluster without the broker's
    /// address): neither passed nor failed.
    #[serde(default)]
    pub not_measured: bool,
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
    /// Predictions counted more than once (Redis above MongoDB: MongoDB's `_id` cannot hold
    /// one twice).
    pub duplicates: i64,
    /// Accepted predictions missing from a store.
    pub lost: i64,
    /// Stored although the writer never got a 202 for them (a timeout or 503 whose record
    /// Kafka still took): not lost, not duplicated; a client retrying with an
    /// `Idempotency-Key` would land them once.
    #[serde(default)]
    pub stored_without_202: i64,
    pub passed: bool,
    /// Seconds after the load stopped until both stores matched (the drain).
    pub settled_after_s: Option<f64>,
    /// When a store was short at the end of the wait: the most records a consumer group had
    /// still not processed on Kafka (from the broker). Those are stuck, not lost: `lost` is the
    /// shortfall beyond them. `None`: nothing was missing, or the broker could not be read.
    #[serde(default)]
    pub still_on_kafka: Option<i64>,
}

/// Per-second series: client side (raw requests grouped by second; latency of successes),
/// server side (the 100 ms scrapes grouped by second, or Prometheus on a cluster), consumer lag
/// from the broker (`None`: not measured that second), viewers with a stale page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SeriesSet {
    pub client: BTreeMap<String, Vec<GoldenSecond>>,
    pub server: BTreeMap<String, Vec<GoldenSecond>>,
    pub lag: BTreeMap<String, Vec<(f64, Option<f64>)>>,
    pub stale_viewers: Vec<(f64, f64)>,
}

/// An experiment the target cannot run, recorded as such.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unsupported {
    pub experiment: String,
    pub run_id: String,
    pub batch: String,
    pub target: String,
    pub reason: String,
}

/// Every run under `out`: `<out>/<experiment>/<run>/report.json`.
pub fn all_reports(out: &Path) -> (Vec<Report>, Vec<Unsupported>) {
    let (mut reports, mut unsupported) = (Vec::new(), Vec::new());
    for e in crate::kit::scenario::CATALOG {
        let Ok(entries) = std::fs::read_dir(out.join(e.name)) else {
            continue;
        };
        let mut runs: Vec<PathBuf> = entries.filter_map(|x| x.ok().map(|x| x.path())).collect();
        runs.sort();
        for run in runs {
            if let Ok(text) = std::fs::read_to_string(run.join("report.json")) {
                if let Ok(r) = serde_json::from_str::<Report>(&text) {
                    reports.push(r);
                }
            } else if let Ok(text) = std::fs::read_to_string(run.join("unsupported.json")) {
                if let Ok(u) = serde_json::from_str::<Unsupported>(&text) {
                    unsupported.push(u);
                }
            }
        }
    }
    (reports, unsupported)
}

/// Per experiment, the runs of its latest batch, in repeat order.
pub fn latest_batches(reports: Vec<Report>) -> Vec<(String, Vec<Report>)> {
    let mut by: BTreeMap<String, Vec<Report>> = BTreeMap::new();
    for r in reports {
        by.entry(r.experiment.clone()).or_default().push(r);
    }
    let mut out = Vec::new();
    for e in crate::kit::scenario::CATALOG {
        let Some(runs) = by.remove(e.name) else {
            continue;
        };
        let latest = runs
            .iter()
            .map(|r| r.batch.clone())
            .max()
            .unwrap_or_default();
        let mut runs: Vec<Report> = runs.into_iter().filter(|r| r.batch == latest).collect();
        runs.sort_by_key(|r| r.repeat);
        out.push((e.name.to_string(), runs));
    }
    out
}

pub fn report_dir(out: &Path, experiment: &str, run_id: &str) -> PathBuf {
    out.join(experiment).join(run_id)
}

/// Writes report.json, report.md and the charts into `dir`.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(report).expect("report serializes"),
    )?;
    for (file, svg) in charts(report) {
        std::fs::write(dir.join(file), svg)?;
    }
    std::fs::write(dir.join("report.md"), markdown::markdown(report))
}

/// Rewrites the answers of a report already written (report.json and report.md only).
fn rewrite(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(report).expect("report serializes"),
    )?;
    std::fs::write(dir.join("report.md"), markdown::markdown(report))
}

pub fn write_unsupported(out: &Path, u: &Unsupported) -> std::io::Result<PathBuf> {
    let dir = report_dir(out, &u.experiment, &u.run_id);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("unsupported.json"),
        serde_json::to_vec_pretty(u).expect("serializes"),
    )?;
    std::fs::write(
        dir.join("report.md"),
        format!(
            "# {} — {} (not run)\n\nUnsupported on this target ({}): {}.\n",
            u.experiment, u.run_id, u.target, u.reason
        ),
    )?;
    Ok(dir)
}

/// The chart files of a report: (file name, SVG).
pub fn charts(r: &Report) -> Vec<(&'static str, String)> {
    let title = |what: &str| {
        format!(
            "{}: {what} — run {} (repeat {} of {})",
            r.experiment, r.run_id, r.repeat, r.repeats
        )
    };
    let end = r
        .series
        .client
        .values()
        .flat_map(|v| v.last().map(|p| p.t + 1.0))
        .fold(0.0, f64::max);
    let mut shades = vec![Shade {
        name: "fault".into(),
        from: r.impact.fault_window.from,
        to: r
            .impact
            .fault_window
            .to
            .max(r.impact.fault_window.from + 0.2),
        color: "#e76f51",
    }];
    if r.impact.impact_window.to > r.impact.fault_window.to {
        shades.push(Shade {
            name: "impact".into(),
            from: r.impact.fault_window.to,
            to: r.impact.impact_window.to,
            color: "#f4a261",
        });
    }
    let line = |name: &str, points: &[GoldenSecond], f: fn(&GoldenSecond) -> Option<f64>| Line {
        name: name.into(),
        points: points.iter().map(|p| (p.t, f(p))).collect(),
    };
    let client = |c: &str| r.series.client.get(c).cloned().unwrap_or_default();
    let server = |c: &str| r.series.server.get(c).cloned().unwrap_or_default();
    let failures = |p: &GoldenSecond| p.success.map(|s| (1.0 - s) * p.rps);
    let rate = vec![
        Panel {
            name: "ingest (client: writers)".into(),
            unit: "answers/s".into(),
            lines: vec![
                line("all answers", &client("ingest"), |p| Some(p.rps)),
                line("failed", &client("ingest"), failures),
            ],
        },
        Panel {
            name: "read-api (client: viewers' GET /api/live)".into(),
            unit: "answers/s".into(),
            lines: vec![
                line("all answers", &client("read-api"), |p| Some(p.rps)),
                line("failed", &client("read-api"), failures),
            ],
        },
        Panel {
            name: "live-store (server: ApplyBatch calls)".into(),
            unit: "calls/s".into(),
            lines: vec![line("calls", &server("live-store"), |p| Some(p.rps))],
        },
    ];
    let success = vec![
        Panel {
            name: "ingest (client)".into(),
            unit: "success %".into(),
            lines: vec![line("success", &client("ingest"), |p| {
                p.success.map(|s| s * 100.0)
            })],
        },
        Panel {
            name: "read-api (client)".into(),
            unit: "success %".into(),
            lines: vec![line("success", &client("read-api"), |p| {
                p.success.map(|s| s * 100.0)
            })],
        },
    ];
    let latency = vec![
        Panel {
            name: "ingest (client, successes only)".into(),
            unit: "ms".into(),
            lines: vec![
                line("p99", &client("ingest"), |p| p.p99_ms),
                line("p50", &client("ingest"), |p| p.p50_ms),
            ],
        },
        Panel {
            name: "read-api (client, successes only)".into(),
            unit: "ms".into(),
            lines: vec![
                line("p99", &client("read-api"), |p| p.p99_ms),
                line("p50", &client("read-api"), |p| p.p50_ms),
            ],
        },
        Panel {
            name: "live-forwarder → live-store calls (mean)".into(),
            unit: "ms".into(),
            lines: vec![line("mean", &server("live-forwarder"), |p| p.mean_ms)],
        },
    ];
    let lag = vec![
        Panel {
            name: "consumer lag, from the broker".into(),
            unit: "records".into(),
            lines: r
                .series
                .lag
                .iter()
                .map(|(g, v)| Line {
                    name: format!("group {g}"),
                    points: v.clone(),
                })
                .collect(),
        },
        Panel {
            name: "/live page (viewers)".into(),
            unit: "stale pages".into(),
            lines: vec![Line {
                name: "stale".into(),
                points: r
                    .series
                    .stale_viewers
                    .iter()
                    .map(|(t, v)| (*t, Some(*v)))
                    .collect(),
            }],
        },
    ];
    let mut charts = vec![
        (
            "rate.svg",
            chart::svg(&title("requests"), &rate, &shades, end),
        ),
        (
            "success.svg",
            chart::svg(&title("success"), &success, &shades, end),
        ),
        (
            "latency.svg",
            chart::svg(&title("latency"), &latency, &shades, end),
        ),
        (
            "lag.svg",
            chart::svg(&title("lag and freshness"), &lag, &shades, end),
        ),
    ];
    // On a cluster: Linkerd's golden metrics of every deployment, inbound and outbound.
    if r.target == "kube" {
        let golden = |label: &str, unit: &str, f: fn(&GoldenSecond) -> Option<f64>| Panel {
            name: format!("Linkerd: {label}"),
            unit: unit.into(),
            lines: r
                .series
                .server
                .iter()
                .map(|(name, points)| line(name, points, f))
                .collect(),
        };
        let panels = vec![
            golden("request rate", "req/s", |p| Some(p.rps)),
            golden("success rate", "success %", |p| {
                p.success.map(|s| s * 100.0)
            }),
            golden("p99 latency", "ms", |p| p.p99_ms),
        ];
        charts.push((
            "linkerd.svg",
            chart::svg(
                &title("Linkerd golden metrics (inbound: deployment; outbound: caller → callee)"),
                &panels,
                &shades,
                end,
            ),
        ));
    }
    charts
}

/// Re-answers every report of the latest batches under `out` with all of them in hand, and
/// writes `SUMMARY.md`. Returns its path and the ranking.
pub fn summary(out: &Path) -> std::io::Result<(PathBuf, Ranking)> {
    let (reports, unsupported) = all_reports(out);
    let batches = latest_batches(reports);
    let groups: Vec<(String, Vec<Harm>)> = batches
        .iter()
        .map(|(name, runs)| (name.clone(), runs.iter().map(Harm::of).collect()))
        .collect();
    let ranking = rank(&groups);
    let rows = answers::differs(&batches);
    for (_, runs) in &batches {
        for r in runs {
            let mut r = r.clone();
            answer(&mut r, &rows, &ranking);
            rewrite(&report_dir(out, &r.experiment, &r.run_id), &r)?;
        }
    }
    let mut latest_unsupported: BTreeMap<String, Unsupported> = BTreeMap::new();
    for u in unsupported {
        latest_unsupported.insert(u.experiment.clone(), u);
    }
    let mut md = markdown::summary(&batches, &rows, &ranking, &latest_unsupported);
    // `<out>/kube/` holds the same experiments run on clusters (kind/sandbox/experiments.sh).
    let (kube, kube_unsupported) = all_reports(&out.join("kube"));
    if !kube.is_empty() || !kube_unsupported.is_empty() {
        let mut kube_not_run: BTreeMap<String, Unsupported> = BTreeMap::new();
        for u in kube_unsupported {
            kube_not_run.insert(u.experiment.clone(), u);
        }
        md.push_str(&markdown::side_by_side(
            &batches,
            &latest_batches(kube),
            &kube_not_run,
        ));
    }
    let path = out.join("SUMMARY.md");
    std::fs::create_dir_all(out)?;
    std::fs::write(&path, md)?;
    Ok((path, ranking))
}
