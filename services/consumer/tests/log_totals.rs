//! logs-writer's totals (`log_totals`) against real FerretDB: a record is counted once when its
//! document is stored, also when an earlier attempt stored it and failed before counting, and
//! never for a replay of a record already counted or a duplicate id from another record.

mod common;

use common::{accepted, mongo_uri, unique};
use consumer::logs::{document, MongoSink};
use consumer::pipeline::{Record, Sink};
use futures::TryStreamExt;
use model::log_layout::{LOGS, LOG_TOTALS};
use mongodb::bson::{doc, DateTime, Document};
use std::time::Duration;

/// (stored documents, sum of the partitions' counts, partition 0's `through`)
async fn state(db: &mongodb::Database) -> (u64, i64, i64) {
    let stored = db
        .collection::<Document>(LOGS)
        .count_documents(doc! {})
        .await
        .unwrap();
    let totals: Vec<Document> = db
        .collection::<Document>(LOG_TOTALS)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
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
    let mut sink = MongoSink::new(&client, &database, Duration::from_secs(10));
    let predictions = accepted(12);
    let batch: Vec<Record> = predictions[..10]
        .iter()
        .enumerate()
        .map(|(i, p)| Record::at((i % 2) as i32, 100 + i as i64, p.clone()))
        .collect();

    // An earlier attempt stored the first four documents, then failed before counting them.
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

    // A client's retry: the same prediction (same id) again, at a new offset: stored once.
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
    db.drop().await.unwrap();
}
