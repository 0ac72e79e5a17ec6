//! The harm ranking: what makes one scenario worse than another, the three answers each report
//! gives (which compare the latest runs), and `SUMMARY.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::markdown::{fmt_opt, pct};
use super::{latest_reports, Answers, Report};
use crate::kit::scenario::Scenario;

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
