//! What the `/warzone` page shows of the running experiment: the kit publishes its state as
//! `experiment.json` in the stack's `warzone/` folder (read-api serves it read-only at
//! `/api/warzone/experiment`), at least twice a second and at every event (the fault starting
//! and ending, the probes decided, the verdict); `screenshot` photographs the page in the
//! middle of the fault for the report (`warzone.png`).
//!
//! The file is replaced whole (written beside, then renamed), so a reader never sees half of
//! it. Publishing is best effort: a full disk costs the page its panel, never the experiment.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chaos::prometheus::unix_seconds;
use serde::Serialize;

use crate::kit::hypothesis::Hypothesis;
use crate::kit::report::{Hypotheses, Report};
use crate::kit::run::ExperimentConfig;
use crate::kit::scenario::FaultRecord;

/// Where to publish, and which page to photograph: both absent for a run nobody watches
/// (the kit's own tests).
#[derive(Debug, Clone, Default)]
pub struct Publish {
    /// The stack's `warzone/` folder ([`stack::local::warzone_dir`]).
    pub dir: Option<PathBuf>,
    /// The `/warzone` page, e.g. `http://127.0.0.1:8080/warzone`, and the front end folder
    /// whose `scripts/warzone-screenshot.mjs` photographs it.
    pub page: Option<(String, PathBuf)>,
}

impl Publish {
    /// The local stack in `state_dir`, with its ingress at `ingress` (`host:port`).
    pub fn local(state_dir: &Path, ingress: &str) -> Publish {
        let dist = stack::pages::locate(|k| std::env::var(k).ok());
        let frontend = dist.parent().map(Path::to_path_buf).unwrap_or_default();
        Publish {
            dir: Some(stack::local::warzone_dir(state_dir)),
            page: Some((format!("http://{ingress}/warzone"), frontend)),
        }
    }

    /// A cluster target: the page the kit serves itself ([`crate::kit::viewer`]) from the
    /// pages in `dist`.
    pub fn viewer(viewer: &crate::kit::viewer::Viewer, dist: &Path) -> Publish {
        let frontend = dist.parent().map(Path::to_path_buf).unwrap_or_default();
        Publish {
            dir: Some(viewer.dir.clone()),
            page: Some((viewer.page(), frontend)),
        }
    }
}

/// One phase of the plan, in Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSpan {
    pub name: &'static str,
    pub start: f64,
    pub end: f64,
}

/// The fault as it happened: when it started, and when it was over (`None`: still on).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSpan {
    pub start: f64,
    pub end: Option<f64>,
    pub description: String,
}

/// A steady-state probe, once decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeState {
    /// "before the fault" or "after recovery".
    pub when: &'static str,
    pub name: String,
    pub expected: String,
    pub observed: Option<f64>,
    /// `None`: nothing was observed, so it is "not measured".
    pub passed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub failures: Vec<String>,
    /// Where the page reads the report (read-api serves the copy the kit leaves here).
    pub report_url: &'static str,
    /// Where the report is on the kit's machine.
    pub report_path: String,
}

/// `experiment.json`. The front end's `src/warzone/experiment.ts` mirrors it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentState {
    pub version: u32,
    pub scenario: &'static str,
    /// The component the fault hits.
    pub target: &'static str,
    pub description: String,
    pub run_id: String,
    pub on: &'static str,
    /// The plan: warm-up, steady, fault, recovery.
    pub phases: Vec<PhaseSpan>,
    /// The phase now: one of the plan's, then "checking" (draining, the data invariant, the
    /// metrics) and "done"; "stopped" when the kit gave up.
    pub phase: &'static str,
    /// The load's planned end, Unix seconds.
    pub load_ends_at: f64,
    pub fault: Option<FaultSpan>,
    pub probes: Vec<ProbeState>,
    pub hypothesis: Hypothesis,
    pub verdict: Option<Verdict>,
    /// When this was written, Unix seconds: a file that stops changing means a dead kit.
    pub updated_at: f64,
}

/// The publisher of one run. Dropping it stops the ticking (the file stays, growing stale).
pub struct Warzone {
    state: Arc<Mutex<ExperimentState>>,
    file: Option<PathBuf>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    t0: Instant,
}

/// How often the phase and the time stamp are refreshed.
const TICK: Duration = Duration::from_millis(500);

impl Warzone {
    /// Starts publishing a run whose load started at `t0` (`wall0` on the clock).
    pub fn start(
        publish: &Publish,
        config: &ExperimentConfig,
        target_name: &'static str,
        run_id: &str,
        t0: Instant,
        wall0: SystemTime,
    ) -> Warzone {
        let e = config.experiment;
        let start = unix_seconds(wall0);
        let mut at = start;
        let phases = [
            ("warm-up", config.warmup),
            ("steady", config.steady),
            ("fault", config.fault),
            ("recovery", config.recovery),
        ]
        .into_iter()
        .map(|(name, d)| {
            let span = PhaseSpan {
                name,
                start: at,
                end: at + d.as_secs_f64(),
            };
            at = span.end;
            span
        })
        .collect();
        let state = ExperimentState {
            version: 1,
            scenario: e.name,
            target: e.component,
            description: e.describe(),
            run_id: run_id.to_string(),
            on: target_name,
            phases,
            phase: "warm-up",
            load_ends_at: at,
            fault: None,
            probes: Vec::new(),
            hypothesis: config.hypothesis,
            verdict: None,
            updated_at: start,
        };
        let file = publish
            .dir
            .as_ref()
            .and_then(|dir| match std::fs::create_dir_all(dir) {
                Ok(()) => {
                    // A report left by the previous run would be linked from this one.
                    let _ = std::fs::remove_file(dir.join("report.md"));
                    Some(dir.join("experiment.json"))
                }
                Err(e) => {
                    eprintln!(
                        "warning: /warzone will not show this run: {}: {e}",
                        dir.display()
                    );
                    None
                }
            });
        let state = Arc::new(Mutex::new(state));
        let ticker = file.clone().map(|file| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(TICK);
                loop {
                    every.tick().await;
                    let mut s = state.lock().expect("not poisoned");
                    let now = unix_seconds(SystemTime::now());
                    s.phase = phase_at(&s, now);
                    write(&file, &mut s);
                }
            })
        });
        let w = Warzone {
            state,
            file,
            ticker,
            t0,
        };
        w.update(|_| {});
        w
    }

    fn update(&self, change: impl FnOnce(&mut ExperimentState)) {
        let mut s = self.state.lock().expect("not poisoned");
        change(&mut s);
        if let Some(file) = &self.file {
            write(file, &mut s);
        }
    }

    /// The fault is being injected now.
    pub fn fault_started(&self) {
        let now = unix_seconds(SystemTime::now());
        self.update(|s| {
            s.fault = Some(FaultSpan {
                start: now,
                end: None,
                description: s.description.to_string(),
            })
        });
    }

    /// The fault is over: its start and end as the injection measured them.
    pub fn fault_over(&self, fault: &FaultRecord) {
        let at = |offset_s: f64| {
            let elapsed = self.t0.elapsed().as_secs_f64();
            unix_seconds(SystemTime::now()) - elapsed + offset_s
        };
        self.update(|s| {
            s.fault = Some(FaultSpan {
                start: at(fault.start_s),
                end: Some(at(fault.end_s)),
                description: fault.description.clone(),
            })
        });
    }

    /// The load is over: what follows is the check.
    pub fn checking(&self) {
        self.update(|s| s.phase = "checking");
    }

    pub fn probes_decided(&self, hypotheses: &Hypotheses) {
        self.update(|s| {
            s.probes = [
                ("before the fault", &hypotheses.before),
                ("after recovery", &hypotheses.after),
            ]
            .into_iter()
            .flat_map(|(when, probes)| {
                probes.iter().map(move |p| ProbeState {
                    when,
                    name: p.name.clone(),
                    expected: p.expected.clone(),
                    observed: p.observed,
                    passed: p.observed.map(|_| p.passed),
                })
            })
            .collect()
        });
    }

    /// The run is over and its report written in `dir`: the verdict, and a copy of report.md
    /// for the page's link.
    pub fn finished(mut self, report: &Report, dir: &Path) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(folder) = self.file.as_ref().and_then(|f| f.parent()) {
            if let Err(e) = std::fs::copy(dir.join("report.md"), folder.join("report.md")) {
                eprintln!("warning: /warzone cannot link the report: {e}");
            }
        }
        self.update(|s| {
            s.phase = "done";
            s.verdict = Some(Verdict {
                passed: report.passed,
                failures: report.failures.clone(),
                report_url: "/api/warzone/report",
                report_path: dir.join("report.md").display().to_string(),
            });
        });
    }
}

impl Drop for Warzone {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
            // The run stopped without a verdict: say so rather than leave a phase that ended.
            self.update(|s| s.phase = "stopped");
        }
    }
}

/// The phase at `now`: the plan's while the load runs, then "checking" until a verdict.
fn phase_at(s: &ExperimentState, now: f64) -> &'static str {
    if s.verdict.is_some() {
        return "done";
    }
    if s.phase == "checking" {
        return "checking";
    }
    s.phases
        .iter()
        .find(|p| now < p.end)
        .map(|p| p.name)
        .unwrap_or("checking")
}

fn write(file: &Path, s: &mut ExperimentState) {
    s.updated_at = unix_seconds(SystemTime::now());
    let tmp = file.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(s).expect("the state serializes");
    if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, file)) {
        eprintln!("warning: publishing {}: {e}", file.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(now: f64) -> ExperimentState {
        let span = |name, start, end| PhaseSpan { name, start, end };
        ExperimentState {
            version: 1,
            scenario: "podkill",
            target: "read-api",
            description: "d".into(),
            run_id: "r".into(),
            on: "local",
            phases: vec![
                span("warm-up", now, now + 5.0),
                span("steady", now + 5.0, now + 20.0),
                span("fault", now + 20.0, now + 30.0),
                span("recovery", now + 30.0, now + 50.0),
            ],
            phase: "warm-up",
            load_ends_at: now + 50.0,
            fault: None,
            probes: vec![],
            hypothesis: Hypothesis::default(),
            verdict: None,
            updated_at: now,
        }
    }

    #[test]
    fn the_phase_follows_the_plan_then_the_check() {
        let mut s = state(1000.0);
        assert_eq!(phase_at(&s, 1000.0), "warm-up");
        assert_eq!(phase_at(&s, 1019.9), "steady");
        assert_eq!(phase_at(&s, 1020.0), "fault");
        assert_eq!(phase_at(&s, 1049.0), "recovery");
        assert_eq!(phase_at(&s, 1050.0), "checking");
        s.phase = "checking";
        assert_eq!(phase_at(&s, 1001.0), "checking", "the load ended early");
    }

    #[test]
    fn the_file_is_replaced_whole_and_says_when() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("experiment.json");
        let mut s = state(1000.0);
        write(&file, &mut s);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(v["scenario"], "podkill");
        assert_eq!(v["phases"][2]["name"], "fault");
        assert!(v["updated_at"].as_f64().unwrap() > 1.7e9);
        assert!(!dir.path().join("experiment.json.tmp").exists());
    }
}
