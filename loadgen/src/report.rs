//! Human-readable forms of a [`Summary`]: the terminal table, and report files whose extension
//! (`.json`, `.md`, `.html`) picks the format.

use std::fmt::Write as _;
use std::path::Path;

use crate::{Outcome, Summary};

fn outcome_line(s: &Summary) -> String {
    match s.outcome {
        Outcome::Completed => format!("completed: all {} requests sent", s.config.requests),
        Outcome::TimedOut => format!(
            "TIMED OUT after {}: {} of {} requests sent",
            humantime::format_duration(s.config.timeout),
            s.sent,
            s.config.requests
        ),
        Outcome::Cancelled => format!(
            "CANCELLED: {} of {} requests sent",
            s.sent, s.config.requests
        ),
    }
}

fn failures(s: &Summary) -> String {
    if s.failed_by_status.is_empty() {
        return "none".into();
    }
    s.failed_by_status
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(s: &Summary) -> Vec<(&'static str, String)> {
    let l = &s.latency;
    vec![
        ("url", s.config.url.clone()),
        ("concurrence", s.config.concurrence.to_string()),
        ("elapsed", format!("{:.2} s", s.elapsed_secs)),
        ("sent", s.sent.to_string()),
        ("succeeded", s.succeeded.to_string()),
        ("failed", s.failed.to_string()),
        ("failed by status", failures(s)),
        ("unanswered at stop", s.unanswered.to_string()),
        ("requests/s", format!("{:.1}", s.requests_per_sec)),
        (
            "latency p50 / p90 / p99 / max",
            format!(
                "{:.3} / {:.3} / {:.3} / {:.3} ms",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            ),
        ),
    ]
}

/// The final table printed by the CLI.
pub fn table(s: &Summary) -> String {
    let mut out = format!("{}\n", outcome_line(s));
    let rows = rows(s);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<width$}  {v}");
    }
    out
}

pub fn markdown(s: &Summary) -> String {
    let mut out = format!(
        "# loadgen run\n\n**{}**\n\n| | |\n|---|---|\n",
        outcome_line(s)
    );
    for (k, v) in rows(s) {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    out.push_str(
        "\n## Per second\n\n| second | requests | success rate | p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|\n",
    );
    for r in &s.series {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3} |",
            r.second, r.requests, r.success_rate, r.p50_ms, r.p99_ms
        );
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page: the table and an SVG chart of requests/s per second.
pub fn html(s: &Summary) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>loadgen run</title>\
         <style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}\
         table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}</style></head><body>",
    );
    let _ = write!(
        out,
        "<h1>loadgen run</h1><p><b>{}</b></p><table>",
        escape(&outcome_line(s))
    );
    for (k, v) in rows(s) {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", k, escape(&v));
    }
    out.push_str("</table><h2>Requests per second</h2>");
    let max = s
        .series
        .iter()
        .map(|r| r.requests)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, h) = (800.0, 200.0);
    let step = w / s.series.len().max(1) as f64;
    let points: Vec<String> = s
        .series
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step + step / 2.0,
                h - r.requests as f64 / max * h
            )
        })
        .collect();
    let _ = write!(
        out,
        "<svg width=\"{w}\" height=\"{h}\" style=\"border:1px solid #ccc\">\
         <polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"{}\"/></svg>\
         <p>peak {max} requests in one second</p>",
        points.join(" ")
    );
    out.push_str(
        "<h2>Per second</h2><table><tr><th>second</th><th>requests</th><th>success rate</th>\
         <th>p50 ms</th><th>p99 ms</th></tr>",
    );
    for r in &s.series {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            r.second, r.requests, r.success_rate, r.p50_ms, r.p99_ms
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

/// Writes the report in the format its extension names.
pub fn write(path: &Path, s: &Summary) -> std::io::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let text = match ext.as_deref() {
        Some("json") => serde_json::to_string_pretty(s).map_err(std::io::Error::other)? + "\n",
        Some("md") => markdown(s),
        Some("html" | "htm") => html(s),
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{}: the report's extension must be .json, .md or .html",
                    path.display()
                ),
            ))
        }
    };
    std::fs::write(path, text)
}
