//! live-store on its own, against a real Redis: ApplyBatch over gRPC writes the key layout of
//! `model::redis_keys`, counts a prediction id once however often it comes, and announces the
//! changed matches. Each test has its own key prefix, so they run side by side.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{at, batch, counts, eventually, prediction, set, spawn_app, spawn_app_with, DEADLINE};
use live_proto::v1::Prediction;
use tokio_stream::StreamExt;

#[tokio::test]
async fn a_batch_updates_every_key_of_the_layout() {
    let app = spawn_app().await;
    let answer = app.apply(batch()).await.expect("the batch is applied");
    assert_eq!((answer.applied, answer.duplicates), (4, 0));

    let keys = &app.keys;
    assert_eq!(
        app.hash(keys.match_counts("1:Qatar:Ecuador")).await,
        counts(&[("0-2", 2), ("1-1", 1)])
    );
    assert_eq!(
        app.hash(keys.match_counts("4:Argentina:France")).await,
        counts(&[("3-3", 1)])
    );
    assert_eq!(
        app.hash(keys.match_totals()).await,
        counts(&[("1:Qatar:Ecuador", 3), ("4:Argentina:France", 1)])
    );
    assert_eq!(
        app.set(keys.phase_matches(1)).await,
        set(&["1:Qatar:Ecuador"])
    );
    assert_eq!(
        app.set(keys.phase_matches(4)).await,
        set(&["4:Argentina:France"])
    );
    assert_eq!(app.set(keys.phases()).await, set(&["1", "4"]));
    assert_eq!(app.total().await, Some(4));
    let recent: Option<f64> = redis::cmd("ZSCORE")
        .arg(keys.recent_ids())
        .arg("a")
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert!(recent.is_some(), "the id is among the recent ones");
}

/// Exactly once on bounded state (issue 15 H2): live-store remembers 2 ids only, yet a replay of
/// ten records (as after a consumer crash, however late) counts nothing, because their offsets
/// are at or below the highest applied; no key per prediction is kept. Before, each id had its
/// own `seen:{id}` key for 7 days, and a replay after that counted twice.
#[tokio::test]
async fn a_replay_counts_nothing_whatever_the_window_and_memory_stays_bounded() {
    let app = spawn_app_with(&[("USACTAR_DEDUP_WINDOW", "2")]).await;
    let records: Vec<Prediction> = (0..10).map(|o| at(o, &format!("id{o}"))).collect();
    let first = app.apply(records.clone()).await.unwrap();
    assert_eq!((first.applied, first.duplicates), (10, 0));
    let replay = app.apply(records).await.unwrap();
    assert_eq!((replay.applied, replay.duplicates), (0, 10));
    assert_eq!(app.total().await, Some(10));

    // A client's retry: new records (higher offsets) with the ids just counted count once.
    let retry = app.apply(vec![at(10, "id9"), at(11, "new")]).await.unwrap();
    assert_eq!((retry.applied, retry.duplicates), (1, 1));
    assert_eq!(app.total().await, Some(11));

    // Bounded: the aggregates, one offset per partition, the window; nothing per prediction.
    let keys = &app.keys;
    let expected: BTreeSet<String> = [
        keys.match_counts("1:Qatar:Ecuador"),
        keys.match_totals(),
        keys.phase_matches(1),
        keys.phases(),
        keys.total(),
        keys.applied_offsets(),
        keys.recent_ids(),
    ]
    .into();
    assert_eq!(app.key_names().await, expected);
    assert_eq!(
        app.hash(keys.applied_offsets()).await,
        counts(&[("predictions:0", 11)])
    );
    let window: u64 = redis::cmd("ZCARD")
        .arg(keys.recent_ids())
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert_eq!(window, 2);
}

/// Check first, then write (issue 15 M2): a key of the wrong type met by the batch's second
/// prediction refuses the whole batch before anything is written. Before, the first prediction
/// was counted and marked seen, and the error came half-way.
#[tokio::test]
async fn an_error_anywhere_in_the_batch_writes_nothing() {
    let app = spawn_app().await;
    let _: () = redis::cmd("SET")
        .arg(app.keys.match_counts("4:Argentina:France"))
        .arg("not a hash")
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    let status = app
        .apply(vec![
            at(0, "first"),
            Prediction {
                partition: Some(0),
                offset: Some(1),
                ..prediction("second", 4, "Argentina", "France", "3-3")
            },
        ])
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("WRONGTYPE"), "{status:?}");
    assert_eq!(app.total().await, None, "nothing was counted");
    assert!(app
        .hash(app.keys.match_counts("1:Qatar:Ecuador"))
        .await
        .is_empty());
    assert!(app.hash(app.keys.applied_offsets()).await.is_empty());
    let recent: u64 = redis::cmd("ZCARD")
        .arg(app.keys.recent_ids())
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert_eq!(recent, 0);
}

#[tokio::test]
async fn the_same_batch_twice_counts_once() {
    let app = spawn_app().await;
    app.apply(batch()).await.expect("first time");
    let before = app.everything().await;
    let again = app.apply(batch()).await.expect("second time");
    assert_eq!((again.applied, again.duplicates), (0, 4));
    // Half old, half new: only the new ones count.
    let mixed = app
        .apply(vec![
            prediction("a", 1, "Qatar", "Ecuador", "0-2"),
            prediction("e", 1, "Qatar", "Ecuador", "0-2"),
        ])
        .await
        .expect("third time");
    assert_eq!((mixed.applied, mixed.duplicates), (1, 1));
    let after = app.everything().await;
    assert_eq!(before.1, after.1);
    assert_eq!(after.0, counts(&[("0-2", 3), ("1-1", 1)]));
    assert_eq!(after.4, Some(5));
}

#[tokio::test]
async fn the_changes_channel_names_the_changed_matches() {
    let app = spawn_app().await;
    let mut pubsub = app.redis_client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(app.keys.changes_channel()).await.unwrap();
    let mut messages = pubsub.into_on_message();

    app.apply(batch()).await.expect("the batch is applied");
    let message = tokio::time::timeout(DEADLINE, messages.next())
        .await
        .expect("a change is announced")
        .expect("the subscription is open");
    let ids: Vec<String> = serde_json::from_str(&message.get_payload::<String>().unwrap())
        .expect("a JSON array of match ids");
    assert_eq!(ids, ["1:Qatar:Ecuador", "4:Argentina:France"]);

    // A batch that changes nothing announces nothing.
    app.apply(batch()).await.expect("a replay");
    let quiet = tokio::time::timeout(Duration::from_millis(500), messages.next()).await;
    assert!(quiet.is_err(), "a replay announced a change");
}

#[tokio::test]
async fn an_invalid_prediction_refuses_the_whole_batch() {
    let app = spawn_app().await;
    let mut predictions = batch();
    predictions.push(prediction("x", 1, "Qatar", "Ecuador", "1:0"));
    let status = app.apply(predictions).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("predictions[4]") && status.message().contains("score"),
        "{}",
        status.message()
    );
    let status = app
        .apply(vec![prediction("", 1, "Qatar", "Ecuador", "1-0")])
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(app.total().await, None, "nothing was counted");
}

#[tokio::test]
async fn admin_reports_ready_and_counts() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    eventually(DEADLINE, "/readyz is 200 once Redis answers", || async {
        let r = http
            .get(format!("{}/readyz", app.admin))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        (r.status() == 200)
            .then_some(())
            .ok_or(format!("{}", r.status()))
    })
    .await;
    app.apply(batch()).await.unwrap();
    app.apply(batch()).await.unwrap();
    let metrics = http
        .get(format!("{}/metrics", app.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "usactar_live_predictions_total{outcome=\"applied\"} 4",
        "usactar_live_predictions_total{outcome=\"duplicate\"} 4",
        "usactar_requests_total{route=\"/usactar.live.v1.LiveStore/ApplyBatch\",status=\"OK\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}
