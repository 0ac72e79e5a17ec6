//! live-store on its own, against a real Redis: ApplyBatch over gRPC writes the key layout of
//! `model::redis_keys`, counts a prediction id once however often it comes, and announces the
//! changed matches. Each test has its own key prefix, so they run side by side.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use live_proto::v1::live_store_client::LiveStoreClient;
use live_proto::v1::{ApplyBatchRequest, ApplyBatchResponse, Prediction};
use live_store::configuration::Settings;
use live_store::startup::Application;
use model::RedisKeys;
use testkit::{eventually, unique};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const DEADLINE: Duration = Duration::from_secs(30);

testkit::shared_stack!(fn shared_stack("redis"));

/// A running live-store with its own key prefix, a gRPC client and a Redis connection.
struct TestApp {
    grpc: LiveStoreClient<Channel>,
    admin: String,
    keys: RedisKeys,
    redis_client: redis::Client,
    redis: redis::aio::MultiplexedConnection,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn spawn_app() -> TestApp {
    service_kit::telemetry::init_for_tests("live-store");
    let stack = shared_stack();
    let redis_url = format!("redis://{}", stack.ports.addr("redis"));
    let prefix = format!("{}:", unique("livestore"));
    let env: HashMap<&str, &str> = [
        ("USACTAR_LISTEN", "127.0.0.1:0"),
        ("USACTAR_ADMIN_LISTEN", "127.0.0.1:0"),
        ("USACTAR_REDIS_URL", redis_url.as_str()),
        ("USACTAR_REDIS_PREFIX", prefix.as_str()),
    ]
    .into();
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

fn prediction(id: &str, phase: u32, team1: &str, team2: &str, score: &str) -> Prediction {
    Prediction {
        id: id.to_string(),
        team1: team1.to_string(),
        team2: team2.to_string(),
        score: score.to_string(),
        phase,
        received_at_ms: 1_669_000_000_000,
    }
}

/// Four predictions: three for one group-stage match, one for a final.
fn batch() -> Vec<Prediction> {
    vec![
        prediction("a", 1, "Qatar", "Ecuador", "0-2"),
        prediction("b", 1, "Qatar", "Ecuador", "0-2"),
        prediction("c", 1, "Qatar", "Ecuador", "1-1"),
        prediction("d", 4, "Argentina", "France", "3-3"),
    ]
}

impl TestApp {
    async fn apply(
        &self,
        predictions: Vec<Prediction>,
    ) -> Result<ApplyBatchResponse, tonic::Status> {
        self.grpc
            .clone()
            .apply_batch(ApplyBatchRequest { predictions })
            .await
            .map(|r| r.into_inner())
    }

    async fn hash(&self, key: String) -> HashMap<String, u64> {
        redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    async fn set(&self, key: String) -> BTreeSet<String> {
        redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    async fn total(&self) -> Option<u64> {
        redis::cmd("GET")
            .arg(self.keys.total())
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    /// Every aggregate, to compare before and after.
    async fn everything(
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

fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

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
    let seen: bool = redis::cmd("EXISTS")
        .arg(keys.seen("a"))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert!(seen, "the id is remembered for de-duplication");
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
