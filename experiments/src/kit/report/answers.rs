//! The three answers, written from the numbers: how the fault shows (the signals that moved, on
//! which component and side, by how much, and those that did not), how it differs from the other
//! experiments (a table of medians and ranges), and the ranking.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::harm::{Ranking, Spread};
use super::markdown::{num, opt};
use super::Report;
use crate::kit::scenario::Fault;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Answers {
    /// Sentences, each from this run's numbers.
    pub how_it_shows: Vec<String>,
    /// One row per experiment of the latest batches.
    pub how_it_differs: Vec<DiffRow>,
    pub ranking: Ranking,
}

/// One experiment across its repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffRow {
    pub experiment: String,
    pub repeats: usize,
    /// Each signal that moved, with the number of repeats it moved in.
    pub moved: Vec<(String, usize)>,
    pub detect_s: Option<Spread>,
    /// Which side saw it first, counted over the repeats.
    pub first_side: BTreeMap<String, usize>,
    pub recover_s: Option<Spread>,
    pub not_recovered: usize,
    pub failure_user_s: Spread,
    pub stale_page_s: Spread,
    pub data_lost: Spread,
}

/// The "how it differs" rows of the latest batches.
pub fn differs(batches: &[(String, Vec<Report>)]) -> Vec<DiffRow> {
    batches
        .iter()
        .filter(|(_, runs)| !runs.is_empty())
        .map(|(name, runs)| {
            let mut moved: BTreeMap<String, usize> = BTreeMap::new();
            let mut first_side: BTreeMap<String, usize> = BTreeMap::new();
            for r in runs {
                for s in r.impact.signals.iter().filter(|s| s.moved) {
                    *moved.entry(s.label()).or_default() += 1;
                }
                let side = r.impact.first_side.clone().unwrap_or("neither".into());
                *first_side.entry(side).or_default() += 1;
            }
            let values = |f: &dyn Fn(&Report) -> Option<f64>| {
                runs.iter().filter_map(f).collect::<Vec<f64>>()
            };
            let spread = |f: &dyn Fn(&Report) -> Option<f64>| Spread::of(&values(f));
            let zero = Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
                n: 0,
            };
            let mut moved: Vec<(String, usize)> = moved.into_iter().collect();
            moved.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            DiffRow {
                experiment: name.clone(),
                repeats: runs.len(),
                moved,
                detect_s: spread(&|r| r.impact.time_to_detect_s),
                first_side,
                recover_s: spread(&|r| r.impact.time_to_recover_s),
                not_recovered: runs
                    .iter()
                    .filter(|r| r.impact.time_to_recover_s.is_none())
                    .count(),
                failure_user_s: spread(&|r| {
                    Some(r.impact.failure_user_seconds.values().sum::<f64>())
                })
                .unwrap_or(zero),
                stale_page_s: spread(&|r| Some(r.impact.stale_page_seconds)).unwrap_or(zero),
                data_lost: spread(&|r| Some((r.invariant.lost + r.invariant.duplicates) as f64))
                    .unwrap_or(zero),
            }
        })
        .collect()
}

/// Writes the three answers into `report`.
pub fn answer(report: &mut Report, rows: &[DiffRow], ranking: &Ranking) {
    report.answers = Answers {
        how_it_shows: shows(report),
        how_it_differs: rows.to_vec(),
        ranking: ranking.clone(),
    };
}

/// "How it shows", sentence by sentence, from the report's own numbers.
pub fn shows(r: &Report) -> Vec<String> {
    let i = &r.impact;
    let f = &r.fault;
    let mut out = Vec::new();
    let over = match f.fault {
        Fault::Delay | Fault::Bandwidth => "the toxic was removed",
        Fault::BrokerPause => "the broker was continued",
        _ => "a new process was running and ready",
    };
    let mut s = format!(
        "{}. Injected at t={} s; {over} at t={} s",
        f.description,
        num(i.fault_window.from, 1),
        num(i.fault_window.to, 1)
    );
    if let Some(d) = f.measured.downtime_s {
        s += &format!(" ({} was down or paused for {} s)", f.component, num(d, 2));
    }
    out.push(s + ".");

    let mut moved: Vec<_> = i.signals.iter().filter(|s| s.moved).collect();
    moved.sort_by(|a, b| {
        a.detect_s
            .unwrap_or(f64::MAX)
            .total_cmp(&b.detect_s.unwrap_or(f64::MAX))
    });
    for sig in &moved {
        let changed: Vec<String> = sig
            .figures
            .iter()
            .filter_map(|fig| {
                let (a, b) = (opt(fig.steady, 1), opt(fig.impact, 1));
                (a != b).then(|| format!("{} {a}{u} → {b}{u}", fig.name, u = fig.unit))
            })
            .collect();
        let recovered = match sig.recover_s {
            Some(t) => format!("steady again {} s after it", num(t, 1)),
            None => "still disturbed when the load ended".to_string(),
        };
        out.push(format!(
            "{} moved: first disturbed {} s after the fault, {recovered} ({} s disturbed, read at {}){}.",
            sig.label(),
            opt(sig.detect_s, 1),
            num(sig.disturbed_s, 1),
            sig.resolution,
            if changed.is_empty() {
                String::new()
            } else {
                format!("; steady window → impact window: {}", changed.join(", "))
            }
        ));
    }
    let still: Vec<String> = i
        .signals
        .iter()
        .filter(|s| !s.moved)
        .map(|s| s.label())
        .collect();
    if !still.is_empty() {
        out.push(format!("Did not move: {}.", still.join(", ")));
    }
    match (&i.detected_by, i.time_to_detect_s) {
        (Some(by), Some(t)) => out.push(format!(
            "Seen first by {by}, {} s after the fault; the client side saw it after {} s, the server side after {} s: {}.",
            num(t, 1),
            opt(i.client_detect_s, 1),
            opt(i.server_detect_s, 1),
            match i.first_side.as_deref() {
                Some("both at once") => "both sides at once".to_string(),
                Some(side) => format!("the {side} side first"),
                None => "neither".to_string(),
            }
        )),
        _ => out.push("No signal was disturbed after the fault.".into()),
    }
    out.push(match i.time_to_recover_s {
        Some(t) => format!(
            "Every signal was steady again {} s after the fault: the impact window is t={}–{} s.",
            num(t, 1),
            num(i.impact_window.from, 1),
            num(i.impact_window.to, 1)
        ),
        None => format!(
            "Not every signal was steady again while measured: the impact window runs from t={} s to the end of the load at t={} s.",
            num(i.impact_window.from, 1),
            num(i.impact_window.to, 1)
        ),
    });
    let users = |k: &str| i.users.get(k).copied().unwrap_or(0);
    let failing = |k: &str| i.failure_user_seconds.get(k).copied().unwrap_or(0.0);
    out.push(format!(
        "Users: the {} writers spent {} user-seconds failing and the {} viewers {}; the viewers' /live pages were stale for {} viewer-seconds (stale: a prediction accepted {} s earlier not yet shown), and 202 → visible took {} s at the p99 in the steady window, {} s in the impact window (at most {} s).",
        users("writers"),
        num(failing("writers"), 1),
        users("viewers"),
        num(failing("viewers"), 1),
        num(i.stale_page_seconds, 1),
        num(i.stale_after_s, 1),
        opt(i.visible.steady_p99_s, 2),
        opt(i.visible.impact_p99_s, 2),
        opt(i.visible.impact_max_s, 2),
    ));
    let m = &f.measured;
    if f.configured.delay_ms.is_some() || f.configured.rate_kb_s.is_some() {
        let asked = match (f.configured.delay_ms, f.configured.rate_kb_s) {
            (Some(d), _) => format!(
                "{} ms ± {} ms configured",
                num(d, 0),
                opt(f.configured.jitter_ms, 0)
            ),
            (_, Some(k)) => format!("{} KB/s configured", num(k, 0)),
            _ => unreachable!(),
        };
        out.push(format!(
            "On the link: {asked}; live-forwarder's calls to live-store took {} ms on average before the fault and {} ms during it, {} ms more (exact sums and counts of the call durations, not histogram buckets).",
            opt(m.link_mean_before_ms, 1),
            opt(m.link_mean_during_ms, 1),
            opt(m.added_delay_ms, 1)
        ));
    }
    let inv = &r.invariant;
    out.push(format!(
        "Data: {} accepted, {} in MongoDB, {} counted in Redis: {} lost, {} duplicated, {} stored without a 202.",
        inv.accepted, inv.mongodb, inv.redis, inv.lost, inv.duplicates, inv.stored_without_202
    ));
    out
}
