//! `experiments kafka`'s instruments against the real servers: the producer cell, the lag read
//! from the broker, and the direct store writes, each on an answer known in advance.

use std::sync::Arc;
use std::time::Duration;

use experiments::kafka_study::{lag::GroupLag, producer, stores};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use stack::local::mongo_uri;
use testkit::{shared_stack, unique};

shared_stack!(fn servers("kafka", "redis", "ferretdb"));

#[tokio::test]
async fn a_producer_cell_measures_acks_and_batches_of_a_real_broker() {
    let kafka = servers().kafka.clone();
    let topic = unique("kafka_study_cell");
    producer::create_topic(&kafka, &topic, 2)
        .await
        .expect("topic");
    let payloads = Arc::new(vec![
        ("1:A:B".to_string(), b"{\"x\":1}".to_vec()),
        ("2:C:D".to_string(), b"{\"x\":2}".to_vec()),
    ]);
    let cell = producer::cell(
        &kafka,
        &topic,
        payloads,
        5,
        producer::Acks::AllIdempotent,
        8,
        Duration::from_millis(1500),
    )
    .await
    .expect("the cell runs");
    let latency = cell.result.latency.clone().expect("acknowledged records");
    assert_eq!(cell.result.errors, 0);
    assert!(latency.count > 10, "{latency:?}");
    // A 5 ms linger holds each record at least that long before it is sent.
    assert!(latency.p50_ms >= 5.0, "{latency:?}");
    // Eight records waiting at a time, 5 ms of linger: requests carry more than one record.
    let per_request = cell.records_per_request.expect("Produce requests counted");
    assert!(
        per_request > 1.0 && per_request <= 8.0 + 1.0,
        "{per_request}"
    );
    assert!(
        cell.batch_records_avg.is_some() && cell.broker_rtt_p50_ms.is_some(),
        "{cell:?}"
    );
    producer::delete_topic(&kafka, &topic).await;
}

#[tokio::test]
async fn lag_is_end_offsets_minus_the_groups_committed_offsets() {
    let kafka = servers().kafka.clone();
    let topic = unique("kafka_study_lag");
    let group = unique("kafka_study_group");
    producer::create_topic(&kafka, &topic, 1)
        .await
        .expect("topic");
    let reader = GroupLag::new(&kafka, &topic, &group).expect("reader");
    // No record, nothing committed: nothing behind. A read answers None until the new topic's
    // metadata reached the broker's answers (or a call timed out on a busy machine): retry.
    let empty = tokio::task::spawn_blocking({
        let (b, t, g) = (kafka.clone(), topic.clone(), group.clone());
        move || {
            let fresh = GroupLag::new(&b, &t, &g).unwrap();
            (0..30).find_map(|_| {
                fresh.read().or_else(|| {
                    std::thread::sleep(Duration::from_millis(500));
                    None
                })
            })
        }
    });
    assert_eq!(empty.await.unwrap(), Some((0, 0)));

    let p: FutureProducer = kafka.client().create().unwrap();
    for i in 0..50 {
        p.send(
            FutureRecord::to(&topic).key("k").payload(&format!("{i}")),
            Timeout::Never,
        )
        .await
        .expect("produced");
    }
    // The group committed offset 20: 30 records behind.
    let c: BaseConsumer = kafka.client().set("group.id", &group).create().unwrap();
    let mut at = TopicPartitionList::new();
    at.add_partition_offset(&topic, 0, Offset::Offset(20))
        .unwrap();
    c.commit(&at, CommitMode::Sync).expect("commit");
    let read = tokio::task::spawn_blocking(move || {
        (0..30).find_map(|_| {
            reader.read().or_else(|| {
                std::thread::sleep(Duration::from_millis(500));
                None
            })
        })
    })
    .await
    .unwrap();
    assert_eq!(read, Some((30, 20)));
    producer::delete_topic(&kafka, &topic).await;
}

#[tokio::test]
async fn direct_store_writes_are_measured_and_cleaned_up() {
    let ports = &servers().ports;
    let run = unique("run");
    let w = stores::measure(
        &format!("redis://{}", ports.addr("redis")),
        &mongo_uri(ports),
        &run,
        &[1, 4],
        Duration::from_millis(400),
    )
    .await
    .expect("both stores answer");
    for r in w.redis_hincrby.iter().chain(&w.ferretdb_insert_one) {
        assert_eq!(r.errors, 0, "{r:?}");
        assert!(r.latency.as_ref().is_some_and(|l| l.count > 0), "{r:?}");
    }
    assert_eq!(
        w.redis_hincrby
            .iter()
            .map(|r| r.in_flight)
            .collect::<Vec<_>>(),
        [1, 4]
    );
    // What it wrote is gone.
    let mongo = mongodb::Client::with_uri_str(mongo_uri(ports))
        .await
        .unwrap();
    let collections = mongo
        .database("kafka_study")
        .list_collection_names()
        .await
        .unwrap();
    assert!(
        !collections.contains(&format!("logs_{run}")),
        "{collections:?}"
    );
    let mut redis = redis::Client::open(format!("redis://{}", ports.addr("redis")))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let left: i64 = redis::cmd("EXISTS")
        .arg(format!("kafka-study:{run}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
