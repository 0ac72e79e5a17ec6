//! The golden-metrics PromQL against a real Prometheus, loaded with recorded Linkerd-shaped
//! samples (`response_total`, `response_latency_ms_bucket`, labelled as linkerd-viz labels them)
//! through `promtool tsdb create-blocks-from openmetrics`. Needs `prometheus` and `promtool` on
//! PATH (Debian: `apt-get install prometheus`); the test fails, never skips, without them.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaos::linkerd::{self, Target};
use chaos::prometheus::{Prometheus, Range, Series};

/// A fixed past instant, so the data and the expected numbers never move.
const T0: u64 = 1_700_000_000;
/// linkerd-viz's scrape interval.
const SCRAPE: u64 = 10;
/// Samples 0..=36: six minutes.
const SAMPLES: u64 = 36;
/// From this sample on, read-api fails half its requests.
const BREAK_AT: u64 = 18;

/// Per second: (successes, failures) of a deployment at sample `i` (the rate between i-1 and i).
fn per_second(deployment: &str, i: u64) -> (u64, u64) {
    match deployment {
        "ingest" => (99, 1),
        "read-api" if i > BREAK_AT => (25, 25),
        "read-api" => (50, 0),
        "live-store" => (20, 0),
        _ => unreachable!(),
    }
}

/// Per second, how many requests finished within each bucket bound (cumulative), per deployment.
fn buckets(deployment: &str) -> Vec<(&'static str, u64)> {
    match deployment {
        "ingest" => vec![
            ("10", 50),
            ("50", 90),
            ("100", 99),
            ("500", 100),
            ("+Inf", 100),
        ],
        "read-api" => vec![
            ("10", 0),
            ("50", 25),
            ("100", 50),
            ("500", 50),
            ("+Inf", 50),
        ],
        "live-store" => vec![
            ("10", 20),
            ("50", 20),
            ("100", 20),
            ("500", 20),
            ("+Inf", 20),
        ],
        _ => unreachable!(),
    }
}

const DEPLOYMENTS: [(&str, &str); 3] = [
    ("ingest", "usactar-ingest"),
    ("read-api", "usactar-api"),
    ("live-store", "usactar-live"),
];

fn openmetrics() -> String {
    let mut out = String::new();
    out.push_str("# TYPE response counter\n");
    for (deployment, ns) in DEPLOYMENTS {
        let labels = |class: &str, direction: &str| {
            format!(
                r#"direction="{direction}",deployment="{deployment}",namespace="{ns}",classification="{class}",tls="true""#
            )
        };
        for (class, pick) in [("success", 0), ("failure", 1)] {
            let mut total = 0;
            for i in 0..=SAMPLES {
                if i > 0 {
                    let (ok, failed) = per_second(deployment, i);
                    total += SCRAPE * if pick == 0 { ok } else { failed };
                }
                let ts = T0 + i * SCRAPE;
                writeln!(
                    out,
                    "response_total{{{}}} {total} {ts}",
                    labels(class, "inbound")
                )
                .unwrap();
            }
        }
        // The outbound side of the same pods must not leak into the inbound numbers.
        for i in 0..=SAMPLES {
            let ts = T0 + i * SCRAPE;
            let total = 1000 * SCRAPE * i;
            writeln!(
                out,
                "response_total{{{}}} {total} {ts}",
                labels("success", "outbound")
            )
            .unwrap();
        }
    }
    out.push_str("# TYPE response_latency_ms histogram\n");
    for (deployment, ns) in DEPLOYMENTS {
        let per_second = buckets(deployment);
        for i in 0..=SAMPLES {
            let ts = T0 + i * SCRAPE;
            let labels =
                format!(r#"direction="inbound",deployment="{deployment}",namespace="{ns}""#);
            for (le, n) in &per_second {
                let count = n * SCRAPE * i;
                writeln!(
                    out,
                    "response_latency_ms_bucket{{{labels},le=\"{le}\"}} {count} {ts}"
                )
                .unwrap();
            }
            let count = per_second.last().unwrap().1 * SCRAPE * i;
            writeln!(out, "response_latency_ms_count{{{labels}}} {count} {ts}").unwrap();
            writeln!(
                out,
                "response_latency_ms_sum{{{labels}}} {} {ts}",
                count * 20
            )
            .unwrap();
        }
    }
    out.push_str("# EOF\n");
    out
}

fn run(cmd: &mut Command) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} could not start ({e}): apt-get install prometheus"));
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Prometheus serving `tsdb`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_prometheus(dir: &Path) -> Server {
    let tsdb = dir.join("tsdb");
    let config = dir.join("prometheus.yml");
    // Nothing to scrape: the data is the recorded blocks.
    std::fs::write(
        &config,
        "global:\n  evaluation_interval: 1m\nscrape_configs: []\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        // The samples are from 2023: keep them rather than expire them on open.
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus must be on PATH (Debian: apt-get install prometheus)");
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let ready = retry::poll_until(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            match http.get(format!("{}/-/ready", server.url)).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().to_string()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await;
    if let Err(e) = ready {
        panic!(
            "prometheus not ready in 60 s ({e}): {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
    }
    server
}

fn at(offset: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + offset)
}

fn assert_all(series: &Series, expected: f64, what: &str) {
    assert!(!series.is_empty(), "{what}: no points");
    for p in series {
        assert!(
            (p.v - expected).abs() < 1e-6,
            "{what} at {}: {} != {expected}",
            p.t,
            p.v
        );
    }
}

#[tokio::test]
async fn golden_metrics_match_the_recorded_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("linkerd.om");
    std::fs::write(&samples, openmetrics()).unwrap();
    run(Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&samples)
        .arg(dir.path().join("tsdb")));
    let server = start_prometheus(dir.path()).await;
    let prom = Prometheus::new(&server.url);

    // Per second over a range where every deployment is steady.
    let steady = Range::per_second(at(60), at(170));
    let ingest = prom
        .golden_metrics(&Target::deployment("ingest"), steady)
        .await
        .unwrap();
    assert_eq!(ingest.request_rate.len(), 111, "one point per second");
    assert_all(&ingest.request_rate, 100.0, "ingest rps");
    assert_all(&ingest.success_rate, 0.99, "ingest success");
    // histogram_quantile interpolates linearly inside the bucket that holds the rank.
    assert_all(&ingest.p50, 10.0, "ingest p50");
    assert_all(&ingest.p95, 50.0 + 50.0 * (5.0 / 9.0), "ingest p95");
    assert_all(&ingest.p99, 100.0, "ingest p99");

    let live = linkerd::golden_metrics(&server.url, "live-store", steady)
        .await
        .unwrap();
    assert_all(&live.request_rate, 20.0, "live-store rps");
    assert_all(&live.success_rate, 1.0, "live-store success");
    assert_all(&live.p99, 10.0 * 0.99, "live-store p99");

    // read-api breaks at sample 18: the success rate drops from the first instant whose last
    // two samples straddle the break (irate), and not before.
    let target = Target::deployment("read-api").in_namespace("usactar-api");
    let around = Range::per_second(at(150), at(240));
    let read_api = prom.golden_metrics(&target, around).await.unwrap();
    let break_at = (T0 + (BREAK_AT + 1) * SCRAPE) as f64;
    for p in &read_api.success_rate {
        let expected = if p.t < break_at { 1.0 } else { 0.5 };
        assert!(
            (p.v - expected).abs() < 1e-6,
            "read-api success at {}: {}",
            p.t,
            p.v
        );
    }
    assert_all(&read_api.request_rate, 50.0, "read-api rps");
    assert_all(&read_api.p50, 50.0, "read-api p50");

    // A namespace that does not hold the deployment: no points, not an error.
    let elsewhere = Target::deployment("read-api").in_namespace("usactar-ingest");
    let none = prom
        .query_range(&linkerd::request_rate(&elsewhere), around)
        .await
        .unwrap();
    assert!(none.is_empty());

    // Every series of a grouped query, told apart by its labels.
    let per_deployment = prom
        .query_range_labelled(
            r#"sum by (deployment) (irate(response_total{direction="inbound"}[30s]))"#,
            steady,
        )
        .await
        .unwrap();
    let mut rates: Vec<(String, f64)> = per_deployment
        .iter()
        .map(|s| (s.labels["deployment"].clone(), s.points[0].v))
        .collect();
    rates.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rates,
        [
            ("ingest".to_owned(), 100.0),
            ("live-store".to_owned(), 20.0),
            ("read-api".to_owned(), 50.0)
        ]
    );

    // A histogram's median over a window: half of ingest's requests took at most 10 ms.
    let median = prom
        .median_over(
            r#"response_latency_ms_bucket{direction="inbound",deployment="ingest"}"#,
            1.0,
            at(60),
            at(170),
        )
        .await
        .unwrap();
    assert_eq!(median, Some(10.0));

    // An instant query, and a broken query reported with Prometheus's own message.
    let instant = prom
        .query(
            &linkerd::request_rate(&Target::deployment("ingest")),
            at(200),
        )
        .await
        .unwrap();
    assert_eq!(instant, Some(100.0));
    let err = prom.query("sum(", at(200)).await.unwrap_err();
    assert!(err.to_string().contains("sum("), "{err}");
}
