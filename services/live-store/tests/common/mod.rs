//! What live-store's tests share: one real Redis per test binary, a running live-store per test
//! with its own key prefix, a gRPC client and a Redis connection, and predictions to send.

#![allow(dead_code, unused_imports)] // each test binary uses its own part of this module

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use live_proto::v1::live_store_client::LiveStoreClient;
use live_proto::v1::{ApplyBatchRequest, ApplyBatchResponse, Prediction};
use live_store::configuration::Settings;
use live_store::startup::Application;
use model::RedisKeys;
pub use testkit::{eventually, unique};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const DEADLINE: Duration = Duration::from_secs(30);

testkit::shared_stack!(pub fn shared_stack("redis"));

/// A running live-store with its own key prefix, a gRPC client and a Redis connection.
pub struct TestApp {
    pub grpc: LiveStoreClient<Channel>,
    pub admin: String,
    pub keys: RedisKeys,
    pub redis_client: redis::Client,
    pub redis: redis::aio::MultiplexedConnection,
    pub shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    service_kit::telemetry::init_for_tests("live-store");
    let stack = shared_stack();
    let redis_url = format!("redis://{}", stack.ports.addr("redis"));
    let prefix = format!("{}:", unique("livestore"));
    let mut env: HashMap<&str, &str> = [
        ("USACTAR_LISTEN", "127.0.0.1:0"),
        ("USACTAR_ADMIN_LISTEN", "127.0.0.1:0"),
        ("USACTAR_REDIS_URL", redis_url.as_str()),
        ("USACTAR_REDIS_PREFIX", prefix.as_str()),
    ]
    .into();
    env.extend(extra.iter().copied());
    let settings = Settings::from_env(&env).expect("valid settings");
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .expect("live-store builds");
    let (port, admin_port) = (app.port(), app.admin_port());
    tokio::spawn(app.run_until_stopped());
    let grpc = LiveStoreClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("live-store answers gRPC");
    let redis_client = redis::Client::open(redis_url).unwrap();
    let redis = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers");
    TestApp {
        grpc,
        admin: format!("http://127.0.0.1:{admin_port}"),
        keys: RedisKeys::new(prefix),
        redis_client,
        redis,
        shutdown,
    }
}

pub fn prediction(id: &str, phase: u32, team1: &str, team2: &str, score: &str) -> Prediction {
    Prediction {
        id: id.to_string(),
        team1: team1.to_string(),
        team2: team2.to_string(),
        score: score.to_string(),
        phase,
        received_at_ms: 1_669_000_000_000,
        // As a sender of the first version of the contract: no position, so de-duplicated by
        // id among the most recent ones.
        partition: None,
        offset: None,
    }
}

/// A prediction as live-forwarder sends it: read at `offset` of partition 0.
pub fn at(offset: i64, id: &str) -> Prediction {
    Prediction {
        partition: Some(0),
        offset: Some(offset),
        ..prediction(id, 1, "Qatar", "Ecuador", "1-0")
    }
}

/// Four predictions: three for one group-stage match, one for a final.
pub fn batch() -> Vec<Prediction> {
    vec![
        prediction("a", 1, "Qatar", "Ecuador", "0-2"),
        prediction("b", 1, "Qatar", "Ecuador", "0-2"),
        prediction("c", 1, "Qatar", "Ecuador", "1-1"),
        prediction("d", 4, "Argentina", "France", "3-3"),
    ]
}

impl TestApp {
    pub async fn apply(
        &self,
        predictions: Vec<Prediction>,
    ) -> Result<ApplyBatchResponse, tonic::Status> {
        self.grpc
            .clone()
            .apply_batch(ApplyBatchRequest {
                predictions,
                topic: "predictions".into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    /// Every key under this test's prefix.
    pub async fn key_names(&self) -> BTreeSet<String> {
        let mut conn = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.keys.prefix()))
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.into_iter().collect()
    }

    pub async fn hash(&self, key: String) -> HashMap<String, u64> {
        redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    pub async fn set(&self, key: String) -> BTreeSet<String> {
        redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    pub async fn total(&self) -> Option<u64> {
        redis::cmd("GET")
            .arg(self.keys.total())
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    /// Every aggregate, to compare before and after.
    pub async fn everything(
        &self,
    ) -> (
        HashMap<String, u64>,
        HashMap<String, u64>,
        HashMap<String, u64>,
        BTreeSet<String>,
        Option<u64>,
    ) {
        (
            self.hash(self.keys.match_counts("1:Qatar:Ecuador")).await,
            self.hash(self.keys.match_counts("4:Argentina:France"))
                .await,
            self.hash(self.keys.match_totals()).await,
            self.set(self.keys.phases()).await,
            self.total().await,
        )
    }
}

pub fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
