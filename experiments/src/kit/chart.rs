//! Small SVG line charts with the fault window shaded. Written by hand rather than with
//! plotters: text in plotters' SVG backend needs a font backend and system fonts, and these
//! charts need only lines, axes and labels.

use std::fmt::Write as _;

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 35.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// A chart of `lines` (name, (t seconds, value)) with `fault` = (start, end) shaded.
pub fn svg(
    title: &str,
    unit: &str,
    lines: &[(String, Vec<(f64, f64)>)],
    fault: (f64, f64),
) -> String {
    let all: Vec<(f64, f64)> = lines.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let t_max = all
        .iter()
        .map(|p| p.0)
        .fold(fault.1 + 1.0, f64::max)
        .max(1.0);
    let y_max = nice(all.iter().map(|p| p.1).fold(0.0, f64::max));
    let x = |t: f64| LEFT + (t / t_max) * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - (v / y_max).clamp(0.0, 1.0)) * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#f4a261" fill-opacity="0.25"/>"##,
        x(fault.0),
        (x(fault.1) - x(fault.0)).max(1.0),
        H - TOP - BOTTOM
    );
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" fill="#b5651d">fault</text>"##,
        x(fault.0) + 2.0,
        TOP + 12.0
    );
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for i in 0..=4 {
        let v = y_max * i as f64 / 4.0;
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
    let step = (t_max / 6.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= t_max {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}s</text>"#,
            x(t),
            H - BOTTOM + 15.0
        );
        t += step;
    }
    let _ = write!(
        s,
        r#"<text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        H / 2.0,
        H / 2.0,
        escape(unit)
    );
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if !points.is_empty() {
            let path: Vec<String> = points
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
                path.join(" ")
            );
        }
        let ly = TOP + 14.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            W - RIGHT + 10.0,
            W - RIGHT + 28.0,
            W - RIGHT + 32.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_svg_with_the_fault_shaded_and_every_line() {
        let svg = svg(
            "t",
            "ms",
            &[
                ("a".into(), vec![(0.0, 1.0), (5.0, 3.0)]),
                ("b".into(), vec![]),
            ],
            (2.0, 3.0),
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("fill-opacity=\"0.25\""));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains(">a<") && svg.contains(">b<"));
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(73.0), 100.0);
        assert_eq!(nice(180.0), 200.0);
    }
}
