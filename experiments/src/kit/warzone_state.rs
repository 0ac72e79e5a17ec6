//! What the `/warzone` page shows of the running experiment: the kit publishes its state as
//! `experiment.json` in the stack's `warzone/` folder (read-api serves it read-only at
//! `/api/warzone/experiment`), at least twice a second and at every event (the fault starting
//! and ending, the probes decided, the verdict), and takes a screenshot of the page in the
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

/// The screenshot of `/warzone` for the report: `warzone.png` in the report folder, or why
/// there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Screenshot {
    /// The file, and what the page showed when it was taken.
    Taken {
        png: PathBuf,
        shown: String,
    },
    Missing(String),
}

/// What the screenshot script prints when it saved the picture.
#[derive(serde::Deserialize)]
struct Shown {
    phase: String,
    late_ms: f64,
}

/// Opens the page now and photographs it `at` after `t0` (the middle of the fault) into
/// `<dir>/warzone.png`, with the front end's playwright-core and Chromium. The browser starts
/// at once because it takes seconds to start on a busy machine; it is the page open during the
/// run that the issue asks for.
pub fn screenshot_at(
    publish: &Publish,
    t0: Instant,
    at: Duration,
) -> tokio::task::JoinHandle<Screenshot> {
    let page = publish.page.clone();
    let folder = publish.dir.clone();
    let at_unix_ms =
        (unix_seconds(SystemTime::now()) + at.as_secs_f64() - t0.elapsed().as_secs_f64()) * 1000.0;
    tokio::spawn(async move {
        let (Some((url, frontend)), Some(folder)) = (page, folder) else {
            return Screenshot::Missing(
                "not taken: this target has no /warzone page to photograph".into(),
            );
        };
        let script = frontend.join("scripts/warzone-screenshot.mjs");
        // Absolute: the script runs in the front end's folder, and a relative state folder
        // (`.state`, the default) would put the picture there instead (it did, in the first
        // `scripts/run all` of the new kit: every report said "failed").
        let out = std::path::absolute(folder.join("warzone.png"))
            .unwrap_or_else(|_| folder.join("warzone.png"));
        let _ = std::fs::remove_file(&out);
        let run = tokio::process::Command::new("node")
            .arg(&script)
            .arg(&url)
            .arg(&out)
            .arg(format!("{at_unix_ms:.0}"))
            .current_dir(&frontend)
            .kill_on_drop(true)
            .output();
        let limit = at + Duration::from_secs(60);
        match tokio::time::timeout(limit, run).await {
            Err(_) => Screenshot::Missing(format!(
                "not taken: the browser was not done {} s after the load started",
                limit.as_secs()
            )),
            Ok(Err(e)) => {
                Screenshot::Missing(format!("not taken: running node {}: {e}", script.display()))
            }
            Ok(Ok(o)) if !o.status.success() || !out.exists() => Screenshot::Missing(format!(
                "not taken: {} {}",
                script.display(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            )),
            Ok(Ok(o)) => {
                let shown = serde_json::from_slice::<Shown>(&o.stdout)
                    .map(|s| {
                        format!(
                            "the phase the page showed: {}; taken {:.1} s after the middle of the fault window",
                            s.phase,
                            s.late_ms / 1000.0
                        )
                    })
                    .unwrap_or_else(|_| "what the page showed was not reported".into());
                Screenshot::Taken { png: out, shown }
            }
        }
    })
}

/// Puts the screenshot into the report folder and shows it at the end of `report.md` (or says
/// why there is none).
pub fn add_to_report(dir: &Path, shot: Screenshot) -> std::io::Result<()> {
    let section = match shot {
        Screenshot::Taken { png, shown } => {
            std::fs::copy(&png, dir.join("warzone.png"))?;
            format!(
                "## /warzone in the middle of the fault\n\n\
                 The war-zone page during this run ({shown}):\n\n\
                 ![/warzone in the middle of the fault](warzone.png)\n"
            )
        }
        Screenshot::Missing(why) => {
            format!("## /warzone in the middle of the fault\n\nNo screenshot: {why}.\n")
        }
    };
    let md = dir.join("report.md");
    let mut text = std::fs::read_to_string(&md)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&section);
    std::fs::write(md, text)
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

    #[test]
    fn the_report_shows_the_screenshot_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.md"), "# r\n").unwrap();
        add_to_report(
            dir.path(),
            Screenshot::Missing("not taken: no browser".into()),
        )
        .unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(
            md.ends_with("No screenshot: not taken: no browser.\n"),
            "{md}"
        );
        let png = dir.path().join("shot.png");
        std::fs::write(&png, b"\x89PNG").unwrap();
        std::fs::write(dir.path().join("report.md"), "# r\n").unwrap();
        let shown = "the phase the page showed: fault".to_string();
        add_to_report(dir.path(), Screenshot::Taken { png, shown }).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("(the phase the page showed: fault)"), "{md}");
        assert!(md.contains("![/warzone in the middle of the fault](warzone.png)"));
        assert!(dir.path().join("warzone.png").exists());
    }
}
