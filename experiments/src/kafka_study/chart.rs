//! The study's charts: small SVG line charts with a title, labelled axes, gaps left open where a
//! signal was not measured, and the fault shaded.

use std::fmt::Write;

use crate::kit::chart::escape;

/// One line; `None` values break it (not measured).
pub struct Line<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub points: Vec<(f64, Option<f64>)>,
}

pub struct Chart<'a> {
    pub title: String,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub lines: Vec<Line<'a>>,
    /// A shaded span of x, with its name.
    pub shade: Option<(f64, f64, &'a str)>,
    /// Draw x on a log scale (values must be positive).
    pub log_x: bool,
}

const W: f64 = 720.0;
const H: f64 = 280.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

/// A round step giving about five ticks over `span`.
fn step(span: f64) -> f64 {
    let raw = (span / 5.0).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

pub fn svg(c: &Chart) -> String {
    let fx = |x: f64| if c.log_x { x.log10() } else { x };
    let xs: Vec<f64> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| fx(p.0)))
        .collect();
    let ys: Vec<f64> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .collect();
    let (x0, x1) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let (x0, x1) = if x0.is_finite() && x1 > x0 {
        (x0, x1)
    } else {
        (0.0, 1.0)
    };
    let y1 = ys.iter().copied().fold(0.0, f64::max);
    let ystep = step(if y1 > 0.0 { y1 } else { 1.0 });
    let y1 = (y1 / ystep).ceil().max(1.0) * ystep;
    let px = |x: f64| LEFT + (fx(x) - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - y / y1 * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11"><rect width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{}</text>"#,
        escape(&c.title)
    );
    if let Some((a, b, name)) = c.shade {
        let (a, b) = (px(a).max(LEFT), px(b).min(W - RIGHT));
        let _ = write!(
            s,
            r##"<rect x="{a:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#f4a261" fill-opacity="0.25"/><text x="{:.1}" y="{:.1}" fill="#b5651d">{}</text>"##,
            (b - a).max(1.0),
            H - TOP - BOTTOM,
            a + 3.0,
            TOP + 12.0,
            escape(name)
        );
    }
    let mut y = 0.0;
    while y <= y1 + ystep / 2.0 {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            py(y),
            py(y),
            LEFT - 4.0,
            py(y) + 4.0,
            number(y)
        );
        y += ystep;
    }
    let ticks: Vec<f64> = if c.log_x {
        let mut t = Vec::new();
        let mut v = 10f64.powf(x0.floor());
        while v.log10() <= x1 + 1e-9 {
            if v.log10() >= x0 - 1e-9 {
                t.push(v);
            }
            v *= 10.0;
        }
        xs_ticks_or(t, &c.lines)
    } else {
        let st = step(x1 - x0);
        let mut t = Vec::new();
        let mut v = (x0 / st).ceil() * st;
        while v <= x1 + 1e-9 {
            t.push(v);
            v += st;
        }
        t
    };
    for t in ticks {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            px(t),
            H - BOTTOM + 14.0,
            number(t)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 8.0,
        escape(c.x_label)
    );
    let _ = write!(
        s,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"#,
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
        escape(c.y_label)
    );
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    for (i, line) in c.lines.iter().enumerate() {
        // One path per run of measured points: a gap stays open.
        let mut d = String::new();
        let mut pen_down = false;
        for (x, y) in &line.points {
            match y {
                Some(y) => {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        px(*x),
                        py(*y)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            s,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.6"/>"#,
            line.color
        );
        let ly = TOP + 14.0 + i as f64 * 16.0;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            W - RIGHT + 10.0,
            W - RIGHT + 26.0,
            line.color,
            W - RIGHT + 30.0,
            ly + 4.0,
            escape(line.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Log-scale ticks at the data's own x values when powers of ten are too few.
fn xs_ticks_or(powers: Vec<f64>, lines: &[Line]) -> Vec<f64> {
    if powers.len() >= 2 {
        return powers;
    }
    let mut xs: Vec<f64> = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs
}

fn number(v: f64) -> String {
    if v.abs() >= 1000.0 && v.fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_breaks_the_line_and_the_chart_names_itself() {
        let chart = Chart {
            title: "broker paused — run X".into(),
            x_label: "seconds since the fault",
            y_label: "records",
            lines: vec![Line {
                name: "live",
                color: "#d62728",
                points: vec![
                    (0.0, Some(1.0)),
                    (1.0, None),
                    (2.0, Some(3.0)),
                    (3.0, Some(2.0)),
                ],
            }],
            shade: Some((0.0, 1.5, "paused")),
            log_x: false,
        };
        let s = svg(&chart);
        assert!(
            s.contains("broker paused — run X")
                && s.contains("seconds since the fault")
                && s.contains("paused")
        );
        // Two runs of points: two moves, one line segment.
        let path = s
            .split("<path d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(path.matches('M').count(), 2);
        assert_eq!(path.matches('L').count(), 1);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(step(100.0), 20.0);
        assert_eq!(step(7.0), 2.0);
        assert_eq!(number(2000.0), "2k");
    }
}
