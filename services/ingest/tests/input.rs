//! ingest on its own, against a real Kafka broker: what a 202 promises (the record is on the
//! topic, keyed by match), what a 4xx promises (the field at fault is named, and nothing reaches
//! Kafka), and the admin endpoints. Each test has its own topic, so they run side by side.

use std::collections::HashMap;
use std::time::Duration;

use ingest::configuration::Settings;
use ingest::startup::Application;
use model::Accepted;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value};
use testkit::{eventually, unique};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(30);

testkit::shared_stack!(fn shared_stack("kafka"));

/// A running ingest with a topic of its own (one partition, so records keep their order).
struct TestApp {
    input: String,
    admin: String,
    bootstrap: String,
    topic: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn spawn_app() -> TestApp {
    service_kit::telemetry::init_for_tests("ingest");
    let bootstrap = shared_stack().ports.addr("kafka");
    let topic = unique("ingest");
    let env: HashMap<&str, &str> = [
        ("USACTAR_LISTEN", "127.0.0.1:0"),
        ("USACTAR_ADMIN_LISTEN", "127.0.0.1:0"),
        ("USACTAR_KAFKA_BOOTSTRAP", bootstrap.as_str()),
        ("USACTAR_TOPIC", topic.as_str()),
        ("USACTAR_TOPIC_PARTITIONS", "1"),
    ]
    .into();
    let settings = Settings::from_env(&env).expect("valid settings");
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .expect("ingest builds");
    let (port, admin_port) = (app.port(), app.admin_port());
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        input: format!("http://127.0.0.1:{port}/input"),
        admin: format!("http://127.0.0.1:{admin_port}"),
        bootstrap,
        topic,
        http: reqwest::Client::new(),
        shutdown,
    };
    // 503 until the health check has seen the broker; tests start from a ready ingest.
    eventually(DEADLINE, "ingest is ready", || async {
        match app.admin_get("/readyz").await {
            (200, _) => Ok(()),
            (status, body) => Err(format!("{status} {body}")),
        }
    })
    .await;
    app
}

impl TestApp {
    async fn post(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(&self.input)
            .json(body)
            .send()
            .await
            .expect("ingest answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    async fn admin_get(&self, path: &str) -> (u16, String) {
        match self.http.get(format!("{}{path}", self.admin)).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// Every record on the topic, in order, up to and including the one with id `last`.
    async fn records_until(&self, last: &str) -> Vec<(String, Accepted)> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", unique("ingest-test"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(&self.topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&partitions).expect("assign the partition");
        let mut records = Vec::new();
        let read = async {
            loop {
                let message = consumer.recv().await.expect("a record");
                let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
                let record: Accepted = serde_json::from_slice(message.payload().unwrap())
                    .expect("each record is an Accepted");
                let done = record.id.to_string() == last;
                records.push((key, record));
                if done {
                    return;
                }
            }
        };
        tokio::time::timeout(DEADLINE, read)
            .await
            .unwrap_or_else(|_| panic!("{last} never reached the topic; read {records:?}"));
        records
    }
}

fn prediction(score: &str) -> Value {
    json!({"team1": "Qatar", "team2": "Ecuador", "score": score, "phase": 1})
}

#[tokio::test]
async fn a_202_means_the_record_is_on_the_topic() {
    let app = spawn_app().await;
    let (status, body) = app.post(&prediction("0-2")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 1);
    let id = body["ids"][0].as_str().expect("an id").to_string();

    let records = app.records_until(&id).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let (key, record) = &records[0];
    assert_eq!(key, "1:Qatar:Ecuador", "keyed by match");
    assert_eq!(
        (
            record.team1.as_str(),
            record.team2.as_str(),
            record.score.as_str(),
            record.phase
        ),
        ("Qatar", "Ecuador", "0-2", 1)
    );
    assert_eq!(record.id.get_version_num(), 7);
    assert!(record.received_at_ms > 1_600_000_000_000);
}

#[tokio::test]
async fn a_batch_is_on_the_topic_in_order() {
    let app = spawn_app().await;
    let batch = json!([prediction("1-0"), prediction("2-0"), prediction("3-0")]);
    let (status, body) = app.post(&batch).await;
    assert_eq!(status, 202, "{body}");
    let ids: Vec<String> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    let records = app.records_until(&ids[2]).await;
    let on_topic: Vec<(String, String)> = records
        .iter()
        .map(|(_, r)| (r.id.to_string(), r.score.clone()))
        .collect();
    let expected: Vec<(String, String)> = ids
        .into_iter()
        .zip(["1-0", "2-0", "3-0"].map(String::from))
        .collect();
    assert_eq!(on_topic, expected);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_never_reaches_kafka() {
    let app = spawn_app().await;
    let cases = [
        (prediction("1:0"), "score", None),
        (
            json!({"team1": "Qatar", "team2": "Ecuador", "score": "1-0"}),
            "phase",
            None,
        ),
        (
            json!({"team1": "Qatar", "team2": "Qatar", "score": "1-0", "phase": 1}),
            "team2",
            None,
        ),
        (
            json!({"team1": "Qatar", "team2": "Ecuador", "score": "1-0", "phase": 9}),
            "phase",
            None,
        ),
        // One bad entry refuses the whole batch, and says which.
        (
            json!([prediction("1-0"), prediction("x"), prediction("2-0")]),
            "score",
            Some(1),
        ),
    ];
    for (body, field, index) in cases {
        let (status, answer) = app.post(&body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["field"], field, "{body} -> {answer}");
        assert!(
            answer["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{answer}"
        );
        assert_eq!(
            answer["index"].as_u64(),
            index.map(|i| i as u64),
            "{answer}"
        );
    }
    let (status, answer) = app.post(&json!("not a prediction")).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("(body)")),
        "{answer}"
    );

    // One partition keeps order: a valid marker posted after the refusals is the first record,
    // so none of them reached Kafka.
    let (status, body) = app.post(&prediction("9-9")).await;
    assert_eq!(status, 202, "{body}");
    let marker = body["ids"][0].as_str().unwrap().to_string();
    let records = app.records_until(&marker).await;
    assert_eq!(
        records.len(),
        1,
        "refused predictions reached Kafka: {records:?}"
    );
}

#[tokio::test]
async fn admin_endpoints_report_health_and_counts() {
    let app = spawn_app().await;
    assert_eq!(app.admin_get("/livez").await.0, 200);
    assert_eq!(app.admin_get("/readyz").await.0, 200);
    assert_eq!(app.post(&prediction("1-0")).await.0, 202);
    assert_eq!(
        app.post(&json!([prediction("1-0"), prediction("2-2")]))
            .await
            .0,
        202
    );
    assert_eq!(app.post(&prediction("bad")).await.0, 400);
    let (status, metrics) = app.admin_get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "usactar_predictions_total{outcome=\"accepted\"} 3",
        "usactar_predictions_total{outcome=\"rejected\"} 1",
        "usactar_requests_total{route=\"/input\",status=\"202\"} 2",
        "usactar_requests_total{route=\"/input\",status=\"400\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    // The API listener does not serve the admin routes: the ingress never exposes them.
    let api_base = app.input.trim_end_matches("/input");
    let r = app
        .http
        .get(format!("{api_base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .get(format!("{api_base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
