//! Linkerd's golden metrics (request rate, success rate, latency percentiles) read from the
//! Prometheus that linkerd-viz runs, with the queries `linkerd viz stat` and the Linkerd Grafana
//! dashboards use: the inbound side of each meshed pod's proxy, summed per deployment.
//!
//! Reach that Prometheus by URL, or with
//! `kubectl -n linkerd-viz port-forward svc/prometheus 9090` and `http://127.0.0.1:9090`.

use std::time::Duration;

use crate::prometheus::{Prometheus, Range, Series};
use crate::Result;

/// Which proxies to read: the inbound side of `deployment` (the server: what it answered), or
/// the outbound side (the client: what its calls got back), optionally only the calls to
/// `dst_deployment`; optionally in `namespace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub deployment: String,
    pub namespace: Option<String>,
    pub outbound: bool,
    pub dst_deployment: Option<String>,
    /// The rate window. irate reads the last two samples in it, so it must hold at least two
    /// scrapes (linkerd-viz scrapes every 10 s): 30 s by default.
    pub window: Duration,
}

impl Target {
    pub fn deployment(deployment: impl Into<String>) -> Self {
        Self {
            deployment: deployment.into(),
            namespace: None,
            outbound: false,
            dst_deployment: None,
            window: Duration::from_secs(30),
        }
    }

    /// The calls `caller` made (to `dst`, when given: a mirrored service across clusters has no
    /// deployment label here, so leave it out and read all of the caller's HTTP and gRPC).
    pub fn outbound(caller: impl Into<String>, dst: Option<&str>) -> Self {
        Self {
            outbound: true,
            dst_deployment: dst.map(str::to_owned),
            ..Self::deployment(caller)
        }
    }

    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    fn labels(&self, extra: &str) -> String {
        let mut labels = format!(
            r#"direction="{}",deployment="{}""#,
            if self.outbound { "outbound" } else { "inbound" },
            escape(&self.deployment)
        );
        if let Some(dst) = &self.dst_deployment {
            labels.push_str(&format!(r#",dst_deployment="{}""#, escape(dst)));
        }
        if let Some(ns) = &self.namespace {
            labels.push_str(&format!(r#",namespace="{}""#, escape(ns)));
        }
        if !extra.is_empty() {
            labels.push(',');
            labels.push_str(extra);
        }
        labels
    }

    fn window(&self) -> String {
        format!("{}s", self.window.as_secs().max(1))
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"")
}

/// Requests per second answered by the deployment's pods.
pub fn request_rate(t: &Target) -> String {
    format!(
        "sum(irate(response_total{{{}}}[{}]))",
        t.labels(""),
        t.window()
    )
}

/// Share of responses Linkerd classified as success (5xx and gRPC errors are failures), 0-1.
pub fn success_rate(t: &Target) -> String {
    format!(
        "sum(irate(response_total{{{}}}[{w}])) / sum(irate(response_total{{{}}}[{w}]))",
        t.labels(r#"classification="success""#),
        t.labels(""),
        w = t.window()
    )
}

/// The `_bucket` series of the latency `deployment`'s pods saw on their outbound calls (what a
/// client in that pod felt), for [`Prometheus::median_over`] and the like.
pub fn outbound_latency_buckets(deployment: &str) -> String {
    format!(
        r#"response_latency_ms_bucket{{direction="outbound",deployment="{}"}}"#,
        escape(deployment)
    )
}

/// The `q` quantile (0.5, 0.95, 0.99) of response latency, in milliseconds.
pub fn latency_quantile(q: f64, t: &Target) -> String {
    format!(
        "histogram_quantile({q}, sum(irate(response_latency_ms_bucket{{{}}}[{}])) by (le))",
        t.labels(""),
        t.window()
    )
}

/// One deployment's golden metrics over a range.
#[derive(Clone, Debug, PartialEq)]
pub struct GoldenMetrics {
    pub deployment: String,
    /// Requests per second.
    pub request_rate: Series,
    /// 0-1.
    pub success_rate: Series,
    /// Milliseconds.
    pub p50: Series,
    pub p95: Series,
    pub p99: Series,
}

impl Prometheus {
    /// Request rate, success rate and p50/p95/p99 of one deployment.
    pub async fn golden_metrics(&self, target: &Target, range: Range) -> Result<GoldenMetrics> {
        let queries = [
            request_rate(target),
            success_rate(target),
            latency_quantile(0.5, target),
            latency_quantile(0.95, target),
            latency_quantile(0.99, target),
        ];
        let [rate, success, q50, q95, q99] = &queries;
        let (request_rate, success_rate, p50, p95, p99) = futures::try_join!(
            self.query_range(rate, range),
            self.query_range(success, range),
            self.query_range(q50, range),
            self.query_range(q95, range),
            self.query_range(q99, range),
        )?;
        Ok(GoldenMetrics {
            deployment: target.deployment.clone(),
            request_rate,
            success_rate,
            p50,
            p95,
            p99,
        })
    }
}

/// Golden metrics of `deployment` from the Prometheus at `prom_url`, one point per second.
pub async fn golden_metrics(
    prom_url: &str,
    deployment: &str,
    range: Range,
) -> Result<GoldenMetrics> {
    Prometheus::new(prom_url)
        .golden_metrics(&Target::deployment(deployment), range)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_like_linkerd_viz_stat() {
        let t = Target::deployment("read-api").in_namespace("usactar-api");
        assert_eq!(
            request_rate(&t),
            r#"sum(irate(response_total{direction="inbound",deployment="read-api",namespace="usactar-api"}[30s]))"#
        );
        assert_eq!(
            latency_quantile(0.99, &Target::deployment("ingest")),
            r#"histogram_quantile(0.99, sum(irate(response_latency_ms_bucket{direction="inbound",deployment="ingest"}[30s])) by (le))"#
        );
        assert!(success_rate(&t).contains(r#"classification="success""#));
        assert_eq!(
            request_rate(&Target::outbound(
                "ingress-nginx-controller",
                Some("ingest")
            )),
            r#"sum(irate(response_total{direction="outbound",deployment="ingress-nginx-controller",dst_deployment="ingest"}[30s]))"#
        );
        assert_eq!(
            outbound_latency_buckets("consumer"),
            r#"response_latency_ms_bucket{direction="outbound",deployment="consumer"}"#
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let t = Target::deployment(r#"a"b"#);
        assert!(request_rate(&t).contains(r#"deployment="a\"b""#));
    }
}
