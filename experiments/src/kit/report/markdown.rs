//! `report.md`: one report in Markdown, and the number formats every text of the kit uses.

use std::fmt::Write as _;

use super::Report;

pub(super) fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format!("{v:.1}{unit}"))
        .unwrap_or_else(|| "n/a".into())
}

pub(super) fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

pub(super) fn markdown(r: &Report) -> String {
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
