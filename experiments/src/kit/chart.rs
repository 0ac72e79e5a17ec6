//! SVG line charts that explain themselves: a title naming the experiment and the run, one
//! panel per component with its own scale, labelled axes, gaps left open where nothing was
//! measured, and the fault and impact windows shaded and named. Written by hand rather than
//! with plotters: text in plotters' SVG backend needs a font backend and system fonts, and these
//! charts need only lines, axes and labels.

use std::fmt::Write as _;

const W: f64 = 760.0;
const PANEL_H: f64 = 150.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TITLE_H: f64 = 40.0;
const GAP: f64 = 28.0;
const X_AXIS_H: f64 = 40.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// One line: its name and its points; a `None` value, or a step of more than `max_step`
/// seconds between points, leaves a gap.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, Option<f64>)>,
}

/// One component's panel, on its own scale.
pub struct Panel {
    pub name: String,
    pub unit: String,
    pub lines: Vec<Line>,
}

/// A shaded, named window `[from, to)`.
pub struct Shade {
    pub name: String,
    pub from: f64,
    pub to: f64,
    pub color: &'static str,
}

/// Points further apart than this are not joined.
const MAX_STEP_S: f64 = 1.5;

pub fn svg(title: &str, panels: &[Panel], shades: &[Shade], t_end: f64) -> String {
    let h = TITLE_H + panels.len() as f64 * (PANEL_H + GAP) + X_AXIS_H;
    let t_max = t_end.max(1.0);
    let x = |t: f64| LEFT + (t / t_max).clamp(0.0, 1.0) * (W - LEFT - RIGHT);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="13" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (k, shade) in shades.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="34" fill="{}">{}</text>"#,
            LEFT + 200.0 * k as f64,
            shade.color,
            escape(&format!(
                "▮ {} {:.1}–{:.1} s",
                shade.name, shade.from, shade.to
            ))
        );
    }
    for (p, panel) in panels.iter().enumerate() {
        let top = TITLE_H + p as f64 * (PANEL_H + GAP) + 14.0;
        let bottom = top + PANEL_H - 14.0;
        let y_max = nice(
            panel
                .lines
                .iter()
                .flat_map(|l| l.points.iter().filter_map(|(_, v)| *v))
                .fold(0.0, f64::max),
        );
        let y = |v: f64| top + (1.0 - (v / y_max).clamp(0.0, 1.0)) * (bottom - top);
        for shade in shades {
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.2"/>"#,
                x(shade.from),
                (x(shade.to) - x(shade.from)).max(1.0),
                bottom - top,
                shade.color
            );
        }
        let _ = write!(
            s,
            r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">{}</text>"#,
            top - 4.0,
            escape(&panel.name)
        );
        for i in 0..=3 {
            let v = y_max * i as f64 / 3.0;
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                W - RIGHT,
                y(v),
                y(v),
                LEFT - 4.0,
                y(v) + 4.0,
                short(v)
            );
        }
        let mid = (top + bottom) / 2.0;
        let _ = write!(
            s,
            r#"<text x="14" y="{mid:.1}" transform="rotate(-90 14 {mid:.1})" text-anchor="middle">{}</text>"#,
            escape(&panel.unit)
        );
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{LEFT}" y1="{top:.1}" y2="{bottom:.1}" stroke="#333"/><line x1="{LEFT}" x2="{:.1}" y1="{bottom:.1}" y2="{bottom:.1}" stroke="#333"/>"##,
            W - RIGHT
        );
        for (i, line) in panel.lines.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            for run in runs(&line.points) {
                let path: Vec<String> = run
                    .iter()
                    .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                    .collect();
                let _ = write!(
                    s,
                    r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
                    path.join(" ")
                );
            }
            let ly = top + 10.0 + 16.0 * i as f64;
            let _ = write!(
                s,
                r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                W - RIGHT + 10.0,
                W - RIGHT + 28.0,
                W - RIGHT + 32.0,
                ly + 4.0,
                escape(&line.name)
            );
        }
    }
    let axis_y = TITLE_H + panels.len() as f64 * (PANEL_H + GAP) - GAP + 14.0;
    let step = (t_max / 8.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= t_max {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}</text>"#,
            x(t),
            axis_y + 14.0
        );
        t += step;
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the load started</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        axis_y + 30.0
    );
    s.push_str("</svg>\n");
    s
}

/// The stretches of points that are drawn joined.
fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut last_t: Option<f64> = None;
    for (t, v) in points {
        match v {
            Some(v) => {
                let joined = last_t.is_some_and(|l| t - l <= MAX_STEP_S);
                if !joined || out.is_empty() {
                    out.push(Vec::new());
                }
                out.last_mut().expect("a run").push((*t, *v));
                last_t = Some(*t);
            }
            None => last_t = None,
        }
    }
    out
}

/// A round upper bound for the y axis.
fn nice(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if max <= m * magnitude {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Text for SVG: the characters XML reserves, escaped (also the Kafka study's charts).
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_its_title_panels_windows_and_gaps() {
        let panel = |name: &str, points: Vec<(f64, Option<f64>)>| Panel {
            name: name.into(),
            unit: "req/s".into(),
            lines: vec![Line {
                name: "answers".into(),
                points,
            }],
        };
        let svg = svg(
            "podkill-read-api, run 1: requests",
            &[
                // A gap at t=2 (no value) and one from 4 to 7 (no point).
                panel(
                    "ingest",
                    vec![
                        (0.0, Some(1.0)),
                        (1.0, Some(2.0)),
                        (2.0, None),
                        (3.0, Some(3.0)),
                        (4.0, Some(1.0)),
                        (7.0, Some(2.0)),
                    ],
                ),
                panel("read-api", vec![]),
            ],
            &[Shade {
                name: "fault".into(),
                from: 2.0,
                to: 3.0,
                color: "#f4a261",
            }],
            8.0,
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("podkill-read-api, run 1"));
        assert!(svg.contains("seconds since the load started"));
        assert!(svg.contains("fault 2.0–3.0 s"));
        assert_eq!(
            svg.matches("<polyline").count(),
            3,
            "three joined stretches"
        );
        assert_eq!(
            svg.matches("fill-opacity=\"0.2\"").count(),
            2,
            "shaded in each panel"
        );
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(73.0), 100.0);
    }
}
