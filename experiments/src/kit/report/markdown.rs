//! `report.md` and `SUMMARY.md` in Markdown, and the number formats every text of the kit uses.
//! Every number printed is a number of `report.json` (a test checks it), so nothing here
//! computes a figure: it only formats them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::answers::DiffRow;
use super::harm::{Harm, Ranking, Spread};
use super::{Report, Unsupported, WarzoneShot};
use crate::kit::scenario;

/// `v` with `decimals` decimals.
pub(super) fn num(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// A value, or "not measured" where there is none.
pub(super) fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| num(v, decimals))
        .unwrap_or_else(|| "not measured".into())
}

fn spread(s: &Spread) -> String {
    if s.min == s.max {
        num(s.median, 1)
    } else {
        format!("{} ({}–{})", num(s.median, 1), num(s.min, 1), num(s.max, 1))
    }
}

fn opt_spread(s: &Option<Spread>) -> String {
    s.as_ref().map(spread).unwrap_or_else(|| "none".into())
}

fn differs_table(md: &mut String, rows: &[DiffRow]) {
    let _ = writeln!(
        md,
        "Medians of the repeats, with their range in brackets.\n"
    );
    let _ = writeln!(md, "| experiment | repeats | signals that moved (in how many repeats) | time to detect, s | seen first by | time to recover, s | not recovered | failure user-s | stale page viewer-s | data lost |\n|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let moved: Vec<String> = r.moved.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let sides: Vec<String> = r
            .first_side
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.experiment,
            r.repeats,
            if moved.is_empty() {
                "none".into()
            } else {
                moved.join(", ")
            },
            opt_spread(&r.detect_s),
            sides.join(", "),
            opt_spread(&r.recover_s),
            r.not_recovered,
            spread(&r.failure_user_s),
            spread(&r.stale_page_s),
            spread(&r.data_lost),
        );
    }
}

fn ranking_table(md: &mut String, ranking: &Ranking) {
    let _ = writeln!(md, "Rule: {}.\n", ranking.rule);
    let _ = writeln!(md, "| rank | experiment | data lost | user-seconds (failed + stale) | time to recover, s | not recovered | passed | above the next by |\n|---|---|---|---|---|---|---|---|");
    for r in &ranking.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} of {} | {} |",
            r.rank,
            r.experiment,
            spread(&r.data_lost),
            spread(&r.user_seconds),
            spread(&r.recover_s),
            r.not_recovered,
            r.passed,
            r.repeats,
            r.above_next_by.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        md,
        "\nThe order held in {} of {} repeats taken one by one (every pair not tied ordered the same way).\n",
        ranking.order_held_in, ranking.repeats
    );
}

pub(super) fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let verdict = if r.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        md,
        "# {} — {} (repeat {} of {}, {verdict})\n",
        r.experiment, r.run_id, r.repeat, r.repeats
    );
    let c = &r.config;
    let load = match (c.capacity_rps, c.load_fraction) {
        (Some(cap), Some(f)) => format!(
            "{} predictions/s ({} of the {} predictions/s `experiments capacity` measured as sustainable)",
            num(c.rate, 0),
            num(f, 2),
            num(cap, 0)
        ),
        _ => format!("{} predictions/s", num(c.rate, 0)),
    };
    let _ = writeln!(md, "Target: {}. Started {}. Load: {load} from {} writers; {} viewers, each reading /api/live every {} s and holding its WebSocket. Phases: warm-up {} s, steady {} s, fault {} s, recovery {} s.\n",
        r.target, r.started_at, c.writers, c.viewers, num(c.read_every_s, 1), num(c.warmup_s, 0), num(c.steady_s, 0), num(c.fault_s, 0), num(c.recovery_s, 0));
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
        r.answers.how_it_shows.join(" ")
    );
    let _ = writeln!(md, "**How does it differ from the other experiments?**\n");
    if r.answers.how_it_differs.is_empty() {
        let _ = writeln!(md, "No experiment has a report yet to compare with.\n");
    } else {
        differs_table(&mut md, &r.answers.how_it_differs);
        md.push('\n');
    }
    let _ = writeln!(md, "**Which experiment is the most harmful?**\n");
    if r.answers.ranking.rows.is_empty() {
        let _ = writeln!(md, "Not ranked yet.\n");
    } else {
        ranking_table(&mut md, &r.answers.ranking);
    }

    let f = &r.fault;
    let _ = writeln!(md, "## The fault\n\n{}\n", f.description);
    let _ = writeln!(md, "| | configured | measured |\n|---|---|---|");
    let _ = writeln!(
        md,
        "| duration, s | {} | fault window t={}–{} s; down or paused {} s |",
        opt(f.configured.duration_s, 1),
        num(r.impact.fault_window.from, 1),
        num(r.impact.fault_window.to, 1),
        opt(f.measured.downtime_s, 2)
    );
    if f.configured.delay_ms.is_some() || f.configured.rate_kb_s.is_some() {
        let _ = writeln!(
            md,
            "| link | delay {} ms ± {} ms, bandwidth {} KB/s | mean call {} ms → {} ms, +{} ms |",
            opt(f.configured.delay_ms, 0),
            opt(f.configured.jitter_ms, 0),
            opt(f.configured.rate_kb_s, 0),
            opt(f.measured.link_mean_before_ms, 1),
            opt(f.measured.link_mean_during_ms, 1),
            opt(f.measured.added_delay_ms, 1)
        );
    }
    if let (Some(a), Some(b)) = (f.measured.pid_before, f.measured.pid_after) {
        let _ = writeln!(
            md,
            "| process | | pid {a} → {b}, restarts {} → {} |",
            f.measured.restarts_before.unwrap_or(0),
            f.measured.restarts_after.unwrap_or(0)
        );
    }
    let _ = writeln!(
        md,
        "| restarted during the run (load start to data check) | | {} |",
        restarted(f.measured.restarted.as_deref())
    );
    let _ = writeln!(md, "\n## Timeline\n\nShaded: the fault window (as measured) and the impact window (until every signal was steady again). The last, partial second of the load is left out; gaps are seconds with nothing measured.\n\n![requests per second](rate.svg)\n![success rate](success.svg)\n![latency of successes](latency.svg)\n![consumer lag and /live freshness](lag.svg)\n");
    if r.target == "kube" {
        let _ = writeln!(
            md,
            "![Linkerd's golden metrics, per deployment and direction](linkerd.svg)\n"
        );
    }
    let _ = writeln!(md, "## Signals\n\nDisturbed: see `experiments/src/kit/signals.rs` for each definition. Figures: steady window → impact window.\n");
    let _ = writeln!(md, "| signal | read at | moved | first disturbed, s after the fault | steady again, s after | disturbed, s | figures |\n|---|---|---|---|---|---|---|");
    for s in &r.impact.signals {
        let figures: Vec<String> = s
            .figures
            .iter()
            .map(|f| {
                format!(
                    "{} {}{u} → {}{u}",
                    f.name,
                    opt(f.steady, 1),
                    opt(f.impact, 1),
                    u = f.unit
                )
            })
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.label(),
            s.resolution,
            if s.moved { "yes" } else { "no" },
            s.detect_s
                .map(|t| num(t, 1))
                .unwrap_or_else(|| "never".into()),
            match (s.moved, s.recover_s) {
                (false, _) => String::new(),
                (true, Some(t)) => num(t, 1),
                (true, None) => "not while measured".into(),
            },
            num(s.disturbed_s, 1),
            figures.join("; ")
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
                opt(p.observed, 3),
                if p.not_measured {
                    "not measured"
                } else if p.passed {
                    "ok"
                } else {
                    "FAILED"
                }
            );
        }
    }
    let i = &r.invariant;
    let _ = writeln!(md, "\n## Data integrity\n\n| accepted by ingest | documents in MongoDB | counted in Redis | duplicates | lost | stored without a 202 | |\n|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} |\n",
        i.accepted, i.mongodb, i.redis, i.duplicates, i.lost, i.stored_without_202, if i.passed { "ok" } else { "FAILED" });
    let _ = writeln!(
        md,
        "Both stores matched after the load stopped: {}.\n",
        match i.settled_after_s {
            Some(s) => format!("after {} s", num(s, 1)),
            None => "not within the wait".into(),
        }
    );
    if let Some(waiting) = i.still_on_kafka {
        let _ = writeln!(
            md,
            "When the wait ended a consumer group still had {waiting} records on Kafka it had not processed (read from the broker): those were stuck, not lost, and are not counted in \"lost\".\n"
        );
    }
    let _ = writeln!(
        md,
        "Every number above, and the per-second series, are in `report.json`.\n"
    );
    let _ = writeln!(md, "## /warzone in the middle of the fault\n");
    match &r.warzone {
        WarzoneShot::Taken { shown } => {
            let _ = writeln!(
                md,
                "The war-zone page during this run ({shown}):\n\n\
                 ![/warzone in the middle of the fault](warzone.png)"
            );
        }
        WarzoneShot::Missing { why } => {
            let _ = writeln!(md, "No screenshot: {why}.");
        }
    }
    md
}

pub(super) fn summary(
    batches: &[(String, Vec<Report>)],
    rows: &[DiffRow],
    ranking: &Ranking,
    unsupported: &BTreeMap<String, Unsupported>,
) -> String {
    let mut md = String::from("# Usactar experiments: summary\n\n");
    if let Some(r) = batches.iter().flat_map(|(_, runs)| runs.first()).next() {
        let c = &r.config;
        let _ = writeln!(
            md,
            "The latest batch of each experiment on the {} target. Load: {} predictions/s{} from {} writers, {} viewers each reading /api/live every {} s with a WebSocket open; phases: warm-up {} s, steady {} s, fault {} s (kills: watched that long), recovery {} s.\n",
            r.target,
            num(c.rate, 0),
            match (c.capacity_rps, c.load_fraction) {
                (Some(cap), Some(f)) => format!(" ({} of the {} predictions/s measured as sustainable)", num(f, 2), num(cap, 0)),
                _ => String::new(),
            },
            c.writers,
            c.viewers,
            num(c.read_every_s, 1),
            num(c.warmup_s, 0),
            num(c.steady_s, 0),
            num(c.fault_s, 0),
            num(c.recovery_s, 0)
        );
    }
    let _ = writeln!(md, "## Which experiment is the most harmful\n");
    ranking_table(&mut md, ranking);
    let _ = writeln!(md, "## How they differ\n");
    differs_table(&mut md, rows);
    if !unsupported.is_empty() {
        let _ = writeln!(md, "\n## Not run on this target\n");
        for u in unsupported.values() {
            let _ = writeln!(md, "- {} ({}): {}.", u.experiment, u.target, u.reason);
        }
    }
    let _ = writeln!(md, "\n## How each shows (the latest repeat)\n");
    for (name, runs) in batches {
        if let Some(r) = runs.last() {
            let _ = writeln!(
                md,
                "### [{name}]({name}/{}/report.md)\n\n{}\n",
                r.run_id,
                r.answers.how_it_shows.join(" ")
            );
        }
    }
    md
}

/// Local and kube runs of each experiment in one table, and what differs, in numbers.
pub(super) fn side_by_side(
    local: &[(String, Vec<Report>)],
    kube: &[(String, Vec<Report>)],
    kube_not_run: &BTreeMap<String, Unsupported>,
) -> String {
    let mut md = String::from("\n## Local and kube side by side\n\n");
    let load = |batches: &[(String, Vec<Report>)]| {
        batches
            .iter()
            .flat_map(|(_, runs)| runs.first())
            .next()
            .map(|r| {
                let c = &r.config;
                let why = match (c.capacity_rps, c.load_fraction) {
                    (Some(cap), Some(f)) => format!(
                        "{} of the {} predictions/s measured as sustainable there",
                        num(f, 2),
                        num(cap, 0)
                    ),
                    _ => "a rate given with --rate".to_string(),
                };
                format!(
                    "{} predictions/s ({why}) from {} writers and {} viewers",
                    num(c.rate, 0),
                    c.writers,
                    c.viewers
                )
            })
    };
    if let (Some(l), Some(k)) = (load(local), load(kube)) {
        let _ = writeln!(
            md,
            "Load: locally {l}; on the sandbox clusters {k}. Figures are medians over the repeats; kube reports are in [kube/](kube/SUMMARY.md).\n"
        );
    }
    let _ = writeln!(md, "| experiment | local: failure user-s + stale viewer-s | kube | local: detected | kube: detected | local: recovered | kube: recovered | lost (local / kube) |\n|---|---|---|---|---|---|---|---|");
    let find = |batches: &'_ [(String, Vec<Report>)], name: &str| {
        batches
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, runs)| runs.clone())
            .unwrap_or_default()
    };
    let mut notes = Vec::new();
    for e in crate::kit::scenario::CATALOG {
        let (l, k) = (find(local, e.name), find(kube, e.name));
        if l.is_empty() && k.is_empty() && !kube_not_run.contains_key(e.name) {
            continue;
        }
        let harm = |runs: &[Report]| {
            Spread::of(
                &runs
                    .iter()
                    .map(|r| Harm::of(r).user_seconds)
                    .collect::<Vec<_>>(),
            )
        };
        let detect = |runs: &[Report]| {
            let s = Spread::of(
                &runs
                    .iter()
                    .filter_map(|r| r.impact.time_to_detect_s)
                    .collect::<Vec<_>>(),
            );
            let by = runs.last().and_then(|r| r.impact.detected_by.clone());
            match (s, by) {
                (Some(s), Some(by)) => format!("{} s by {by}", num(s.median, 1)),
                _ if runs.is_empty() => "—".to_string(),
                _ => "never".to_string(),
            }
        };
        let recover = |runs: &[Report]| {
            let s = Spread::of(
                &runs
                    .iter()
                    .filter_map(|r| r.impact.time_to_recover_s)
                    .collect::<Vec<_>>(),
            );
            let missing = runs
                .iter()
                .filter(|r| r.impact.time_to_recover_s.is_none())
                .count();
            match s {
                Some(s) if missing == 0 => format!("{} s", num(s.median, 1)),
                Some(s) => format!("{} s ({missing} not while measured)", num(s.median, 1)),
                None if runs.is_empty() => "—".to_string(),
                None => "not while measured".to_string(),
            }
        };
        let lost = |runs: &[Report]| {
            if runs.is_empty() {
                "—".to_string()
            } else {
                runs.iter()
                    .map(|r| r.invariant.lost + r.invariant.duplicates)
                    .sum::<i64>()
                    .to_string()
            }
        };
        let kube_harm = match (harm(&k), kube_not_run.get(e.name)) {
            (Some(s), _) => spread(&s),
            (None, Some(_)) => "unsupported".to_string(),
            (None, None) => "not run".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            e.name,
            harm(&l).map(|s| spread(&s)).unwrap_or("not run".into()),
            kube_harm,
            detect(&l),
            detect(&k),
            recover(&l),
            recover(&k),
            lost(&l),
            lost(&k)
        );
        if let (Some(hl), Some(hk), Some(rl), Some(rk)) = (harm(&l), harm(&k), l.first(), k.first())
        {
            // Per 1,000 requests sent, so the two loads compare.
            let per_k = |h: f64, r: &Report| {
                let sent = r.config.rate
                    * (r.config.warmup_s
                        + r.config.steady_s
                        + r.config.fault_s
                        + r.config.recovery_s);
                h / sent.max(1.0) * 1000.0
            };
            notes.push(format!(
                "- **{}**: {} user-s on kube against {} locally, {} against {} per 1,000 predictions sent; the fault window lasted {} s on kube and {} s locally ({}).",
                e.name,
                num(hk.median, 1),
                num(hl.median, 1),
                num(per_k(hk.median, rk), 2),
                num(per_k(hl.median, rl), 2),
                num(rk.impact.fault_window.len(), 1),
                num(rl.impact.fault_window.len(), 1),
                rk.fault.description
            ));
        } else if let Some(u) = kube_not_run.get(e.name) {
            notes.push(format!("- **{}**: not run on kube: {}.", e.name, u.reason));
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "\n### What differs, in numbers\n\n{}", notes.join("\n"));
    }
    md
}

/// Which processes restarted during the run and why; "not measured" where nobody asked.
fn restarted(restarted: Option<&[scenario::Restarted]>) -> String {
    match restarted {
        None => "not measured".into(),
        Some([]) => "none".into(),
        Some(list) => list
            .iter()
            .map(|r| {
                format!(
                    "{} +{} (last ended: {})",
                    r.process,
                    r.restarts,
                    r.last_exit.as_deref().unwrap_or("not recorded")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}
