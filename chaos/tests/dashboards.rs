//! The Grafana golden-metrics dashboard (deploy/grafana) runs the same PromQL as
//! `chaos::linkerd`, which tests/prometheus.rs checks against a real Prometheus: what the
//! reports say and what Grafana shows cannot drift apart.

use chaos::linkerd::{latency_quantile, request_rate, success_rate, Target};

#[test]
fn golden_metrics_dashboard_uses_the_tested_queries() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/golden-metrics.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut in_dashboard: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = Vec::new();
    for deployment in ["ingest", "read-api", "live-store"] {
        let t = Target::deployment(deployment);
        expected.push(request_rate(&t));
        expected.push(success_rate(&t));
        for q in [0.5, 0.95, 0.99] {
            expected.push(latency_quantile(q, &t));
        }
    }
    in_dashboard.sort();
    expected.sort();
    assert_eq!(in_dashboard, expected);
}
