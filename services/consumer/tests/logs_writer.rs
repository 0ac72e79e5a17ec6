//! logs-writer on its own, against real Kafka and FerretDB: every record of the topic becomes
//! exactly one document, a replay of the same ids changes nothing, and the group's offsets reach
//! the end of the topic once the documents are written.

mod common;

use std::collections::BTreeSet;

use common::{
    accepted, all_committed, eventually, fresh_topic, mongo_uri, produce, unique, DEADLINE,
};
use consumer::configuration::Role;
use mongodb::bson::{doc, Document};
use tokio_stream::StreamExt;

async fn ids_in(logs: &mongodb::Collection<Document>) -> Result<Vec<String>, String> {
    let docs: Vec<Result<Document, _>> = logs
        .find(doc! {})
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await;
    let mut ids = Vec::with_capacity(docs.len());
    for d in docs {
        let d = d.map_err(|e| e.to_string())?;
        ids.push(d.get_str("_id").map_err(|e| e.to_string())?.to_string());
    }
    ids.sort();
    Ok(ids)
}

#[tokio::test]
async fn records_land_in_mongodb_exactly_once() {
    let topic = fresh_topic().await;
    let database = unique("logs");
    // Sent with an Idempotency-Key, so that producing them again below is a client's retry
    // (the same UUIDv5 ids at new offsets), which must add nothing and count nothing.
    let mut records = accepted(40);
    for r in &mut records {
        r.id = common::keyed(r.id);
    }
    produce(&topic, &records).await;
    let uri = mongo_uri();
    let writer = common::start(
        Role::LogsWriter,
        &topic,
        &[
            ("USACTAR_MONGO_URI", uri.as_str()),
            ("USACTAR_MONGO_DB", database.as_str()),
        ],
    )
    .await;

    let logs = mongodb::Client::with_uri_str(&uri)
        .await
        .unwrap()
        .database(&database)
        .collection::<Document>("logs");
    let expected: Vec<String> = records
        .iter()
        .map(|r| r.id.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    eventually(DEADLINE, "every record is one document", || async {
        let ids = ids_in(&logs).await?;
        (ids == expected).then_some(()).ok_or(format!(
            "{} documents of {}",
            ids.len(),
            expected.len()
        ))
    })
    .await;
    all_committed(&topic, &writer.group).await;

    // The document of a record: the prediction, when it was received, and where it was read.
    let first = &records[0];
    let doc = logs
        .find_one(doc! {"_id": first.id.to_string()})
        .await
        .unwrap()
        .expect("the first record's document");
    assert_eq!(doc.get_str("team1").unwrap(), first.team1);
    assert_eq!(doc.get_str("team2").unwrap(), first.team2);
    assert_eq!(doc.get_str("score").unwrap(), first.score);
    assert_eq!(doc.get_i32("phase").unwrap(), i32::from(first.phase));
    assert_eq!(
        doc.get_datetime("received_at").unwrap().timestamp_millis(),
        first.received_at_ms
    );
    assert!(doc.get_datetime("logged_at").is_ok());
    let kafka = doc.get_document("kafka").unwrap();
    assert!(
        kafka.get_i32("partition").is_ok() && kafka.get_i64("offset").is_ok(),
        "{kafka}"
    );

    // The same records again (a client's retries with their keys) add nothing.
    produce(&topic, &records).await;
    all_committed(&topic, &writer.group).await;
    assert_eq!(ids_in(&logs).await.unwrap(), expected);
    // ... and its documents are counted once in the totals read-api answers with.
    let totals: Vec<Document> = logs
        .client()
        .database(&database)
        .collection::<Document>(model::log_layout::LOG_TOTALS)
        .find(doc! {})
        .await
        .unwrap()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    let counted: i64 = totals.iter().map(|d| d.get_i64("documents").unwrap()).sum();
    assert_eq!(counted, expected.len() as i64, "{totals:?}");
    assert_eq!(writer.readyz().await, 200);

    writer.stop().await;
}
