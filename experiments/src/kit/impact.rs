//! What the fault did, from the raw samples (see `signals` for every definition): per signal
//! (component and side), whether it moved, when it was first disturbed and when it was steady
//! again at 100 ms; the impact window; failures in user-seconds; the /live page's freshness.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kit::load::{SocketStats, Viewed};
use crate::kit::scenario::FaultRecord;
use crate::kit::series::{percentile, GoldenSecond};
use crate::kit::signals::{self, Bins, Request, Scrape, BIN_S};

/// Everything measured during one experiment, in seconds since the load started.
pub struct Measurements<'a> {
    pub writers: &'a [Request],
    /// Writers' simultaneous users (loadgen's goose users).
    pub writer_users: usize,
    pub viewed: &'a Viewed,
    /// Each local service's 100 ms scrapes (empty on a cluster).
    pub scrapes: &'a BTreeMap<String, Vec<Scrape>>,
    /// Per-second server series from Prometheus, for components without scrapes (a cluster).
    pub prometheus: &'a BTreeMap<String, Vec<GoldenSecond>>,
    /// Each consumer group's lag, from the broker.
    pub lag: &'a BTreeMap<String, Vec<(f64, Option<f64>)>>,
    /// The live total before the load started.
    pub baseline_total: u64,
}

/// `[from, to)`, seconds since the load started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from: f64,
    pub to: f64,
}

impl Window {
    pub fn len(&self) -> f64 {
        (self.to - self.from).max(0.0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0.0
    }
    fn contains(&self, t: f64) -> bool {
        t >= self.from && t < self.to
    }
}

/// One figure of a signal: its value over the steady window and over the impact window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub steady: Option<f64>,
    pub impact: Option<f64>,
}

fn figure(name: &str, unit: &str, steady: Option<f64>, impact: Option<f64>) -> Figure {
    Figure {
        name: name.into(),
        unit: unit.into(),
        steady,
        impact,
    }
}

/// One signal: a component seen from one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub component: String,
    /// "client" (what users felt), "server" (the component's own counters) or "broker" (Kafka).
    pub side: String,
    /// Any 100 ms bin disturbed from the fault's start on.
    pub moved: bool,
    pub detect_s: Option<f64>,
    /// `None` when it moved and was still disturbed when the load ended.
    pub recover_s: Option<f64>,
    pub disturbed_s: f64,
    /// The disturbed stretches, `[from, to)` (merged 100 ms bins).
    pub disturbed: Vec<(f64, f64)>,
    /// How its series were read: "100 ms", "1 s".
    pub resolution: String,
    pub figures: Vec<Figure>,
}

impl Signal {
    pub fn label(&self) -> String {
        format!("{} ({})", self.component, self.side)
    }
}

/// 202 → visible on /live, seconds (count-matched, over every viewer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Visible {
    pub steady_p50_s: Option<f64>,
    pub steady_p99_s: Option<f64>,
    pub impact_p50_s: Option<f64>,
    pub impact_p99_s: Option<f64>,
    pub impact_max_s: Option<f64>,
    /// Viewer × prediction pairs accepted in the impact window that no push showed by the end.
    pub not_shown: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// As measured: the kill or stop until the target was ready again; the hold's start to end.
    pub fault_window: Window,
    /// From the fault's start until every signal was steady again (until the load's end when
    /// one never was).
    pub impact_window: Window,
    pub time_to_detect_s: Option<f64>,
    /// The signal that saw it first, and which side: "client", "server", or both at once.
    pub detected_by: Option<String>,
    pub first_side: Option<String>,
    pub client_detect_s: Option<f64>,
    pub server_detect_s: Option<f64>,
    /// From the fault's start until the last signal was steady again; `None`: not while
    /// measured.
    pub time_to_recover_s: Option<f64>,
    pub signals: Vec<Signal>,
    /// Failed requests over the whole run, by component (client side).
    pub failed_requests: BTreeMap<String, u64>,
    /// User-seconds of failure, by kind of user ("writers", "viewers").
    pub failure_user_seconds: BTreeMap<String, f64>,
    pub users: BTreeMap<String, usize>,
    /// Viewer-seconds of stale /live page over the whole run.
    pub stale_page_seconds: f64,
    /// A page is stale when a prediction accepted this long ago is not on it.
    pub stale_after_s: f64,
    pub visible: Visible,
    pub sockets: SocketStats,
}

/// Merges disturbed bins into stretches.
fn stretches(bins: &Bins) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, d) in bins.disturbed.iter().enumerate() {
        if !*d {
            continue;
        }
        let a = bins.from + i as f64 * BIN_S;
        let b = a + BIN_S;
        match out.last_mut() {
            Some(last) if (last.1 - a).abs() < 1e-6 => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out.into_iter()
        .map(|(a, b)| ((a * 10.0).round() / 10.0, (b * 10.0).round() / 10.0))
        .collect()
}

fn rate_in(requests: &[Request], w: Window) -> Option<f64> {
    (!w.is_empty())
        .then(|| requests.iter().filter(|r| w.contains(r.answered)).count() as f64 / w.len())
}

fn client_figures(requests: &[Request], steady: Window, impact: Window) -> Vec<Figure> {
    let of = |w: Window| {
        let answered: Vec<&Request> = requests.iter().filter(|r| w.contains(r.answered)).collect();
        let ok: Vec<f64> = answered
            .iter()
            .filter(|r| r.ok)
            .map(|r| r.latency_ms())
            .collect();
        let n = answered.len();
        (
            (n > 0).then(|| ok.len() as f64 / n as f64 * 100.0),
            (n - ok.len()) as f64,
            percentile(&ok, 0.99),
        )
    };
    let (s, i) = (of(steady), of(impact));
    vec![
        figure(
            "answers",
            "/s",
            rate_in(requests, steady),
            rate_in(requests, impact),
        ),
        figure("success", "%", s.0, i.0),
        figure("failed requests", "", Some(s.1), Some(i.1)),
        figure("p99 of successes", " ms", s.2, i.2),
    ]
}

fn server_figures(scrapes: &[Scrape], steady: Window, impact: Window) -> Vec<Figure> {
    let of = |w: Window| {
        let iv: Vec<_> = signals::intervals(scrapes)
            .into_iter()
            .filter(|i| w.contains(i.to))
            .collect();
        let requests: f64 = iv.iter().map(|i| i.requests).sum();
        let errors: f64 = iv.iter().map(|i| i.errors).sum();
        let unreachable = scrapes
            .iter()
            .filter(|s| w.contains(s.t) && s.counters.is_none())
            .count() as f64
            * BIN_S;
        (
            (!w.is_empty()).then(|| requests / w.len()),
            errors,
            signals::mean_ms_over(scrapes, w.from, w.to),
            (unreachable * 10.0).round() / 10.0,
        )
    };
    let (s, i) = (of(steady), of(impact));
    vec![
        figure("requests", "/s", s.0, i.0),
        figure("server errors", "", Some(s.1), Some(i.1)),
        figure("mean latency", " ms", s.2, i.2),
        figure("unreachable", " s", Some(s.3), Some(i.3)),
    ]
}

fn seconds_figures(points: &[GoldenSecond], steady: Window, impact: Window) -> Vec<Figure> {
    let of = |w: Window| {
        let p: Vec<&GoldenSecond> = points.iter().filter(|p| w.contains(p.t)).collect();
        let n = p.len() as f64;
        let success: Vec<f64> = p.iter().filter_map(|p| p.success).collect();
        (
            (n > 0.0).then(|| p.iter().map(|p| p.rps).sum::<f64>() / n),
            (!success.is_empty())
                .then(|| success.iter().sum::<f64>() / success.len() as f64 * 100.0),
        )
    };
    let (s, i) = (of(steady), of(impact));
    vec![
        figure("requests", "/s", s.0, i.0),
        figure("success", "%", s.1, i.1),
    ]
}

fn lag_figures(samples: &[(f64, Option<f64>)], steady: Window, impact: Window) -> Vec<Figure> {
    let of = |w: Window| {
        let in_w: Vec<Option<f64>> = samples
            .iter()
            .filter(|(t, _)| w.contains(*t))
            .map(|(_, v)| *v)
            .collect();
        (
            in_w.iter().flatten().copied().reduce(f64::max),
            in_w.iter().filter(|v| v.is_none()).count() as f64,
        )
    };
    let (s, i) = (of(steady), of(impact));
    vec![
        figure("max lag", " records", s.0, i.0),
        figure("not measured", " s", Some(s.1), Some(i.1)),
    ]
}

/// The impact of `fault` on what was measured. `steady` is the window before the fault;
/// `load_end` when the load stopped (the last partial second is left out).
pub fn impact(m: &Measurements, fault: &FaultRecord, steady: Window, load_end: f64) -> Impact {
    let end = load_end.floor();
    let at = fault.start_s;
    let fault_window = Window {
        from: fault.start_s,
        to: fault.end_s.max(fault.start_s),
    };
    let viewed = m.viewed;

    // The bars, from the steady window.
    let writer_slow =
        signals::slow_bar_ms(&signals::ok_latencies(m.writers, steady.from, steady.to))
            .unwrap_or(f64::INFINITY);
    let viewer_slow = signals::slow_bar_ms(&signals::ok_latencies(
        &viewed.reads,
        steady.from,
        steady.to,
    ))
    .unwrap_or(f64::INFINITY);
    let accepted = signals::accepted_times(m.writers);
    let steady_visible: Vec<f64> = viewed
        .pushes
        .iter()
        .flat_map(|p| {
            signals::visible_latencies(p, &accepted, m.baseline_total, steady.from, steady.to).0
        })
        .collect();
    let stale_after = percentile(&steady_visible, 0.99)
        .map(|p| (2.0 * p).max(1.0))
        .unwrap_or(1.0);
    let stale = signals::stale_viewers(
        &viewed.pushes,
        &accepted,
        m.baseline_total,
        stale_after,
        0.0,
        end,
    );

    // Every signal's bins.
    let mut found: Vec<(String, &str, Bins, &str)> = vec![
        (
            "ingest".into(),
            "client",
            signals::client_bins(m.writers, 0.0, end, writer_slow),
            "100 ms",
        ),
        (
            "read-api".into(),
            "client",
            signals::client_bins(&viewed.reads, 0.0, end, viewer_slow),
            "100 ms",
        ),
    ];
    if !viewed.pushes.is_empty() {
        let mut bins = Bins::new(0.0, end);
        for (b, n) in bins.disturbed.iter_mut().zip(&stale) {
            *b = *n > 0;
        }
        found.push(("/live page".into(), "client", bins, "100 ms"));
    }
    for (name, scrapes) in m.scrapes {
        let base = signals::server_baseline(scrapes, steady.from, steady.to);
        found.push((
            name.clone(),
            "server",
            signals::server_bins(scrapes, 0.0, end, &base),
            "100 ms",
        ));
    }
    for (name, points) in m.prometheus {
        if m.scrapes.contains_key(name) {
            continue;
        }
        // Per-second points (Linkerd's, on a cluster): disturbed when failures pass 1 %, or
        // when fewer than half the steady rate's requests arrive (a caller that cannot reach
        // the server sends nothing: its proxy sees no failure, only silence).
        let mut steady_rates: Vec<f64> = points
            .iter()
            .filter(|p| p.t >= steady.from && p.t < steady.to)
            .map(|p| p.rps)
            .collect();
        steady_rates.sort_by(f64::total_cmp);
        let steady_rate = steady_rates.get(steady_rates.len() / 2).copied();
        let mut bins = Bins::new(0.0, end);
        for p in points.iter().filter(|p| {
            p.success.is_some_and(|s| s < 0.99)
                || steady_rate.is_some_and(|r| r >= 1.0 && p.rps < r / 2.0)
        }) {
            bins.mark(p.t, p.t + 1.0 - BIN_S / 2.0);
        }
        found.push((name.clone(), "server", bins, "1 s"));
    }
    for (group, samples) in m.lag {
        found.push((
            format!("{group} group lag"),
            "broker",
            signals::lag_bins(samples, (steady.from, steady.to), 0.0, end),
            "1 s",
        ));
    }

    // Detection, recovery and the impact window over every signal.
    let mut ttd: Option<(f64, usize)> = None;
    let mut ttr: Option<f64> = Some(0.0);
    let (mut client_detect, mut server_detect) = (None::<f64>, None::<f64>);
    for (i, (_, side, bins, _)) in found.iter().enumerate() {
        if let Some(d) = bins.time_to_detect(at) {
            if ttd.is_none_or(|(t, _)| d < t) {
                ttd = Some((d, i));
            }
            let slot = if *side == "client" {
                &mut client_detect
            } else {
                &mut server_detect
            };
            *slot = Some(slot.map_or(d, |s: f64| s.min(d)));
        }
        ttr = ttr.zip(bins.time_to_recover(at)).map(|(a, b)| a.max(b));
    }
    let impact_window = Window {
        from: at,
        to: match ttr {
            Some(r) => (at + r).max(fault_window.to),
            None => end,
        },
    };
    let first_side = match (client_detect, server_detect) {
        (Some(c), Some(s)) if (c - s).abs() < BIN_S / 2.0 => Some("both at once".to_string()),
        (Some(c), Some(s)) => Some(if c < s { "client" } else { "server" }.to_string()),
        (Some(_), None) => Some("client".into()),
        (None, Some(_)) => Some("server".into()),
        (None, None) => None,
    };

    let signals: Vec<Signal> = found
        .iter()
        .map(|(component, side, bins, resolution)| {
            let figures = match (*side, component.as_str()) {
                ("client", "ingest") => client_figures(m.writers, steady, impact_window),
                ("client", "read-api") => client_figures(&viewed.reads, steady, impact_window),
                ("client", _) => {
                    let viewer_s = |w: Window| {
                        let from = (w.from / BIN_S).floor().max(0.0) as usize;
                        let to = ((w.to / BIN_S).floor() as usize).min(stale.len());
                        signals::stale_seconds(&stale[from.min(to)..to])
                    };
                    let visible = |w: Window| {
                        let all: Vec<f64> = viewed
                            .pushes
                            .iter()
                            .flat_map(|p| {
                                signals::visible_latencies(
                                    p,
                                    &accepted,
                                    m.baseline_total,
                                    w.from,
                                    w.to,
                                )
                                .0
                            })
                            .collect();
                        percentile(&all, 0.99)
                    };
                    vec![
                        figure(
                            "stale page",
                            " viewer-s",
                            Some(viewer_s(steady)),
                            Some(viewer_s(impact_window)),
                        ),
                        figure(
                            "202 → visible p99",
                            " s",
                            visible(steady),
                            visible(impact_window),
                        ),
                    ]
                }
                ("server", _) => match m.scrapes.get(component) {
                    Some(s) => server_figures(s, steady, impact_window),
                    None => seconds_figures(
                        m.prometheus
                            .get(component)
                            .map(Vec::as_slice)
                            .unwrap_or(&[]),
                        steady,
                        impact_window,
                    ),
                },
                _ => {
                    let group = component.trim_end_matches(" group lag");
                    lag_figures(
                        m.lag.get(group).map(Vec::as_slice).unwrap_or(&[]),
                        steady,
                        impact_window,
                    )
                }
            };
            let disturbed_s = bins.disturbed_seconds(at);
            Signal {
                component: component.clone(),
                side: side.to_string(),
                moved: disturbed_s > 0.0,
                detect_s: bins.time_to_detect(at),
                recover_s: bins.time_to_recover(at),
                disturbed_s,
                disturbed: stretches(bins)
                    .into_iter()
                    .filter(|(_, b)| *b > at)
                    .collect(),
                resolution: resolution.to_string(),
                figures,
            }
        })
        .collect();

    let mut visible = Visible::default();
    let mut during = Vec::new();
    for p in &viewed.pushes {
        let (l, never) = signals::visible_latencies(
            p,
            &accepted,
            m.baseline_total,
            impact_window.from,
            impact_window.to,
        );
        during.extend(l);
        visible.not_shown += never;
    }
    visible.steady_p50_s = percentile(&steady_visible, 0.5);
    visible.steady_p99_s = percentile(&steady_visible, 0.99);
    visible.impact_p50_s = percentile(&during, 0.5);
    visible.impact_p99_s = percentile(&during, 0.99);
    visible.impact_max_s = during.iter().copied().reduce(f64::max);

    let failed = |r: &[Request]| r.iter().filter(|r| !r.ok).count() as u64;
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    Impact {
        fault_window,
        impact_window,
        time_to_detect_s: ttd.map(|(t, _)| t),
        detected_by: ttd.map(|(_, i)| format!("{} ({})", found[i].0, found[i].1)),
        first_side,
        client_detect_s: client_detect,
        server_detect_s: server_detect,
        time_to_recover_s: ttr,
        signals,
        failed_requests: BTreeMap::from([
            ("ingest".to_string(), failed(m.writers)),
            ("read-api".to_string(), failed(&viewed.reads)),
        ]),
        failure_user_seconds: BTreeMap::from([
            (
                "writers".to_string(),
                round1(signals::failure_user_seconds(
                    m.writers,
                    0.0,
                    end,
                    writer_slow,
                )),
            ),
            (
                "viewers".to_string(),
                round1(signals::failure_user_seconds(
                    &viewed.reads,
                    0.0,
                    end,
                    viewer_slow,
                )),
            ),
        ]),
        users: BTreeMap::from([
            ("writers".to_string(), m.writer_users),
            ("viewers".to_string(), viewed.sockets.viewers),
        ]),
        stale_page_seconds: signals::stale_seconds(&stale),
        stale_after_s: round1(stale_after),
        visible,
        sockets: viewed.sockets,
    }
}
