//! What an experiment writes: `report.json` (every number), `report.md` (the answers), and SVG
//! charts; and the harm ranking that `experiments report` puts in `SUMMARY.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kit::load::SocketStats;
use crate::kit::scenario::{FaultRecord, Scenario};
use crate::kit::series::{GoldenSecond, WindowStats};

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

/// What the harm ranking compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Harm {
    pub scenario: Scenario,
    pub run_id: String,
    pub data_lost: i64,
    pub failed_requests: u64,
    pub time_to_recover_s: Option<f64>,
    pub worst_p99_ms: f64,
    pub passed: bool,
}

impl Harm {
    pub fn of(report: &Report) -> Harm {
        Harm {
            scenario: report.scenario,
            run_id: report.run_id.clone(),
            data_lost: report.invariant.lost + report.invariant.duplicates,
            failed_requests: report.impact.failed_requests.values().sum(),
            time_to_recover_s: report.impact.time_to_recover_s,
            worst_p99_ms: report
                .impact
                .worst_p99_ms
                .values()
                .copied()
                .fold(0.0, f64::max),
            passed: report.passed,
        }
    }
}

/// Most harmful first: data lost (it cannot be undone), then failed requests (users saw
/// errors), then time to recover (never recovered counts as longest), then worst p99.
pub fn rank(harms: &mut [Harm]) {
    harms.sort_by(|a, b| {
        let ttr = |h: &Harm| h.time_to_recover_s.unwrap_or(f64::INFINITY);
        b.data_lost
            .cmp(&a.data_lost)
            .then(b.failed_requests.cmp(&a.failed_requests))
            .then(ttr(b).total_cmp(&ttr(a)))
            .then(b.worst_p99_ms.total_cmp(&a.worst_p99_ms))
            .then(a.scenario.cmp(&b.scenario))
    });
}

fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format!("{v:.1}{unit}"))
        .unwrap_or_else(|| "n/a".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0))
        .unwrap_or_else(|| "n/a".into())
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

/// Writes the three answers into `report` from its own numbers and the latest reports of the
/// other scenarios in `others`.
pub fn answer(report: &mut Report, others: &[Report]) {
    let r = &*report;
    let mut shows = String::new();
    let _ = write!(
        shows,
        "{} at t={:.0}s (over at t={:.0}s). ",
        r.fault.description, r.fault.start_s, r.fault.end_s
    );
    for component in ["ingest", "read-api"] {
        if let (Some(steady), Some(during)) = (
            r.impact.steady.get(component),
            r.impact.during.get(component),
        ) {
            let _ = write!(
                shows,
                "{component} (client side): {:.0} req/s and {} success before, {:.0} req/s and {} during the fault window, p99 {} → {} (worst {}), {} failed requests. ",
                steady.mean_rps,
                pct(steady.success),
                during.mean_rps,
                pct(during.success),
                fmt_opt(steady.p99_ms, " ms"),
                fmt_opt(during.p99_ms, " ms"),
                fmt_opt(during.worst_p99_ms, " ms"),
                r.impact.failed_requests.get(component).copied().unwrap_or(0),
            );
        }
    }
    for (consumer, lag) in &r.impact.max_lag {
        let _ = write!(shows, "{consumer} lag peaked at {lag:.0} records. ");
    }
    let _ = write!(
        shows,
        "The live sockets dropped {} times. The golden signals showed the fault after {} and were back to steady after {}.",
        r.impact.sockets.drops,
        fmt_opt(r.impact.time_to_detect_s, " s"),
        fmt_opt(r.impact.time_to_recover_s, " s"),
    );
    if let Some(d) = r.fault.measured.downtime_s {
        let _ = write!(shows, " {} was down for {d:.2} s.", r.fault.target);
    }
    if let (Some(conf), Some(got)) = (r.fault.configured.delay_ms, r.fault.measured.added_delay_ms)
    {
        let _ = write!(shows, " Configured delay {conf:.0} ms; the link's requests actually saw {got:.0} ms more at the median.");
    }
    let _ = write!(
        shows,
        " Data: {} accepted, {} in MongoDB, {} counted in Redis ({}).",
        r.invariant.accepted,
        r.invariant.mongodb,
        r.invariant.redis,
        if r.invariant.passed {
            "nothing lost, no duplicates"
        } else {
            "MISMATCH"
        }
    );

    let mine = Harm::of(r);
    let mut differs = String::new();
    let others: Vec<&Report> = others.iter().filter(|o| o.scenario != r.scenario).collect();
    if others.is_empty() {
        differs.push_str("No other scenario has a report yet; run `experiments all` to compare.");
    } else {
        let _ = write!(
            differs,
            "This run: {} failed requests, recovery {}, worst p99 {:.0} ms, {} data lost. ",
            mine.failed_requests,
            fmt_opt(mine.time_to_recover_s, " s"),
            mine.worst_p99_ms,
            mine.data_lost
        );
        for o in &others {
            let h = Harm::of(o);
            let _ = write!(
                differs,
                "{}: {} failed requests, recovery {}, worst p99 {:.0} ms, {} data lost. ",
                o.scenario.name(),
                h.failed_requests,
                fmt_opt(h.time_to_recover_s, " s"),
                h.worst_p99_ms,
                h.data_lost
            );
        }
        differs.push_str(
            "Kills of read-api hurt readers (failed GETs, dropped sockets) but not writers; the consumer-side faults (containerkill, netdelay) leave both APIs untouched and show only as consumer lag.",
        );
    }

    let mut harms: Vec<Harm> = others.iter().map(|o| Harm::of(o)).collect();
    harms.push(mine);
    rank(&mut harms);
    let most = harms
        .iter()
        .enumerate()
        .map(|(i, h)| {
            format!(
                "{}. {} ({} failed, {} lost)",
                i + 1,
                h.scenario.name(),
                h.failed_requests,
                h.data_lost
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    report.answers = Answers {
        how_it_shows: shows,
        how_it_differs: differs,
        most_harmful: format!(
            "By data lost, then failed requests, then time to recover, then worst p99, among the latest runs: {most}."
        ),
    };
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
    std::fs::write(dir.join("report.md"), markdown(report))
}

fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let verdict = if r.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(md, "# {} — {} ({verdict})\n", r.scenario.name(), r.run_id);
    let _ = writeln!(md, "Target: {}. Started {}. Load: {:.0} predictions/s from {} writers, {} viewers. Phases: warm-up {:.0}s, steady {:.0}s, fault {:.0}s, recovery {:.0}s.\n",
        r.target, r.started_at, r.config.rate, r.config.writers, r.config.viewers, r.config.warmup_s, r.config.steady_s, r.config.fault_s, r.config.recovery_s);
    if !r.failures.is_empty() {
        let _ = writeln!(md, "## Why it failed\n");
        for f in &r.failures {
            let _ = writeln!(md, "- {f}");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## The three questions\n");
    let _ = writeln!(
        md,
        "**How does it show on the golden-metrics graph, and what happens?** {}\n",
        r.answers.how_it_shows
    );
    let _ = writeln!(
        md,
        "**How does it differ from the other experiments?** {}\n",
        r.answers.how_it_differs
    );
    let _ = writeln!(
        md,
        "**Which experiment is the most harmful?** {}\n",
        r.answers.most_harmful
    );
    let _ = writeln!(md, "## The fault\n\n{}\n", r.fault.description);
    let _ = writeln!(md, "| | configured | measured |\n|---|---|---|");
    let _ = writeln!(
        md,
        "| duration | {} | downtime {} |",
        fmt_opt(r.fault.configured.duration_s, " s"),
        fmt_opt(r.fault.measured.downtime_s, " s")
    );
    if r.fault.configured.delay_ms.is_some() {
        let _ = writeln!(
            md,
            "| delay | {} ± {} | +{} at the median (link p50 {} → {}) |",
            fmt_opt(r.fault.configured.delay_ms, " ms"),
            fmt_opt(r.fault.configured.jitter_ms, " ms"),
            fmt_opt(r.fault.measured.added_delay_ms, " ms"),
            fmt_opt(r.fault.measured.link_p50_before_ms, " ms"),
            fmt_opt(r.fault.measured.link_p50_during_ms, " ms")
        );
    }
    if let (Some(a), Some(b)) = (r.fault.measured.pid_before, r.fault.measured.pid_after) {
        let _ = writeln!(
            md,
            "| process | | pid {a} → {b}, restarts {} → {} |",
            r.fault.measured.restarts_before.unwrap_or(0),
            r.fault.measured.restarts_after.unwrap_or(0)
        );
    }
    let _ = writeln!(md, "\n## Timeline\n\n![requests per second](rate.svg)\n![success rate](success.svg)\n![p99 latency](p99.svg)\n![consumer lag](lag.svg)\n");
    let _ = writeln!(
        md,
        "Time to detect: {}. Time to recover: {}.\n",
        fmt_opt(r.impact.time_to_detect_s, " s"),
        fmt_opt(r.impact.time_to_recover_s, " s")
    );
    let _ = writeln!(md, "| component | steady req/s | steady success | steady p99 | fault req/s | fault success | fault p99 | worst p99 | failed requests |\n|---|---|---|---|---|---|---|---|---|");
    for (c, steady) in &r.impact.steady {
        let during = r.impact.during.get(c).copied().unwrap_or_default();
        let _ = writeln!(
            md,
            "| {c} | {:.0} | {} | {} | {:.0} | {} | {} | {} | {} |",
            steady.mean_rps,
            pct(steady.success),
            fmt_opt(steady.p99_ms, " ms"),
            during.mean_rps,
            pct(during.success),
            fmt_opt(during.p99_ms, " ms"),
            fmt_opt(during.worst_p99_ms, " ms"),
            r.impact.failed_requests.get(c).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        md,
        "\nLive WebSockets: {} viewers, {} pushes received, {} drops.\n",
        r.impact.sockets.viewers, r.impact.sockets.pushes, r.impact.sockets.drops
    );
    let _ = writeln!(md, "## Steady-state hypothesis\n\n| when | probe | expected | observed | |\n|---|---|---|---|---|");
    for (when, probes) in [
        ("before", &r.hypotheses.before),
        ("after", &r.hypotheses.after),
    ] {
        for p in probes {
            let _ = writeln!(
                md,
                "| {when} | {} | {} | {} | {} |",
                p.name,
                p.expected,
                p.observed
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or("n/a".into()),
                if p.passed { "ok" } else { "FAILED" }
            );
        }
    }
    let i = &r.invariant;
    let _ = writeln!(md, "\n## Data integrity\n\n| accepted by ingest | documents in MongoDB | counted in Redis | duplicates | lost | |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |\n",
        i.accepted, i.mongodb, i.redis, i.duplicates, i.lost, if i.passed { "ok" } else { "FAILED" });
    let _ = writeln!(
        md,
        "Both stores matched {} after the load stopped.\n",
        fmt_opt(i.settled_after_s, " s")
    );
    let _ = writeln!(
        md,
        "Server-side series (from Prometheus) and every number above are in `report.json`."
    );
    md
}

/// `SUMMARY.md`: the latest run of each scenario, ranked by harm.
pub fn summary(out: &Path) -> std::io::Result<(PathBuf, Vec<Harm>)> {
    let reports = latest_reports(out);
    let mut harms: Vec<Harm> = reports.iter().map(Harm::of).collect();
    rank(&mut harms);
    let mut md = String::from("# Usactar experiments: summary\n\nThe latest run of each scenario, most harmful first. Ranked by data lost (it cannot be undone), then failed requests (what users saw), then time to recover, then worst p99.\n\n| rank | scenario | run | data lost | failed requests | time to recover | worst p99 | passed |\n|---|---|---|---|---|---|---|---|\n");
    for (i, h) in harms.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {} | [{}]({}/{}/report.md) | {} | {} | {} | {} | {:.0} ms | {} |",
            i + 1,
            h.scenario.name(),
            h.scenario.name(),
            h.run_id,
            h.run_id,
            h.data_lost,
            h.failed_requests,
            fmt_opt(h.time_to_recover_s, " s"),
            h.worst_p99_ms,
            if h.passed { "yes" } else { "no" }
        );
    }
    if let Some(top) = harms.first() {
        let _ = writeln!(md, "\n**Most harmful: {}.**\n", top.scenario.name());
    }
    for r in &reports {
        let _ = writeln!(
            md,
            "## {}\n\n{}\n",
            r.scenario.name(),
            r.answers.how_it_shows
        );
    }
    let path = out.join("SUMMARY.md");
    std::fs::create_dir_all(out)?;
    std::fs::write(&path, md)?;
    Ok((path, harms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn harm(s: Scenario, lost: i64, failed: u64, ttr: Option<f64>, p99: f64) -> Harm {
        Harm {
            scenario: s,
            run_id: "r".into(),
            data_lost: lost,
            failed_requests: failed,
            time_to_recover_s: ttr,
            worst_p99_ms: p99,
            passed: true,
        }
    }

    #[test]
    fn lost_data_outranks_everything_then_failures_then_recovery() {
        let mut h = vec![
            harm(Scenario::NetDelay, 0, 0, Some(9.0), 900.0),
            harm(Scenario::PodKill, 0, 40, Some(2.0), 100.0),
            harm(Scenario::ContainerKill, 1, 0, Some(1.0), 10.0),
            harm(Scenario::PodFailure, 0, 40, None, 50.0),
        ];
        rank(&mut h);
        let order: Vec<_> = h.iter().map(|h| h.scenario.name()).collect();
        assert_eq!(
            order,
            ["containerkill", "podfailure", "podkill", "netdelay"]
        );
    }

    proptest! {
        #[test]
        fn ranking_is_a_sorted_permutation(items in proptest::collection::vec((0i64..3, 0u64..100, proptest::option::of(0.0f64..60.0), 0.0f64..1000.0), 1..8)) {
            let scenarios = crate::kit::scenario::ALL;
            let mut h: Vec<Harm> = items.iter().enumerate().map(|(i, (l, f, t, p))| harm(scenarios[i % 4], *l, *f, *t, *p)).collect();
            let before = h.len();
            rank(&mut h);
            prop_assert_eq!(h.len(), before);
            for pair in h.windows(2) {
                prop_assert!(pair[0].data_lost >= pair[1].data_lost);
                if pair[0].data_lost == pair[1].data_lost {
                    prop_assert!(pair[0].failed_requests >= pair[1].failed_requests);
                }
            }
        }
    }
}
