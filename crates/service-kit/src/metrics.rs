//! Golden signals in a Prometheus registry: requests by route and status, and a latency
//! histogram by route. Services add their own counters (Kafka, lag, ...) to the same registry.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets from 0.5 ms to 10 s: local requests are fast, faults make them slow.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A service's registry with the two golden-signal families every service exports.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// `usactar_requests_total{route, status}`; gRPC statuses are their code names.
    pub requests: IntCounterVec,
    /// `usactar_request_duration_seconds{route}`.
    pub latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("usactar".into()), None)
            .expect("a registry with a valid prefix");
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "Requests served, by route and status"),
            &["route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time to serve a request, by route",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("register");
        registry
            .register(Box::new(latency.clone()))
            .expect("register");
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    /// Records one request.
    pub fn observe(&self, route: &str, status: &str, started: Instant) {
        self.requests.with_label_values(&[route, status]).inc();
        self.latency
            .with_label_values(&[route])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Registers a counter family of the service's own.
    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
        self.registry
            .register(Box::new(c.clone()))
            .expect("register");
        c
    }

    /// Registers a gauge family of the service's own.
    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
        self.registry
            .register(Box::new(g.clone()))
            .expect("register");
        g
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encode metrics");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// axum middleware: records every request under its route template (`/api/logs`, not the raw
/// path, so labels stay few).
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    metrics.observe(&route, response.status().as_str(), started);
    response
}
