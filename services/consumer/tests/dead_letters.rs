//! Records that can never be written (issue 15 H3), produced by a raw Kafka producer as any
//! producer could: logs-writer puts them on the dead-letter topic with the reason and goes on,
//! so the good records after them land and the partition's offsets reach its end.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    accepted, all_committed, eventually, fresh_topic, metric, mongo_uri, produce_raw, read_topic,
    unique, DEADLINE,
};
use consumer::configuration::Role;
use consumer::dead_letter::headers;
use kafka_access::acl;
use mongodb::bson::{doc, Document};
use tokio_stream::StreamExt;

#[tokio::test]
async fn an_invalid_record_goes_to_the_dead_letter_topic_and_the_partition_goes_on() {
    let topic = fresh_topic().await;
    let database = unique("logs");
    let good = accepted(10);
    // Decodes as an accepted prediction, but a team holds ':' (the match key's separator).
    let mut invalid = accepted(1).remove(0);
    invalid.team1 = "Qa:tar".into();
    let invalid = serde_json::to_vec(&invalid).unwrap();
    let undecodable = b"{\"id\": 42}".to_vec();
    // One key: one partition, in this order, good records on both sides of the bad ones.
    for record in &good[..5] {
        produce_raw(&topic, "one", &serde_json::to_vec(record).unwrap()).await;
    }
    produce_raw(&topic, "one", &invalid).await;
    produce_raw(&topic, "one", &undecodable).await;
    for record in &good[5..] {
        produce_raw(&topic, "one", &serde_json::to_vec(record).unwrap()).await;
    }

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
    let expected: BTreeSet<String> = good.iter().map(|r| r.id.to_string()).collect();
    eventually(DEADLINE, "every good record is a document", || async {
        let docs: Vec<Document> = logs
            .find(doc! {})
            .await
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .collect()
            .await;
        let ids: BTreeSet<String> = docs
            .iter()
            .filter_map(|d| d.get_str("_id").ok().map(String::from))
            .collect();
        (ids == expected).then_some(()).ok_or(format!(
            "{} documents of {}",
            ids.len(),
            expected.len()
        ))
    })
    .await;
    all_committed(&topic, &writer.group).await;

    let letters = read_topic(&format!("{topic}.dead-letters"), 2).await;
    assert_eq!(letters[0].payload, invalid, "the record as it was read");
    assert_eq!(letters[0].headers[headers::REASON], "invalid");
    assert!(
        letters[0].headers[headers::ERROR].contains("team1"),
        "{:?}",
        letters[0].headers
    );
    assert_eq!(letters[1].payload, undecodable);
    assert_eq!(letters[1].headers[headers::REASON], "undecodable");
    for letter in &letters {
        assert_eq!(letter.headers[headers::GROUP], writer.group);
        assert_eq!(letter.headers[headers::TOPIC], topic);
    }
    assert_eq!(letters[0].headers[headers::OFFSET], "5");
    assert_eq!(letters[1].headers[headers::OFFSET], "6");
    for reason in ["invalid", "undecodable"] {
        let sample = format!("usactar_dead_letters_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&writer.admin, &sample).await, 1.0, "{sample}");
    }
    assert_eq!(writer.readyz().await, 200);
    writer.stop().await;
}

/// Issue 15 M4, seen on the sandbox: a consumer that met the broker before its ACLs existed had
/// its dead-letter producer's id refused, a fatal error for librdkafka's idempotent producer (it
/// never asks again, so the first dead letter would have waited forever), and stayed up and
/// ready. Now it stops and exits with the reason, so that what runs it starts a fresh one.
#[tokio::test]
async fn a_dead_letter_producer_that_kafka_refuses_for_good_ends_the_consumer_with_the_reason() {
    let stack = common::shared_stack();
    let user = &stack.kafka_users.logs_writer;
    // logs-writer may write only the dead-letter topic. Kafka gives an idempotent producer its
    // id when its user may write some topic; denied that one, logs-writer may write none. No
    // other test of this binary logs in as logs-writer (they are the administrator).
    let denied = acl::deny(acl::producer(
        &user.username,
        stack::kafka_users::DEAD_LETTER_TOPIC,
    ));
    let admin = stack.kafka.clone();
    tokio::task::spawn_blocking(move || acl::grant(&admin, &denied, Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the broker takes the DENY rules");

    let topic = fresh_topic().await;
    let uri = mongo_uri();
    let writer = common::start(
        Role::LogsWriter,
        &topic,
        &[
            ("USACTAR_MONGO_URI", uri.as_str()),
            ("USACTAR_MONGO_DB", "refused"),
            ("USACTAR_KAFKA_USERNAME", user.username.as_str()),
            ("USACTAR_KAFKA_PASSWORD", user.password.as_str()),
        ],
    )
    .await;
    let exit = tokio::time::timeout(Duration::from_secs(40), writer.task)
        .await
        .expect("the consumer stops by itself")
        .expect("its task does not panic");
    let error = exit
        .expect_err("the consumer's exit is an error")
        .to_string();
    assert!(
        error.contains("the dead-letter producer failed for good") && error.contains("uthoriz"),
        "{error}"
    );
}
