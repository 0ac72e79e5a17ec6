//! `/api/logs` over a collection of some size, against real FerretDB (issue 15): filters use
//! indexes, every query is bounded on the server (maxTimeMS), totals are bounded, and a
//! malformed document is skipped rather than failing its pages.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app, TestApp};
use mongodb::bson::{doc, DateTime, Document};
use read_api::error::AppError;
use read_api::filter::MatchFilter;
use read_api::logs::{LogStore, COUNT_CAP, INDEXES};

const DOCS: usize = 20_000;
const BASE_MS: i64 = 1_671_000_000_000;

/// How the seeded logs are counted in `log_totals`.
#[derive(Clone, Copy, PartialEq)]
enum Counted {
    /// In `documents` and per filter, as logs-writer counts logs of the fixture list.
    ByFilter,
    /// In `documents` only: filtered totals are counted from the collection.
    DocumentsOnly,
}

fn phase_of(i: usize) -> i32 {
    if i < 12_000 {
        1
    } else {
        2 + (i % 3) as i32
    }
}

/// 20,000 logs: phase 1 for the first 12,000 (more than [`COUNT_CAP`]), teams T0..T39 against
/// R0..R6.
async fn seed(app: &TestApp, counted: Counted) {
    let logs = app.db.collection::<Document>("logs");
    let docs: Vec<Document> = (0..DOCS)
        .map(|i| {
            let at = BASE_MS + i as i64;
            let ts = uuid::Timestamp::from_unix(
                uuid::NoContext,
                (at / 1000) as u64,
                ((at % 1000) * 1_000_000) as u32,
            );
            doc! {
                "_id": uuid::Uuid::new_v7(ts).hyphenated().to_string(),
                "team1": format!("T{}", i % 40),
                "team2": format!("R{}", i % 7),
                "score": "1-0",
                "phase": phase_of(i),
                "received_at": DateTime::from_millis(at),
                "logged_at": DateTime::from_millis(at + 40),
                "kafka": {"partition": 0, "offset": i as i64},
            }
        })
        .collect();
    for chunk in docs.chunks(5_000) {
        logs.insert_many(chunk.to_vec()).await.expect("seed");
    }
    match counted {
        Counted::DocumentsOnly => app.count_logs(0, DOCS).await,
        Counted::ByFilter => {
            let teams: Vec<(u8, String, String)> = (0..DOCS)
                .map(|i| {
                    (
                        phase_of(i) as u8,
                        format!("T{}", i % 40),
                        format!("R{}", i % 7),
                    )
                })
                .collect();
            let logs: Vec<(u8, &str, &str)> = teams
                .iter()
                .map(|(p, t1, t2)| (*p, t1.as_str(), t2.as_str()))
                .collect();
            app.count_logs_by_filter(0, &logs).await
        }
    }
}

/// read-api creates the indexes in the background at start: waits for all of them.
async fn wait_for_indexes(app: &TestApp) {
    let logs = app.db.collection::<Document>("logs");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let names = logs.list_index_names().await.unwrap();
        if names.len() > INDEXES.len() {
            println!("indexes: {names:?}");
            return;
        }
        assert!(Instant::now() < deadline, "indexes missing: {names:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn timed(app: &TestApp, path: &str) -> (u16, serde_json::Value, Duration) {
    let started = Instant::now();
    let (status, body) = app.get(path).await;
    (status, body, started.elapsed())
}

/// Pages and totals of every kind of filter; `phase=1` matches 12,000 logs, past [`COUNT_CAP`].
const CASES: &[(&str, u64, usize)] = &[
    ("/api/logs", DOCS as u64, 50),
    ("/api/logs?team1=zzz", 0, 0),
    ("/api/logs?team1=T3", 500, 50),
    ("/api/logs?team2=R1", 2_857, 50),
    ("/api/logs?team1=T3&team2=R3", 72, 50),
    ("/api/logs?phase=2&team1=T3", 67, 50),
    ("/api/logs?phase=3&team2=R4", 381, 50),
    ("/api/logs?phase=4&team1=T3&team2=R3", 10, 10),
    ("/api/logs?phase=1", 12_000, 50),
];

#[tokio::test]
async fn filtered_totals_come_from_the_counts_per_filter_exact_past_the_cap() {
    let app = spawn_app(&[("USACTAR_BACKEND_TIMEOUT", "15s")]).await;
    seed(&app, Counted::ByFilter).await;
    for (path, total, items) in CASES {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["total"], *total, "{path}");
        assert_eq!(body["total_capped"], false, "{path}");
        assert_eq!(body["items"].as_array().unwrap().len(), *items, "{path}");
    }
    // One partition whose logs are not all counted per filter (a log outside the fixture list):
    // the counts no longer cover the store, and the filtered totals are counted, capped.
    app.count_logs(1, 1).await;
    let (status, body) = app.get("/api/logs?phase=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], COUNT_CAP);
    assert_eq!(body["total_capped"], true);
    let (_, body) = app.get("/api/logs?team1=T3").await;
    assert_eq!(body["total"], 500);
    let (_, body) = app.get("/api/logs").await;
    assert_eq!(
        body["total"],
        DOCS as u64 + 1,
        "unfiltered: every counted log"
    );
}

#[tokio::test]
async fn filtered_pages_and_totals_are_indexed_right_and_within_the_timeout() {
    // A generous timeout, so that this test checks the answers on a loaded machine too (FerretDB
    // 1.24 scanned the 20,000 documents here for about 2 s; DocumentDB walks the indexes), and
    // the answers must come within it. Counted in `documents` only, so that every filtered
    // total is counted from the collection.
    let timeout = Duration::from_secs(15);
    let app = spawn_app(&[("USACTAR_BACKEND_TIMEOUT", "15s")]).await;
    seed(&app, Counted::DocumentsOnly).await;
    wait_for_indexes(&app).await;

    let bound = timeout + Duration::from_millis(500);
    for (path, total, items) in CASES {
        // The unfiltered total is always `documents`, never counted.
        let (total, capped) = if *total > COUNT_CAP && path.contains('?') {
            (COUNT_CAP, true)
        } else {
            (*total, false)
        };
        let (status, body, took) = timed(&app, path).await;
        println!("{path}: {status} in {took:?}, total {}", body["total"]);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["total"], total, "{path}");
        assert_eq!(body["total_capped"], capped, "{path}");
        assert_eq!(body["items"].as_array().unwrap().len(), *items, "{path}");
        assert!(took < bound, "{path} took {took:?}");
    }
}

#[tokio::test]
async fn the_server_stops_a_query_at_the_backend_timeout() {
    let app = spawn_app(&[]).await;
    seed(&app, Counted::DocumentsOnly).await;
    wait_for_indexes(&app).await;
    // DocumentDB answers these pages from its indexes in milliseconds: a store too slow to
    // answer is made by locking the collection's table, so every query waits until the server's
    // own limit ends it.
    let mut lock = common::lock_logs_table(app.db.name(), Duration::from_secs(20));

    // FerretDB honours maxTimeMS on count as well as on find.
    let logs = app.db.collection::<Document>("logs");
    let err = logs
        .count_documents(doc! {"team1": "zzz"})
        .max_time(Duration::from_millis(20))
        .await
        .expect_err("a count of a locked collection within 20 ms");
    assert!(err.to_string().contains("MaxTimeMSExpired"), "{err}");

    // A store whose bound is far below the lock: the server itself stops the page's queries
    // (MaxTimeMSExpired) before read-api's own wait (500 ms more) runs out, so read-api sent
    // maxTimeMS and the store does not work on after read-api gave up.
    let store = LogStore::connect(
        &app.settings.mongo_uri,
        app.db.name(),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    store.ping().await.expect("connected");
    for filter in [
        MatchFilter::default(),
        MatchFilter {
            team1: Some("zzz".into()),
            ..MatchFilter::default()
        },
    ] {
        // A few tries: on a loaded machine read-api's own wait may still win a race.
        let mut details = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let r = store.page(&filter, None, 50).await;
            let took = started.elapsed();
            println!("{filter:?}: {took:?}");
            assert!(took < Duration::from_millis(1500), "{took:?}");
            match r {
                Err(AppError::Unavailable { detail, .. }) => details.push(detail),
                Ok(page) => panic!("a page of a locked collection? {}", page.total),
                Err(e) => panic!("{e}"),
            }
            if details.last().unwrap().contains("MaxTimeMSExpired") {
                break;
            }
        }
        assert!(
            details.iter().any(|d| d.contains("MaxTimeMSExpired")),
            "the server's own limit should stop the query: {details:?}"
        );
    }
    let _ = lock.kill();
    let _ = lock.wait();
}

#[tokio::test]
async fn a_malformed_document_is_skipped_not_a_503() {
    let app = spawn_app(&[]).await;
    let ids = app
        .add_logs(&[
            (1_671_000_000_000, 1, "Qatar", "Ecuador", "0-2"),
            (1_671_000_001_000, 1, "Qatar", "Ecuador", "1-1"),
            (1_671_000_002_000, 1, "Qatar", "Ecuador", "2-2"),
        ])
        .await;
    app.db
        .collection::<Document>("logs")
        .update_one(doc! {"_id": &ids[1]}, doc! {"$set": {"phase": "one"}})
        .await
        .unwrap();
    let (status, body) = app.get("/api/logs").await;
    assert_eq!(status, 200, "{body}");
    let got: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[0].as_str()]);
    // Paging past it still works: the cursor comes from the raw page.
    let (_, page) = app.get("/api/logs?limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], ids[1].as_str());
    let (_, rest) = app
        .get(&format!("/api/logs?limit=2&before={}", ids[1]))
        .await;
    assert_eq!(rest["items"][0]["id"], ids[0].as_str());
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("usactar_logs_undecodable_total 2"),
        "{metrics}"
    );
}

/// Every start of read-api creates its indexes again: on a store that already has them that
/// must succeed. FerretDB 1.24 dropped the connection (a panic in its createIndexes) when one call
/// named two or more existing indexes, so a restarted read-api never got past this.
#[tokio::test]
async fn creating_the_indexes_again_succeeds() {
    let app = spawn_app(&[]).await;
    let store = LogStore::connect(
        &app.settings.mongo_uri,
        app.db.name(),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    store.ensure_indexes().await.expect("created");
    store
        .ensure_indexes()
        .await
        .expect("created again: a no-op");
    let names = app
        .db
        .collection::<Document>("logs")
        .list_index_names()
        .await
        .unwrap();
    assert_eq!(names.len(), INDEXES.len() + 1, "{names:?}");
}

/// The collection dropped behind read-api's back (a database shell) and written again: the
/// indexes the pages name are gone, and the store refuses a query naming one. The pages still
/// answer, and read-api creates the indexes again.
#[tokio::test]
async fn pages_still_answer_when_the_indexes_were_dropped_and_come_back() {
    let app = spawn_app(&[]).await;
    app.add_logs(&[(1_671_000_000_000, 1, "T1", "R1", "1-0")])
        .await;
    wait_for_indexes(&app).await;
    let (status, body) = app.get("/api/logs?team1=T1").await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );

    let logs = app.db.collection::<Document>("logs");
    logs.drop().await.expect("dropped");
    app.add_logs(&[(1_671_000_000_001, 2, "T1", "R2", "0-0")])
        .await;
    assert_eq!(logs.list_index_names().await.unwrap(), ["_id_"]);
    for path in ["/api/logs?team1=T1", "/api/logs?phase=2", "/api/logs"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            !body["items"].as_array().unwrap().is_empty(),
            "{path}: {body}"
        );
    }
    wait_for_indexes(&app).await;
    let (status, _) = app.get("/api/logs?team2=R2").await;
    assert_eq!(status, 200);
}

/// Twenty first pages at once over 20,000 documents, with at most 2 read at once: 2 are read
/// (each a sort of the 20,000 in FerretDB's memory), the rest refused at once with 503, so a
/// crowd cannot pile sorts up in the store.
#[tokio::test]
async fn pages_beyond_the_limit_are_refused_at_once_not_sent_to_the_store() {
    let app = spawn_app(&[
        ("USACTAR_BACKEND_TIMEOUT", "15s"),
        ("USACTAR_MAX_LOG_QUERIES", "2"),
    ])
    .await;
    seed(&app, Counted::DocumentsOnly).await;
    let answers =
        futures::future::join_all((0..20).map(|_| timed(&app, "/api/logs?limit=5"))).await;
    let read: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!(read.len() + refused.len(), 20, "{answers:?}");
    assert!((2..=4).contains(&read.len()), "{answers:?}");
    let fastest_read = read.iter().map(|a| a.2).min().unwrap();
    for (_, body, took) in &refused {
        assert_eq!(body["error"], "mongodb is unavailable; retry shortly");
        assert!(
            *took < fastest_read,
            "refused at once ({took:?}), not after a read ({fastest_read:?})"
        );
    }
    for (_, body, _) in &read {
        assert_eq!(body["items"].as_array().map(Vec::len), Some(5), "{body}");
    }
    // Once the reads are over, a page is read again.
    let (status, _, _) = timed(&app, "/api/logs?limit=5").await;
    assert_eq!(status, 200);
}
