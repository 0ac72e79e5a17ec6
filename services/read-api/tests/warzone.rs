//! The war zone's read-only routes against a real Prometheus: only the named queries run, bad
//! parameters are refused, a dead Prometheus is a 503 (the page's "no data"), the kit's files
//! are served as they are, and the page's polling is not counted in read-api's own metrics.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{eventually, spawn_app, TestApp};
use serde_json::Value;
use testkit::TestStack;

/// A Prometheus of this binary's own (it scrapes itself), beside common's Redis and FerretDB.
fn prometheus() -> &'static TestStack {
    static STACK: OnceLock<TestStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = testkit::fresh_dir(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
            "read-api-warzone-prometheus",
        );
        testkit::start_in_background(dir, Some(vec!["prometheus".into()]))
    })
}

/// `GET <url>`, which must answer.
async fn get(app: &TestApp, url: String) -> reqwest::Response {
    app.http.get(url).send().await.expect("read-api answers")
}

fn prometheus_url() -> String {
    format!("http://{}", prometheus().ports.addr("prometheus"))
}

#[tokio::test]
async fn metrics_run_the_named_queries_and_nothing_else() {
    let url = prometheus_url();
    let app = spawn_app(&[("USACTAR_WARZONE_PROMETHEUS", url.as_str())]).await;
    let metrics = format!("{}/api/warzone/metrics", app.base);

    let answer: Value = eventually(
        Duration::from_secs(30),
        "the named queries answer",
        || async {
            let v: Value = app
                .http
                .get(format!("{metrics}?seconds=60"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            // The stack's Prometheus scrapes nothing of the pipeline here, but the queries run:
            // every name is listed, and those with no samples are absent (no data, not zero).
            if v["names"].as_array().is_some_and(|n| n.len() > 20) {
                Ok(v)
            } else {
                Err(format!("{v}"))
            }
        },
    )
    .await;
    assert_eq!(answer["flavour"], "local");
    assert_eq!(answer["step_s"], 1);
    let names: Vec<&str> = answer["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"live-forwarder>link.p99_ms"));
    assert!(names.contains(&"read-api.up"));
    assert!(
        answer["series"].get("read-api.up").is_none(),
        "nothing scrapes a read-api here: no data, not a zero"
    );
    assert_eq!(
        answer["failed"],
        serde_json::json!({}),
        "every query is valid PromQL"
    );

    // Nothing else is accepted: no PromQL, no other window, no writes.
    for (query, field) in [
        ("query=up", "query"),
        ("seconds=0", "seconds"),
        ("seconds=601", "seconds"),
    ] {
        let r = get(&app, format!("{metrics}?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["field"], field, "{body}");
    }
    let r = app.http.post(&metrics).send().await.unwrap();
    assert_eq!(r.status(), 405);
    for path in [
        "/api/warzone/api/v1/query",
        "/api/warzone/admin/tsdb/delete_series",
    ] {
        let r = get(&app, format!("{}{path}", app.base)).await;
        assert_eq!(r.status(), 404, "{path}");
    }

    // The page's polling is not read-api's traffic.
    let exposition = get(&app, format!("{}/metrics", app.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(!exposition.contains("/api/warzone"), "{exposition}");
}

#[tokio::test]
async fn a_dead_prometheus_is_a_503_and_none_configured_a_404() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let app = spawn_app(&[("USACTAR_WARZONE_PROMETHEUS", url.as_str())]).await;
    let r = get(&app, format!("{}/api/warzone/metrics", app.base)).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "prometheus does not answer");

    // Two clusters, one Prometheus each: the one that answers is shown, the dead one named
    // nowhere as a failure of the queries.
    let both = format!("{url},{}", prometheus_url());
    let app = spawn_app(&[("USACTAR_WARZONE_PROMETHEUS", both.as_str())]).await;
    let answer: Value = eventually(
        Duration::from_secs(30),
        "the live Prometheus answers beside the dead one",
        || async {
            let r = get(&app, format!("{}/api/warzone/metrics", app.base)).await;
            if r.status() != 200 {
                return Err(format!("{}", r.status()));
            }
            r.json::<Value>().await.map_err(|e| e.to_string())
        },
    )
    .await;
    assert_eq!(answer["failed"], serde_json::json!({}), "{answer}");
    assert!(answer["names"].as_array().is_some_and(|n| n.len() > 20));

    let app = spawn_app(&[]).await;
    let r = get(&app, format!("{}/api/warzone/metrics", app.base)).await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("USACTAR_WARZONE_PROMETHEUS"));
}

#[tokio::test]
async fn the_kits_files_are_served_as_published() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&[("USACTAR_WARZONE_DIR", dir.path().to_str().unwrap())]).await;
    let at = |path: &str| get(&app, format!("{}{path}", app.base));

    let r = at("/api/warzone/experiment").await;
    assert_eq!(r.status(), 204, "nothing published yet");
    assert_eq!(at("/api/warzone/report").await.status(), 404);

    let state = serde_json::json!({"scenario": "podkill", "phase": "fault"});
    std::fs::write(dir.path().join("experiment.json"), state.to_string()).unwrap();
    let r = at("/api/warzone/experiment").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.json::<Value>().await.unwrap(), state);

    std::fs::write(dir.path().join("experiment.json"), "{\"half\": ").unwrap();
    assert_eq!(at("/api/warzone/experiment").await.status(), 503);

    std::fs::write(dir.path().join("report.md"), "# podkill — r (PASSED)\n").unwrap();
    let r = at("/api/warzone/report").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), "# podkill — r (PASSED)\n");

    let r = app
        .http
        .delete(format!("{}/api/warzone/experiment", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "read-only");
}
