//! logs-writer's totals (`log_totals`) against real FerretDB: a record is counted once when its
//! document is stored, also when an earlier attempt stored it and failed before counting, and
//! never for a replay of a record already counted or a duplicate id from another record.

mod common;

use common::{accepted, keyed, mongo_uri, unique};
use consumer::logs::{document, MongoSink};
use consumer::pipeline::{Record, Sink};
use futures::TryStreamExt;
use model::log_layout::{LOGS, LOG_TOTALS};
use mongodb::bson::{doc, DateTime, Document};
use std::sync::Arc;
use std::time::Duration;

/// The matches of [`accepted`]'s predictions: Home k v Away k in phase k + 1, but for
/// `outside` (`None`: every one listed).
fn fixtures(outside: Option<usize>) -> Arc<model::Fixtures> {
    let matches: Vec<serde_json::Value> = (0..4)
        .filter(|k| Some(*k) != outside)
        .map(|k| serde_json::json!({"team1": format!("Home {k}"), "team2": format!("Away {k}"), "phase": k + 1}))
        .collect();
    Arc::new(
        model::Fixtures::parse(&serde_json::json!({ "matches": matches }).to_string()).unwrap(),
    )
}

/// Each filter's count in `log_totals` (summed over partitions) beside the count of the logs it
/// matches, for every filter of the teams and phases of [`accepted`] and a few that match
/// nothing; and whether every partition's `by_phase` adds up to its `documents`.
async fn filter_counts(db: &mongodb::Database) -> (Vec<(String, u64, u64)>, bool) {
    let totals = partitions(db).await;
    let complete = totals.iter().all(|d| {
        let phases: i64 = d
            .get_document("by_phase")
            .map(|p| p.values().filter_map(|n| n.as_i64()).sum())
            .unwrap_or(0);
        phases == d.get_i64("documents").unwrap()
    });
    let mut rows = Vec::new();
    let phases = [None, Some(1), Some(2), Some(3), Some(4)];
    let teams = |side: &str| {
        let mut t: Vec<Option<String>> = (0..5).map(|k| Some(format!("{side} {k}"))).collect();
        t.push(None);
        t
    };
    for phase in phases {
        for team1 in teams("Home") {
            for team2 in teams("Away") {
                let Some(field) =
                    model::log_layout::filter_field(phase, team1.as_deref(), team2.as_deref())
                else {
                    continue;
                };
                let (parent, key) = field.split_once('.').unwrap();
                let counted: i64 = totals
                    .iter()
                    .filter_map(|d| d.get_document(parent).ok()?.get_i64(key).ok())
                    .sum();
                let mut filter = Document::new();
                if let Some(p) = phase {
                    filter.insert("phase", p);
                }
                if let Some(t) = &team1 {
                    filter.insert("team1", t);
                }
                if let Some(t) = &team2 {
                    filter.insert("team2", t);
                }
                let stored = db
                    .collection::<Document>(LOGS)
                    .count_documents(filter)
                    .await
                    .unwrap();
                rows.push((field, counted as u64, stored));
            }
        }
    }
    (rows, complete)
}

/// Asserts that every filter's count equals the logs it matches.
async fn assert_counted_per_filter(db: &mongodb::Database) {
    let (rows, complete) = filter_counts(db).await;
    assert!(complete, "by_phase adds up to documents in every partition");
    let wrong: Vec<_> = rows.iter().filter(|(_, c, s)| c != s).collect();
    assert!(wrong.is_empty(), "counted != stored: {wrong:?}");
    assert!(rows.iter().any(|(_, c, _)| *c > 0));
}

/// Every partition's document in `log_totals`.
async fn partitions(db: &mongodb::Database) -> Vec<Document> {
    db.collection::<Document>(LOG_TOTALS)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// (stored documents, sum of the partitions' counts, partition 0's `through`)
async fn state(db: &mongodb::Database) -> (u64, i64, i64) {
    let stored = db
        .collection::<Document>(LOGS)
        .count_documents(doc! {})
        .await
        .unwrap();
    let totals = partitions(db).await;
    let counted = totals.iter().map(|d| d.get_i64("documents").unwrap()).sum();
    let through = totals
        .iter()
        .find(|d| d.get_str("_id") == Ok("partition:0"))
        .map_or(-1, |d| d.get_i64("through").unwrap());
    (stored, counted, through)
}

#[tokio::test]
async fn stored_documents_are_counted_once_across_replays() {
    let client = mongodb::Client::with_uri_str(mongo_uri()).await.unwrap();
    let database = unique("totals");
    let db = client.database(&database);
    let mut sink = MongoSink::new(&client, &database, Duration::from_secs(10))
        .with_fixtures(Some(fixtures(None)));
    let mut predictions = accepted(12);
    // Two predictions sent with an Idempotency-Key: their ids are UUIDv5, which a client's
    // retry repeats, so a refused one is looked up; the UUIDv7 ones cannot be another record's.
    for p in &mut predictions[..2] {
        p.id = keyed(p.id);
    }
    let batch: Vec<Record> = predictions[..10]
        .iter()
        .enumerate()
        .map(|(i, p)| Record::at((i % 2) as i32, 100 + i as i64, p.clone()))
        .collect();

    // An earlier attempt stored the first four documents, then failed before counting them:
    // two UUIDv5 (looked up: they carry this position) and two UUIDv7 (counted without a read).
    let earlier: Vec<Document> = batch[..4]
        .iter()
        .map(|r| document(r, DateTime::now()))
        .collect();
    db.collection::<Document>(LOGS)
        .insert_many(earlier)
        .await
        .unwrap();
    assert_eq!(state(&db).await, (4, 0, -1));

    sink.write(&batch).await.expect("the batch is written");
    assert_eq!(
        state(&db).await,
        (10, 10, 108),
        "all ten stored and counted once"
    );

    // The same batch again (a crash after counting, before the commit): nothing changes.
    sink.write(&batch).await.expect("the replay is written");
    assert_eq!(
        state(&db).await,
        (10, 10, 108),
        "a replay is not counted again"
    );

    // A client's retry with its Idempotency-Key: the same prediction (same UUIDv5) again, at a
    // new offset: stored once, counted once.
    let retry = Record::at(0, 110, predictions[0].clone());
    // And a new prediction after it on the same partition.
    let fresh = Record::at(0, 111, predictions[10].clone());
    sink.write(&[retry, fresh]).await.expect("written");
    assert_eq!(
        state(&db).await,
        (11, 11, 111),
        "the retried id is not counted twice, the new one is"
    );
    // Two writers of the same records at once (a rebalance: the old owner still writing while
    // the new one starts): each count is conditional on what it read, so the one that loses the
    // race reads again and finds them counted.
    let more: Vec<Record> = (0..6)
        .map(|i| Record::at(i % 3, 200 + i as i64, accepted(1).remove(0)))
        .collect();
    let mut other = sink.clone();
    let (a, b) = tokio::join!(sink.write(&more), other.write(&more));
    a.expect("written");
    b.expect("written");
    assert_eq!(state(&db).await.0, 17);
    assert_eq!(state(&db).await.1, 17, "counted once by two writers");
    assert_counted_per_filter(&db).await;

    // The first batch after a killed logs-writer: 500 records its predecessor stored and did not
    // count, 10 of them with keyed ids. One read of the totals and one lookup of the 10, not a
    // lookup each: on FerretDB's SQLite backend each `_id` lookup scans the collection, and 500
    // of them on a store of 138,000 documents never finished within the write deadline.
    let mut replayed = accepted(500);
    for p in &mut replayed[..10] {
        p.id = keyed(p.id);
    }
    let batch: Vec<Record> = replayed
        .into_iter()
        .enumerate()
        .map(|(i, p)| Record::at(5, 1000 + i as i64, p))
        .collect();
    let earlier: Vec<Document> = batch.iter().map(|r| document(r, DateTime::now())).collect();
    db.collection::<Document>(LOGS)
        .insert_many(earlier)
        .await
        .unwrap();
    let finds_before = finds(&client).await;
    sink.write(&batch).await.expect("the replay is written");
    let finds = finds(&client).await - finds_before;
    assert_eq!(state(&db).await.1, 517, "the 500 counted once");
    assert!(finds <= 2, "{finds} find commands for one replayed batch");
    assert_counted_per_filter(&db).await;
    db.drop().await.unwrap();
}

#[tokio::test]
async fn a_log_outside_the_fixture_list_leaves_the_counts_per_filter_short() {
    let client = mongodb::Client::with_uri_str(mongo_uri()).await.unwrap();
    let database = unique("totals_outside");
    let db = client.database(&database);
    let batch: Vec<Record> = accepted(8)
        .into_iter()
        .enumerate()
        .map(|(i, p)| Record::at(0, i as i64, p))
        .collect();
    // Home 3 v Away 3 is not listed: its two logs are stored and counted, not per filter.
    let mut sink = MongoSink::new(&client, &database, Duration::from_secs(10))
        .with_fixtures(Some(fixtures(Some(3))));
    sink.write(&batch).await.expect("written");
    assert_eq!(state(&db).await, (8, 8, 7));
    let (rows, complete) = filter_counts(&db).await;
    assert!(
        !complete,
        "read-api must see that the counts do not cover the store"
    );
    let home0 = rows
        .iter()
        .find(|(f, _, _)| f == "by_filter.:Home 0:")
        .unwrap();
    assert_eq!((home0.1, home0.2), (2, 2));
    let home3 = rows
        .iter()
        .find(|(f, _, _)| f == "by_filter.:Home 3:")
        .unwrap();
    assert_eq!((home3.1, home3.2), (0, 2));

    // Without a fixture list (`USACTAR_FIXTURES=any`) nothing is counted per filter.
    let mut free = MongoSink::new(&client, &database, Duration::from_secs(10)).with_fixtures(None);
    let more: Vec<Record> = accepted(4)
        .into_iter()
        .enumerate()
        .map(|(i, p)| Record::at(1, i as i64, p))
        .collect();
    free.write(&more).await.expect("written");
    let partition1 = db
        .collection::<Document>(LOG_TOTALS)
        .find_one(doc! {"_id": "partition:1"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(partition1.get_i64("documents"), Ok(4));
    assert!(partition1.get("by_phase").is_none() && partition1.get("by_filter").is_none());
    db.drop().await.unwrap();
}

/// The `find` commands FerretDB has answered (serverStatus' metrics), from any client.
async fn finds(client: &mongodb::Client) -> i64 {
    let status = client
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await
        .unwrap();
    let find = status
        .get_document("metrics")
        .and_then(|m| m.get_document("commands"))
        .and_then(|c| c.get_document("find"))
        .expect("serverStatus counts find commands");
    find.get_i64("total")
        .or_else(|_| find.get_i32("total").map(i64::from))
        .unwrap()
}
