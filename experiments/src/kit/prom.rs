//! The kit's own PromQL: the local services' golden signals (their `usactar_*` metrics, labelled
//! by the stack's scrape config), and consumer lag, asked per second over an
//! experiment's time range through chaos's Prometheus client. (On a cluster the golden signals
//! come from Linkerd's metrics instead: `chaos::linkerd`.)

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chaos::prometheus::{unix_seconds, Prometheus, Range, Series};

use crate::kit::series::GoldenSecond;

/// The local stack's Prometheus at `addr` (`host:port`).
pub fn local(addr: impl std::fmt::Display) -> Prometheus {
    Prometheus::with_timeout(format!("http://{addr}"), Duration::from_secs(10))
}

/// Per-second golden signals of `service` (as labelled by the stack's scrape config), with `t`
/// relative to `t0`.
pub async fn golden(
    prom: &Prometheus,
    service: &str,
    t0: SystemTime,
    start: SystemTime,
    end: SystemTime,
) -> chaos::Result<Vec<GoldenSecond>> {
    let range = Range::per_second(start, end);
    let sel = format!("service=\"{service}\"");
    // Errors: 5xx over HTTP; gRPC codes that mean the server failed.
    let failed = "status=~\"5..|error|Unavailable|DeadlineExceeded|Internal|Unknown|Cancelled\"";
    let rate = format!("sum(irate(usactar_requests_total{{{sel}}}[3s]))");
    let errors = format!("sum(irate(usactar_requests_total{{{sel},{failed}}}[3s]))");
    let quantile = |q: f64| {
        format!("1000 * histogram_quantile({q}, sum by (le) (irate(usactar_request_duration_seconds_bucket{{{sel}}}[3s])))")
    };
    let by_second = |series: Series| -> BTreeMap<i64, f64> {
        series
            .into_iter()
            .map(|p| (p.t.round() as i64, p.v))
            .collect()
    };
    let rps = by_second(prom.query_range(&rate, range).await?);
    let errs = by_second(prom.query_range(&errors, range).await?);
    let p50 = by_second(prom.query_range(&quantile(0.5), range).await?);
    let p95 = by_second(prom.query_range(&quantile(0.95), range).await?);
    let p99 = by_second(prom.query_range(&quantile(0.99), range).await?);
    let t0 = unix_seconds(t0);
    Ok(rps
        .iter()
        .map(|(t, r)| {
            let e = errs.get(t).copied().unwrap_or(0.0);
            GoldenSecond {
                t: (*t as f64 - t0).round(),
                rps: *r,
                success: (*r > 0.0).then(|| (1.0 - e / r).clamp(0.0, 1.0)),
                p50_ms: p50.get(t).copied(),
                p95_ms: p95.get(t).copied(),
                p99_ms: p99.get(t).copied(),
                mean_ms: None,
            }
        })
        .collect())
}

/// Consumer lag per consumer (service label), per second, with `t` relative to `t0`.
pub async fn lag(
    prom: &Prometheus,
    t0: SystemTime,
    start: SystemTime,
    end: SystemTime,
) -> chaos::Result<BTreeMap<String, Vec<(f64, f64)>>> {
    let series = prom
        .query_range_labelled(
            "sum by (service) (usactar_consumer_lag)",
            Range::per_second(start, end),
        )
        .await?;
    let t0 = unix_seconds(t0);
    Ok(series
        .into_iter()
        .filter_map(|s| {
            let service = s.labels.get("service")?.clone();
            Some((
                service,
                s.points
                    .into_iter()
                    .map(|p| ((p.t - t0).round(), p.v))
                    .collect(),
            ))
        })
        .collect())
}
