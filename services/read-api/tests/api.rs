//! read-api against real Redis and FerretDB: one test binary, one stack, a prefix and a database
//! per test.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::{eventually, now_ms, shared_stack, spawn_app, TestApp};
use futures::StreamExt;
use read_api::startup::router;
use read_api::state::AppState;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

/// A fixed time for seeded logs (December 2022), so snapshots of times are stable.
const BASE_MS: u64 = 1_671_000_000_000;

async fn seed_live(app: &TestApp) {
    for (score, n) in [("3-3", 5), ("2-1", 3), ("1-1", 2)] {
        app.add_live(4, "Argentina", "France", score, n).await;
    }
    // A tie: goals order it, "1-2" before "2-1".
    app.add_live(4, "Croatia", "Morocco", "2-1", 1).await;
    app.add_live(4, "Croatia", "Morocco", "1-2", 1).await;
    app.add_live(1, "Qatar", "Ecuador", "0-2", 4).await;
}

async fn seed_logs(app: &TestApp) -> Vec<String> {
    app.add_logs(&[
        (BASE_MS, 1, "Qatar", "Ecuador", "0-2"),
        (BASE_MS + 1000, 1, "Qatar", "Ecuador", "1-1"),
        (BASE_MS + 2000, 4, "Argentina", "France", "3-3"),
        (BASE_MS + 3000, 4, "Croatia", "Morocco", "2-1"),
        (BASE_MS + 4000, 4, "Argentina", "France", "2-1"),
        (BASE_MS + 5000, 4, "Argentina", "France", "3-3"),
        (BASE_MS + 6000, 1, "Qatar", "Ecuador", "0-2"),
    ])
    .await
}

#[tokio::test]
async fn live_gives_counts_shares_sorted_and_filtered() {
    let app = spawn_app(&[]).await;
    seed_live(&app).await;

    let (status, body) = app.get("/api/live").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 16);
    let phases: Vec<u64> = body["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_u64().unwrap())
        .collect();
    assert_eq!(phases, [1, 4]);
    let final_ = &body["phases"][1];
    assert_eq!(final_["total"], 12);
    let arg = &final_["matches"][0];
    assert_eq!(
        (arg["team1"].as_str(), arg["total"].as_u64()),
        (Some("Argentina"), Some(10))
    );
    assert_eq!(arg["top"], "3-3");
    let shares: Vec<(String, f64)> = arg["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["score"].as_str().unwrap().to_string(),
                s["share"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shares,
        [
            ("3-3".into(), 0.5),
            ("2-1".into(), 0.3),
            ("1-1".into(), 0.2)
        ]
    );
    let tie: Vec<&str> = final_["matches"][1]["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["score"].as_str().unwrap())
        .collect();
    assert_eq!(tie, ["1-2", "2-1"]);
    insta::assert_json_snapshot!("live", body);

    // Filters: by phase, by match, and one that matches nothing.
    let (_, body) = app.get("/api/live?phase=1").await;
    assert_eq!(body["phases"].as_array().unwrap().len(), 1);
    assert_eq!(body["phases"][0]["matches"][0]["team1"], "Qatar");
    assert_eq!(body["total"], 16, "the grand total ignores filters");
    let (_, body) = app.get("/api/live?team1=Argentina&team2=France").await;
    assert_eq!(body["phases"][0]["matches"].as_array().unwrap().len(), 1);
    assert_eq!(body["phases"][0]["total"], 10);
    let (_, body) = app.get("/api/live?phase=2&team1=Argentina").await;
    assert_eq!(body["phases"], json!([]));

    // An empty prefix space is an empty, valid answer.
    let empty = spawn_app(&[]).await;
    let (status, body) = empty.get("/api/live").await;
    assert_eq!((status, body), (200, json!({"total": 0, "phases": []})));
}

#[tokio::test]
async fn logs_page_by_cursor_newest_first_with_filters_and_total() {
    let app = spawn_app(&[]).await;
    let ids = seed_logs(&app).await;

    let mut seen = Vec::new();
    let mut path = "/api/logs?limit=3".to_string();
    let mut pages = 0;
    loop {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 7);
        pages += 1;
        for item in body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match body["next"].as_str() {
            Some(next) => path = format!("/api/logs?limit=3&before={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let (_, body) = app.get("/api/logs?phase=4").await;
    assert_eq!(body["total"], 4);
    assert_eq!(body["items"].as_array().unwrap().len(), 4);
    assert_eq!(body["next"], Value::Null, "a short page is the last");
    let (_, body) = app
        .get("/api/logs?team1=Argentina&team2=France&limit=2")
        .await;
    assert_eq!(body["total"], 3);
    assert_eq!(body["items"][0]["score"], "3-3");
    assert_eq!(body["items"][1]["score"], "2-1");
    assert_eq!(body["next"], ids[4].as_str());

    let (_, body) = app.get("/api/logs?limit=2").await;
    assert_eq!(body["items"][0]["received_at"], "2022-12-14T06:40:06Z");
    insta::assert_json_snapshot!("logs", body, {
        ".items[].id" => "[id]",
        ".next" => "[id]",
    });
}

/// A team no prediction can have (ingest refuses control characters and ':') matches nothing,
/// whatever the filter's shape, and is not an error: Schemathesis found a 503 for a NUL byte in
/// `team1` with a phase and `team2` (the counters' field name held the NUL, which BSON keys
/// cannot).
#[tokio::test]
async fn filters_naming_teams_no_prediction_can_have_match_nothing() {
    let app = spawn_app(&[]).await;
    seed_logs(&app).await;
    for team in [
        "%C2%BE%00%C3%BB%25%10%3B",
        "A%00B",
        "%01",
        "Argentina%3AFrance",
        "a.b%24c%25",
    ] {
        for query in [
            format!("team1={team}"),
            format!("team2={team}"),
            format!("team1={team}&team2=France"),
            format!("phase=4&team1={team}"),
            format!("phase=4&team1=Argentina&team2={team}"),
            format!("phase=4&team1={team}&team2={team}"),
        ] {
            let (status, body) = app.get(&format!("/api/logs?{query}")).await;
            assert_eq!(status, 200, "/api/logs?{query}: {body}");
            assert_eq!(
                (&body["total"], &body["items"]),
                (&json!(0), &json!([])),
                "{query}"
            );
            let (status, body) = app.get(&format!("/api/live?{query}")).await;
            assert_eq!(status, 200, "/api/live?{query}: {body}");
        }
    }
}

#[tokio::test]
async fn stats_add_up_both_stores() {
    let app = spawn_app(&[]).await;
    seed_live(&app).await;
    seed_logs(&app).await;
    let (status, body) = app.get("/api/stats").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["live_total"], 16);
    assert_eq!(body["logs_total"], 7);
    assert_eq!(body["phases"], json!({"1": 4, "4": 12}));
    insta::assert_json_snapshot!("stats", body);
}

/// Issue 16: requests for `/api/stats` that come together share one read of the stores, and a
/// change shows once the read that served it is older than `STATS_FRESH`.
#[tokio::test]
async fn stats_requests_that_come_together_share_one_read_of_the_stores() {
    let app = spawn_app(&[]).await;
    seed_live(&app).await;
    let before = app.metric("usactar_stats_reads_total").await;
    let answers = futures::future::join_all((0..50).map(|_| app.get("/api/stats"))).await;
    let reads = app.metric("usactar_stats_reads_total").await - before;
    assert!(answers
        .iter()
        .all(|(status, body)| *status == 200 && body["live_total"] == 16));
    assert!(reads <= 2, "50 requests made {reads} reads");

    app.add_live(4, "Argentina", "France", "3-3", 2).await;
    tokio::time::sleep(read_api::routes::STATS_FRESH).await;
    let (_, body) = app.get("/api/stats").await;
    assert_eq!(body["live_total"], 18, "{body}");
}

#[tokio::test]
async fn bad_parameters_get_400_json_naming_them() {
    let (settings, _, _) = common::settings(&[]);
    let metrics = service_kit::metrics::Metrics::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let state = AppState::build(&settings, &metrics, shutdown.clone())
        .await
        .unwrap();
    let app = router(state, metrics);
    let long = "x".repeat(65);
    let cases = [
        ("/api/live?phase=7", "phase"),
        ("/api/live?phase=0", "phase"),
        ("/api/live?phase=final", "phase"),
        ("/api/live?colour=red", "colour"),
        (&format!("/api/live?team1={long}"), "team1"),
        ("/api/logs?limit=0", "limit"),
        ("/api/logs?limit=501", "limit"),
        ("/api/logs?limit=ten", "limit"),
        ("/api/logs?before=not-a-cursor", "before"),
        ("/api/logs?phase=5", "phase"),
        ("/api/logs?phase=1&phase=2", "phase"),
    ];
    for (uri, field) in cases {
        let r = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{uri}");
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).expect("a JSON error");
        assert_eq!(body["field"], field, "{uri}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{uri}: {body}"
        );
    }
    shutdown.cancel();
}

#[tokio::test]
async fn purge_is_off_without_a_token_and_needs_the_right_one() {
    let off = spawn_app(&[]).await;
    assert_eq!(
        off.get("/api/config").await.1,
        json!({"purge_enabled": false})
    );
    let r = off
        .http
        .delete(format!("{}/api/logs", off.base))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("set USACTAR_ADMIN_TOKEN"),
        "{body}"
    );

    let on = spawn_app(&[("USACTAR_ADMIN_TOKEN", "s3cret-token-for-tests")]).await;
    assert_eq!(
        on.get("/api/config").await.1,
        json!({"purge_enabled": true})
    );
    seed_logs(&on).await;
    let url = format!("{}/api/logs", on.base);
    let r = on.http.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "no token");
    let r = on
        .http
        .delete(&url)
        .bearer_auth("s3cret-token-for-testz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a wrong token");
    assert_eq!(
        on.get("/api/logs").await.1["total"],
        7,
        "nothing deleted yet"
    );
    let r = on
        .http
        .delete(&url)
        .bearer_auth("s3cret-token-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"deleted": 7}));
    assert_eq!(on.get("/api/logs").await.1["total"], 0);
}

/// Issue 15 M7: anyone may send DELETE /api/logs, so guesses are limited: after a burst of five
/// failures the next attempts get 429 (even with the right token) until a second has passed.
#[tokio::test]
async fn purge_guesses_are_limited_to_one_a_second_after_a_burst() {
    let app = spawn_app(&[("USACTAR_ADMIN_TOKEN", "s3cret-token-for-tests")]).await;
    seed_logs(&app).await;
    let url = format!("{}/api/logs", app.base);
    let purge = |token: String| {
        let request = app.http.delete(&url).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(purge(format!("guess-number-{i:08}")).await);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let right = || purge("s3cret-token-for-tests".into());
    assert_eq!(right().await, 429, "limited whatever the token");
    assert_eq!(app.get("/api/logs").await.1["total"], 7, "nothing deleted");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(right().await, 200, "a second later the right token works");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message as JSON, within `within`.
async fn next_json(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

fn count_of(msg: &Value, id: &str, score: &str) -> Option<u64> {
    msg["matches"].as_array()?.iter().find(|m| m["id"] == id)?["scores"]
        .as_array()?
        .iter()
        .find(|s| s["score"] == score)?["count"]
        .as_u64()
}

#[tokio::test]
async fn live_socket_sends_a_snapshot_then_coalesced_pushes() {
    let mut app = spawn_app(&[]).await;
    seed_live(&app).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/api/live/ws", app.ws_base))
        .await
        .expect("the live socket opens");
    let snapshot = next_json(&mut ws, Duration::from_secs(2))
        .await
        .expect("a snapshot");
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["total"], 16);
    assert_eq!(snapshot["phases"].as_array().unwrap().len(), 2);

    // The subscriber may still be subscribing: announce until a push arrives.
    app.add_live(4, "Argentina", "France", "2-0", 1).await;
    let started = Instant::now();
    let push = loop {
        app.publish(&["4:Argentina:France"]).await;
        if let Some(m) = next_json(&mut ws, Duration::from_millis(300)).await {
            break m;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no push");
    };
    assert_eq!(push["type"], "live");
    assert_eq!(push["total"], 17);
    assert_eq!(count_of(&push, "4:Argentina:France", "2-0"), Some(1));
    assert_eq!(
        push["matches"].as_array().unwrap().len(),
        1,
        "only the changed match"
    );

    // Drain pushes of any repeated announcement above, so that only the burst is counted.
    while next_json(&mut ws, Duration::from_millis(400))
        .await
        .is_some()
    {}

    // A burst of 100 announcements becomes a few pushes, the last with the final counts.
    let burst = Instant::now();
    for _ in 0..100 {
        app.add_live(4, "Croatia", "Morocco", "0-0", 1).await;
        app.publish(&["4:Croatia:Morocco"]).await;
    }
    let burst_took = burst.elapsed();
    let mut pushes = 0;
    loop {
        let m = next_json(&mut ws, Duration::from_secs(2))
            .await
            .expect("the burst's last counts arrive within 2 s");
        pushes += 1;
        if count_of(&m, "4:Croatia:Morocco", "0-0") == Some(100) {
            break;
        }
    }
    // At most one push per 250 ms, plus the leading one.
    let bound = 2 + (burst_took.as_millis() / 250) as usize;
    assert!(
        pushes <= bound,
        "{pushes} pushes for a burst of {burst_took:?}"
    );

    // A filtered socket sees only its phase.
    let (mut phase1, _) =
        tokio_tungstenite::connect_async(format!("{}/api/live/ws?phase=1", app.ws_base))
            .await
            .unwrap();
    let snap = next_json(&mut phase1, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(snap["phases"].as_array().unwrap().len(), 1);
    assert_eq!(snap["phases"][0]["phase"], 1);

    // On shutdown, sockets are closed by the server with "going away".
    app.shutdown.cancel();
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(frame) = m {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("the socket closes within 2 s");
    assert_eq!(closed, Some(1001));
    drop((ws, phase1));
    tokio::time::timeout(Duration::from_secs(3), &mut app.server)
        .await
        .expect("the server stops within 3 s of SIGTERM")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn logs_socket_pushes_new_records() {
    let app = spawn_app(&[]).await;
    seed_logs(&app).await; // old records: never pushed
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/api/logs/ws", app.ws_base))
        .await
        .expect("the logs socket opens");
    let (mut filtered, _) =
        tokio_tungstenite::connect_async(format!("{}/api/logs/ws?phase=4", app.ws_base))
            .await
            .unwrap();
    let t = now_ms();
    let new = app
        .add_logs(&[
            (t, 4, "Argentina", "France", "1-0"),
            (t + 1, 1, "Qatar", "Ecuador", "2-2"),
        ])
        .await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = next_json(&mut ws, Duration::from_secs(2))
            .await
            .expect("new logs are pushed within 2 s");
        assert_eq!(m["type"], "logs");
        assert_eq!(m["gap"], false);
        for item in m["items"].as_array().unwrap() {
            got.push(item["id"].as_str().unwrap().to_string());
        }
    }
    got.sort();
    assert_eq!(got, new);
    let m = next_json(&mut filtered, Duration::from_secs(2))
        .await
        .unwrap();
    let items = m["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], new[0].as_str());
}

#[tokio::test]
async fn ready_when_backends_answer_and_metrics_count_requests() {
    let app = spawn_app(&[]).await;
    let http = app.http.clone();
    let readyz = format!("{}/readyz", app.admin);
    eventually(Duration::from_secs(5), "/readyz is 200", || {
        let (http, readyz) = (http.clone(), readyz.clone());
        async move {
            let r = http.get(&readyz).send().await.map_err(|e| e.to_string())?;
            (r.status() == 200)
                .then_some(())
                .ok_or(r.status().to_string())
        }
    })
    .await;
    assert_eq!(app.get("/api/live").await.0, 200);
    assert_eq!(app.get("/api/live?phase=9").await.0, 400);
    let metrics = app.metrics_text().await;
    for line in [
        r#"usactar_requests_total{route="/api/live",status="200"} 1"#,
        r#"usactar_requests_total{route="/api/live",status="400"} 1"#,
        r#"usactar_request_duration_seconds_count{route="/api/live"} 2"#,
        r#"usactar_websockets_open{stream="live"} 0"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn backends_down_means_503_quickly_and_not_ready() {
    shared_stack();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let redis = format!("redis://127.0.0.1:{closed}");
    let mongo = format!("mongodb://127.0.0.1:{closed}/?directConnection=true");
    let app = spawn_app_without_backends(&redis, &mongo).await;
    for path in ["/api/live", "/api/logs", "/api/stats"] {
        let started = Instant::now();
        let r = reqwest::get(format!("{}{path}", app.0)).await.unwrap();
        assert_eq!(r.status(), 503, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("unavailable"),
            "{body}"
        );
        // The driver's own words (hosts, ports, internals) stay in the log.
        let error = body["error"].as_str().unwrap();
        assert!(
            error.ends_with("is unavailable; retry shortly")
                && !error.contains(&closed.to_string()),
            "{body}"
        );
    }
    let r = reqwest::get(format!("{}/readyz", app.1)).await.unwrap();
    assert_eq!(r.status(), 503);

    // The live socket says so instead of staying silent.
    let ws_base = app.0.replacen("http://", "ws://", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_base}/api/live/ws"))
        .await
        .expect("the live socket opens while Redis is down");
    let m = next_json(&mut ws, Duration::from_secs(2))
        .await
        .expect("a message within 2 s");
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["error"], "redis is unavailable; retry shortly", "{m}");
}

/// (api base, admin base) of a read-api whose stores are unreachable.
async fn spawn_app_without_backends(redis: &str, mongo: &str) -> (String, String) {
    let (settings, _, _) = common::settings(&[
        ("USACTAR_REDIS_URL", redis),
        ("USACTAR_MONGO_URI", mongo),
        ("USACTAR_BACKEND_TIMEOUT", "500ms"),
    ]);
    let app =
        read_api::startup::Application::build(settings, tokio_util::sync::CancellationToken::new())
            .await
            .unwrap();
    let urls = (
        format!("http://127.0.0.1:{}", app.port()),
        format!("http://127.0.0.1:{}", app.admin_port()),
    );
    tokio::spawn(app.run_until_stopped());
    urls
}

/// Whatever Redis holds, a snapshot and the stats read only the matches of the fixture list
/// (issue 15 H1); without a list, at most `MAX_MATCHES_READ`. Before, every match in Redis was
/// read in one call: 2 M matches made every page a 503 or read-api ran out of memory.
#[tokio::test]
async fn live_reads_are_bounded_by_the_fixture_list() {
    let junk = 1_500;
    let seed_junk = |app: &TestApp| {
        let mut pipe = redis::pipe();
        for i in 0..junk {
            let id = format!("1:Team{i}:Rival");
            pipe.cmd("HINCRBY")
                .arg(app.keys.match_counts(&id))
                .arg("1-0")
                .arg(1);
            pipe.cmd("HINCRBY")
                .arg(app.keys.match_totals())
                .arg(&id)
                .arg(1);
            pipe.cmd("SADD").arg(app.keys.phase_matches(1)).arg(&id);
        }
        pipe.cmd("SADD").arg(app.keys.phases()).arg("1");
        pipe.cmd("INCRBY").arg(app.keys.total()).arg(junk);
        let mut conn = app.redis.clone();
        async move {
            let _: () = pipe.query_async(&mut conn).await.expect("seed redis");
        }
    };
    let matches_in = |live: &Value| -> usize {
        live["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["matches"].as_array().unwrap().len())
            .sum()
    };

    let app = spawn_app(&[]).await;
    seed_junk(&app).await;
    app.add_live(4, "Argentina", "France", "3-3", 2).await;
    let (status, live) = app.get("/api/live").await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(matches_in(&live), 1, "only Argentina v France is a fixture");
    assert_eq!(live["phases"][0]["matches"][0]["id"], "4:Argentina:France");
    let (status, stats) = app.get("/api/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["matches"], 1, "{stats}");
    assert_eq!(stats["phases"]["4"], 2, "{stats}");

    let any = spawn_app(&[("USACTAR_FIXTURES", "any")]).await;
    seed_junk(&any).await;
    let (status, live) = any.get("/api/live").await;
    assert_eq!(status, 200);
    assert_eq!(matches_in(&live), read_api::live::MAX_MATCHES_READ);
    let (_, stats) = any.get("/api/stats").await;
    assert_eq!(stats["matches"], read_api::live::MAX_MATCHES_READ);
}

/// SIGTERM (issue 15 L1): read-api answers "not ready" at once but keeps serving for
/// `USACTAR_SHUTDOWN_DELAY`, while Kubernetes takes it out of the endpoints; only then does it
/// stop accepting. Before, the listener closed at once and requests still routed to the pod
/// failed.
#[tokio::test]
async fn on_sigterm_unready_first_then_serving_for_the_delay_then_stopped() {
    let mut app = spawn_app(&[("USACTAR_SHUTDOWN_DELAY", "2s")]).await;
    let readyz = |app: &TestApp| {
        let url = format!("{}/readyz", app.admin);
        let http = app.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    eventually(Duration::from_secs(30), "ready", || async {
        match readyz(&app).await {
            200 => Ok(()),
            s => Err(s.to_string()),
        }
    })
    .await;
    let stopped_at = Instant::now();
    app.shutdown.cancel();
    eventually(Duration::from_secs(1), "unready at once", || async {
        match readyz(&app).await {
            503 => Ok(()),
            s => Err(s.to_string()),
        }
    })
    .await;
    let (status, _) = app.get("/api/stats").await;
    assert_eq!(status, 200, "still serving during the delay");
    assert!(stopped_at.elapsed() < Duration::from_secs(2));
    tokio::time::timeout(Duration::from_secs(5), &mut app.server)
        .await
        .expect("stopped after the delay")
        .unwrap()
        .unwrap();
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(2),
        "stopped before the delay"
    );
    let refused = app.http.get(format!("{}/api/stats", app.base)).send().await;
    assert!(refused.is_err(), "the listener is closed");
}

/// The logs tail follows write time, not ids (issue 15 M3): a record with an older id written
/// after a newer one (another ingest replica's id, a consumer that lagged) is pushed too, once.
/// Before, the tail read `_id >` the newest id pushed and never sent it.
#[tokio::test]
async fn the_logs_tail_pushes_an_older_id_written_later() {
    let app = spawn_app(&[]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/api/logs/ws", app.ws_base))
        .await
        .expect("the logs socket opens");
    let write = |id_ms: u64| {
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            id_ms / 1000,
            ((id_ms % 1000) * 1_000_000) as u32,
        );
        let id = uuid::Uuid::new_v7(ts).hyphenated().to_string();
        let doc = mongodb::bson::doc! {
            "_id": &id,
            "team1": "Argentina", "team2": "France", "score": "3-3", "phase": 4,
            "received_at": mongodb::bson::DateTime::from_millis(id_ms as i64),
            "logged_at": mongodb::bson::DateTime::now(),
            "kafka": {"partition": 0, "offset": 0i64},
        };
        let logs = app.db.collection::<mongodb::bson::Document>("logs");
        async move {
            logs.insert_one(doc).await.expect("insert");
            id
        }
    };
    let pushed_ids = |m: Value| -> Vec<String> {
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let newer = write(now_ms()).await;
    let m = next_json(&mut ws, Duration::from_secs(3))
        .await
        .expect("a push");
    assert_eq!(pushed_ids(m), [newer]);
    // Received (and given its id) a minute earlier, written now.
    let older = write(now_ms() - 60_000).await;
    let m = next_json(&mut ws, Duration::from_secs(3))
        .await
        .expect("the older id written later is pushed");
    assert_eq!(pushed_ids(m), [older]);
    assert!(
        next_json(&mut ws, Duration::from_secs(1)).await.is_none(),
        "each record is pushed once"
    );
}
