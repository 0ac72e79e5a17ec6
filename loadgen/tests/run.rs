//! The library against a real HTTP server.

mod common;

use std::time::{Duration, Instant};

use loadgen::{Outcome, RunConfig, Summary};

fn config(url: &str, concurrence: usize, requests: u64, timeout: Duration) -> RunConfig {
    RunConfig::new(url, concurrence, requests, timeout)
}

fn assert_series_adds_up(s: &Summary) {
    let sum = |f: fn(&loadgen::SecondStats) -> u64| s.series.iter().map(f).sum::<u64>();
    assert_eq!(sum(|r| r.requests), s.succeeded + s.failed, "{s:#?}");
    assert_eq!(sum(|r| r.succeeded), s.succeeded);
    assert_eq!(sum(|r| r.failed), s.failed);
    for (i, r) in s.series.iter().enumerate() {
        assert_eq!(r.second, i as u64, "one row per second, in order");
    }
}

#[tokio::test]
async fn exactly_n_requests_arrive() {
    let server = common::start(Duration::ZERO, 0);
    // 1003 is not a multiple of 7: no per-user share can hide an off-by-some.
    let s = loadgen::run(
        config(&server.url, 7, 1003, Duration::from_secs(30)),
        common::sample_data(),
    )
    .await
    .unwrap();
    assert_eq!(s.outcome, Outcome::Completed);
    assert_eq!(server.requests(), 1003);
    assert_eq!(server.invalid_bodies(), 0);
    assert_eq!(
        (s.sent, s.succeeded, s.failed, s.unanswered),
        (1003, 1003, 0, 0)
    );
    assert!(s.latency.p50_ms > 0.0 && s.latency.max_ms >= s.latency.p99_ms);
    assert_series_adds_up(&s);
}

#[tokio::test]
async fn in_flight_never_exceeds_concurrence() {
    let server = common::start(Duration::from_millis(5), 0);
    let s = loadgen::run(
        config(&server.url, 4, 300, Duration::from_secs(30)),
        common::sample_data(),
    )
    .await
    .unwrap();
    assert_eq!(s.outcome, Outcome::Completed);
    assert_eq!(server.requests(), 300);
    let max = server.max_in_flight();
    assert!(max <= 4, "{max} requests in flight at once");
    // …and the concurrency is really used.
    assert!(max >= 3, "only {max} requests in flight at once");
}

#[tokio::test]
async fn timeout_stops_a_longer_run_and_says_so() {
    let server = common::start(Duration::from_millis(20), 0);
    let started = Instant::now();
    let s = loadgen::run(
        config(&server.url, 2, 100_000, Duration::from_secs(1)),
        common::sample_data(),
    )
    .await
    .unwrap();
    assert_eq!(s.outcome, Outcome::TimedOut);
    assert!(s.timed_out());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(s.sent > 0 && s.sent < 100_000);
    // What was sent was either answered or counted as unanswered at the stop.
    assert_eq!(s.sent, s.succeeded + s.failed + s.unanswered);
    assert!(server.requests() >= s.succeeded);
    assert_series_adds_up(&s);
}

#[tokio::test]
async fn failures_are_counted_by_status_and_per_second() {
    let server = common::start(Duration::ZERO, 10);
    let s = loadgen::run(
        config(&server.url, 3, 500, Duration::from_secs(30)),
        common::sample_data(),
    )
    .await
    .unwrap();
    assert_eq!(s.outcome, Outcome::Completed);
    assert_eq!(s.failed, 50);
    assert_eq!(s.succeeded, 450);
    assert_eq!(s.failed_by_status.get("503"), Some(&50));
    assert_series_adds_up(&s);
    let rate = s.series.iter().map(|r| r.success_rate).fold(1.0, f64::min);
    assert!(rate < 1.0 && rate > 0.5, "{rate}");
}

#[tokio::test]
async fn rate_caps_requests_per_second() {
    let server = common::start(Duration::ZERO, 0);
    let mut c = config(&server.url, 5, 150, Duration::from_secs(30));
    c.rate = Some(100.0);
    let s = loadgen::run(c, common::sample_data()).await.unwrap();
    assert_eq!(server.requests(), 150);
    // Ticket 149 is due at 1.49 s.
    assert!(s.elapsed_secs >= 1.45, "{}", s.elapsed_secs);
    assert!(s.elapsed_secs < 3.0, "{}", s.elapsed_secs);
    assert_series_adds_up(&s);
    assert!(s.series[0].requests <= 101, "{:?}", s.series[0]);
}

/// goose builds its users one after another (512 take about a second here): the schedule starts
/// with the first request, so the users built late find their tickets not yet due, instead of a
/// backlog that would go out at once (seen: 210 requests in the first second at a cap of 105,
/// and the pipeline benchmark's probe behind them at 425 ms, bench/RESULTS.md 2026-12-01).
#[tokio::test]
async fn a_capped_run_with_many_users_does_not_burst_while_they_start() {
    let server = common::start(Duration::ZERO, 0);
    let mut c = config(&server.url, 512, 600, Duration::from_secs(30));
    c.rate = Some(200.0);
    let s = loadgen::run(c, common::sample_data()).await.unwrap();
    assert_eq!(server.requests(), 600);
    assert_series_adds_up(&s);
    let busiest = s.series.iter().map(|r| r.requests).max().unwrap();
    assert!(
        busiest <= 215,
        "{busiest} in one second at 200/s: {:?}",
        s.series
    );
}

#[tokio::test]
async fn a_run_in_the_background_reports_progress_and_can_be_cancelled() {
    let server = common::start(Duration::from_millis(10), 0);
    let handle = loadgen::start(
        config(&server.url, 2, 100_000, Duration::from_secs(60)),
        common::sample_data(),
    )
    .await
    .unwrap();
    let mut progress = handle.progress();
    // Runs in one process take turns (goose's killswitch is process-wide), so this one may wait
    // for another test's run first: 512 users built in a debug build take seconds. Failed at
    // 10 s in CI.
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.borrow().succeeded < 10 {
        assert!(Instant::now() < deadline, "no progress");
        let _ = tokio::time::timeout(Duration::from_secs(1), progress.changed()).await;
    }
    handle.cancel();
    let s = handle.wait().await.unwrap();
    assert_eq!(s.outcome, Outcome::Cancelled);
    assert!(s.succeeded >= 10 && s.sent < 100_000);
}

#[tokio::test]
async fn an_unreachable_target_is_said_at_once() {
    let url = format!("http://127.0.0.1:{}/input", common::closed_port());
    let started = Instant::now();
    let err = loadgen::run(
        config(&url, 2, 10, Duration::from_secs(30)),
        common::sample_data(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, loadgen::Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("cannot reach"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn the_summary_is_json_the_kit_can_read_back() {
    let server = common::start(Duration::ZERO, 0);
    let s = loadgen::run(
        config(&server.url, 2, 20, Duration::from_secs(30)),
        common::sample_data(),
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["outcome"], "completed");
    assert_eq!(json["config"]["timeout"], 30.0);
    assert!(json["series"][0]["p99_ms"].is_number());
    let back: Summary = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}
