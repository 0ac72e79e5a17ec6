//! Direct writes to the two stores, the yardstick for "is Kafka slow?": one Redis command and one
//! FerretDB insert, each acknowledged by its server, in the same closed loop as the producer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use mongodb::bson::{doc, DateTime};
use serde::{Deserialize, Serialize};

use super::stats::{closed_loop, LoopResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreWrites {
    /// `HINCRBY` on one hash (what live-store's script does per prediction, without the script).
    pub redis_hincrby: Vec<LoopResult>,
    /// `insert_one` of a log-shaped document into FerretDB (logs-writer inserts batches).
    pub ferretdb_insert_one: Vec<LoopResult>,
}

/// Measures both stores at each of `in_flight`, then removes what it wrote.
pub async fn measure(
    redis_url: &str,
    mongo_uri: &str,
    run_id: &str,
    in_flight: &[usize],
    duration: Duration,
) -> Result<StoreWrites> {
    let redis = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let hash = format!("kafka-study:{run_id}");
    let mut redis_hincrby = Vec::new();
    for &n in in_flight {
        let (conn, hash) = (redis.clone(), hash.clone());
        redis_hincrby.push(
            closed_loop(n, duration, move |i| {
                let (mut conn, hash) = (conn.clone(), hash.clone());
                async move {
                    redis::cmd("HINCRBY")
                        .arg(&hash)
                        .arg(i % 64)
                        .arg(1)
                        .query_async::<i64>(&mut conn)
                        .await
                        .is_ok()
                }
            })
            .await,
        );
    }
    let _: Result<i64, _> = redis::cmd("DEL")
        .arg(&hash)
        .query_async(&mut redis.clone())
        .await;

    let mongo = mongodb::Client::with_uri_str(mongo_uri).await?;
    let db = mongo.database("kafka_study");
    let logs = Arc::new(db.collection::<mongodb::bson::Document>(&format!("logs_{run_id}")));
    let mut ferretdb_insert_one = Vec::new();
    for &n in in_flight {
        let logs = logs.clone();
        ferretdb_insert_one.push(
            closed_loop(n, duration, move |i| {
                let logs = logs.clone();
                async move {
                    let now = DateTime::now();
                    logs.insert_one(doc! {
                        "_id": format!("{i}-{}", now.timestamp_millis()),
                        "team1": "Argentina", "team2": "France", "score": "3-3", "phase": 4,
                        "received_at": now, "logged_at": now,
                    })
                    .await
                    .is_ok()
                }
            })
            .await,
        );
    }
    let _ = db.drop().await;
    mongo.shutdown().await;
    Ok(StoreWrites {
        redis_hincrby,
        ferretdb_insert_one,
    })
}
