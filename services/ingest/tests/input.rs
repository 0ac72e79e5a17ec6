//! ingest on its own, against a real Kafka broker: what a 202 promises (the record is on the
//! topic, keyed by match), what a 4xx promises (the field at fault is named, and nothing reaches
//! Kafka), and the admin endpoints. Each test has its own topic, so they run side by side.

use std::collections::HashMap;
use std::time::Duration;

use ingest::configuration::Settings;
use ingest::startup::Application;
use kafka_access::acl;
use model::Accepted;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use testkit::{eventually, unique};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(30);

testkit::shared_stack!(fn shared_stack("kafka"));

/// The test defaults (the broker's administrator, free ports, `topic` of one partition), then
/// `extra`.
fn settings(topic: &str, extra: &[(&str, &str)]) -> Settings {
    service_kit::telemetry::init_for_tests("ingest");
    let mut env: HashMap<&str, &str> = shared_stack().kafka_env().into_iter().collect();
    env.extend([
        ("USACTAR_LISTEN", "127.0.0.1:0"),
        ("USACTAR_ADMIN_LISTEN", "127.0.0.1:0"),
        ("USACTAR_TOPIC", topic),
        ("USACTAR_TOPIC_PARTITIONS", "1"),
    ]);
    env.extend(extra.iter().copied());
    Settings::from_env(&env).expect("valid settings")
}

/// A running ingest with a topic of its own (one partition, so records keep their order).
struct TestApp {
    input: String,
    admin: String,
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
    spawn_app_with(&[]).await
}

/// An ingest with settings of its own on top of the test defaults.
async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let topic = unique("ingest");
    let settings = settings(&topic, extra);
    let shutdown = CancellationToken::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .expect("ingest builds");
    let (port, admin_port) = (app.port(), app.admin_port());
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        input: format!("http://127.0.0.1:{port}/input"),
        admin: format!("http://127.0.0.1:{admin_port}"),
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

    /// Posts raw bytes with the given headers; the answer's status, body and `Retry-After`.
    async fn post_raw(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value, Option<String>) {
        let mut request = self.http.post(&self.input).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("ingest answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (
            status,
            response.json().await.expect("a JSON body"),
            retry_after,
        )
    }

    /// A valid marker posted now: one partition keeps order, so it is the first record on the
    /// topic exactly when nothing before it reached Kafka.
    async fn assert_nothing_reached_kafka(&self) {
        let (status, body) = self.post(&prediction("9-9")).await;
        assert_eq!(status, 202, "{body}");
        let marker = body["ids"][0].as_str().unwrap().to_string();
        let records = self.records_until(&marker).await;
        assert_eq!(
            records.len(),
            1,
            "refused predictions reached Kafka: {records:?}"
        );
    }

    async fn admin_get(&self, path: &str) -> (u16, String) {
        match self.http.get(format!("{}{path}", self.admin)).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// Every record on the topic, in order, up to and including the one with id `last`.
    async fn records_until(&self, last: &str) -> Vec<(String, Accepted)> {
        let consumer: StreamConsumer = shared_stack()
            .kafka
            .client()
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

/// Issue 15 M4, seen on the sandbox: an ingest that met the broker before its ACLs existed had
/// its producer id refused, a fatal error for librdkafka's idempotent producer (it never asks
/// again), and stayed up and ready while every POST got 503 until someone restarted it. Now it
/// stops and exits with the reason, so that what runs it starts a fresh one.
#[tokio::test]
async fn a_producer_that_kafka_refuses_for_good_ends_ingest_with_the_reason() {
    let stack = shared_stack();
    let user = &stack.kafka_users.ingest;
    // ingest may write only the stack's topic. Kafka gives an idempotent producer its id when
    // its user may write some topic; denied that one, ingest may write none. No other test of
    // this binary logs in as ingest (they are the administrator, whom no ACL binds).
    let denied = acl::deny(acl::producer(&user.username, stack::kafka_users::TOPIC));
    let admin = stack.kafka.clone();
    tokio::task::spawn_blocking(move || acl::grant(&admin, &denied, Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the broker takes the DENY rules");

    let topic = unique("refused");
    let settings = settings(
        &topic,
        &[
            ("USACTAR_KAFKA_USERNAME", user.username.as_str()),
            ("USACTAR_KAFKA_PASSWORD", user.password.as_str()),
        ],
    );
    let app = Application::build(settings, CancellationToken::new())
        .await
        .expect("ingest builds (Kafka's refusals come later)");
    let run = tokio::spawn(app.run_until_stopped());
    // The default shutdown delay (5 s) is part of the wait.
    let exit = tokio::time::timeout(Duration::from_secs(40), run)
        .await
        .expect("ingest stops by itself")
        .expect("its task does not panic");
    let error = exit.expect_err("ingest's exit is an error").to_string();
    assert!(
        error.contains("the Kafka producer failed for good") && error.contains("uthoriz"),
        "{error}"
    );
}

/// L3: only a declared JSON body is read. A web page can make a browser post a form or
/// text/plain cross-site without a preflight; those (and an undeclared body) are 415, even when
/// the body is valid JSON, and nothing reaches Kafka.
#[tokio::test]
async fn a_body_not_declared_json_is_a_415_and_never_reaches_kafka() {
    let app = spawn_app().await;
    let valid = prediction("1-0").to_string();
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/csv"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|t| vec![("content-type", t)])
            .unwrap_or_default();
        let (status, answer, _) = app.post_raw(&headers, valid.clone()).await;
        assert_eq!(status, 415, "{content_type:?} -> {answer}");
        assert_eq!(answer["field"], "Content-Type", "{answer}");
        assert!(
            answer["reason"]
                .as_str()
                .is_some_and(|r| r.contains("application/json")),
            "{answer}"
        );
    }
    // Declared JSON, with parameters or as a +json type, is read.
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.usactar+json",
    ] {
        let (status, answer, _) = app.post_raw(&[("content-type", content_type)], "[]").await;
        assert_eq!(
            (status, &answer["error"]),
            (400, &json!("invalid batch")),
            "{answer}"
        );
    }
    app.assert_nothing_reached_kafka().await;
}

/// H5: hostile bodies of 1 MiB are refused quickly, with the documented errors, without being
/// parsed into a generic value.
#[tokio::test]
async fn hostile_bodies_are_refused_quickly() {
    let app = spawn_app().await;
    let json = [("content-type", "application/json")];
    let limit = 1024 * 1024;
    let zeros = hostile::zeros(limit);
    let many = hostile::many_predictions(limit);
    let nested = hostile::nested_zeros(limit);
    for (what, body, status, error, index) in [
        ("[0,0,…]", zeros, 413, "batch too large", None),
        (
            "1,001+ valid predictions",
            many,
            413,
            "batch too large",
            None,
        ),
        ("[[0,0,…]]", nested, 400, "invalid prediction", Some(0)),
    ] {
        assert!(body.len() <= limit && body.len() > limit - 16, "{what}");
        let started = std::time::Instant::now();
        let (got, answer, _) = app.post_raw(&json, body).await;
        let took = started.elapsed();
        assert_eq!(
            (got, &answer["error"]),
            (status, &json!(error)),
            "{what}: {answer}"
        );
        assert_eq!(answer["index"].as_u64(), index, "{what}: {answer}");
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
    }
    app.assert_nothing_reached_kafka().await;
}

/// H5: requests over `USACTAR_MAX_CONCURRENT_REQUESTS`, or bodies over
/// `USACTAR_MAX_INFLIGHT_BODY_BYTES`, are answered 503 with Retry-After at once, not queued; the
/// capacity comes back when the requests in flight end.
#[tokio::test]
async fn excess_concurrent_requests_get_a_quick_503() {
    let app = spawn_app_with(&[
        ("USACTAR_MAX_CONCURRENT_REQUESTS", "3"),
        ("USACTAR_MAX_BODY_BYTES", "65536"),
        ("USACTAR_MAX_INFLIGHT_BODY_BYTES", "131072"),
    ])
    .await;
    let addr = app
        .input
        .trim_start_matches("http://")
        .trim_end_matches("/input")
        .to_string();
    // Three requests that declare a body and never finish sending it hold every request permit.
    let stalled = |length: usize| {
        let addr = addr.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /input HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n["
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s
        }
    };
    let held = [stalled(100).await, stalled(100).await, stalled(100).await];
    let one = prediction("1-0").to_string();
    let json = [("content-type", "application/json")];
    let refused = eventually(DEADLINE, "a fourth request is refused", || async {
        let started = std::time::Instant::now();
        let answer = app.post_raw(&json, one.clone()).await;
        let took = started.elapsed();
        if answer.0 == 503 {
            Ok((answer, took))
        } else {
            Err(format!("{answer:?}"))
        }
    })
    .await;
    let ((_, body, retry_after), took) = refused;
    assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
    assert_eq!(body["error"], "overloaded", "{body}");
    assert!(took < Duration::from_secs(1), "503 took {took:?}");
    drop(held);
    eventually(DEADLINE, "capacity comes back", || async {
        let answer = app.post_raw(&json, one.clone()).await;
        (answer.0 == 202).then_some(()).ok_or(format!("{answer:?}"))
    })
    .await;

    // One stalled body of the largest size (64 KiB) takes half the byte budget; a second, the
    // rest; a third request of any size is refused on the budget (the count allows three).
    let big = stalled(65536).await;
    let small = stalled(65536).await;
    eventually(DEADLINE, "the byte budget is spent", || async {
        let answer = app.post_raw(&json, one.clone()).await;
        (answer.0 == 503 && answer.1["reason"].as_str().unwrap_or("").contains("bodies"))
            .then_some(())
            .ok_or(format!("{answer:?}"))
    })
    .await;
    drop((big, small));
    eventually(DEADLINE, "the budget comes back", || async {
        let answer = app.post_raw(&json, one.clone()).await;
        (answer.0 == 202).then_some(()).ok_or(format!("{answer:?}"))
    })
    .await;
}

/// M1: the same `Idempotency-Key` with the same body gets the same ids, so a retry lands on the
/// topic with the ids of the first try and the idempotent stores count it once. Another key, or
/// none, gets other ids; a malformed key is a 400.
#[tokio::test]
async fn an_idempotency_key_makes_a_retry_carry_the_same_ids() {
    let app = spawn_app().await;
    let batch = json!([prediction("1-0"), prediction("1-0"), prediction("2-0")]).to_string();
    let key = unique("retry");
    let with_key = [
        ("content-type", "application/json"),
        ("idempotency-key", key.as_str()),
    ];
    let (status, first, _) = app.post_raw(&with_key, batch.clone()).await;
    assert_eq!(status, 202, "{first}");
    let (status, retry, _) = app.post_raw(&with_key, batch.clone()).await;
    assert_eq!(status, 202, "{retry}");
    assert_eq!(first["ids"], retry["ids"], "a retry gets the same ids");
    let ids: Vec<String> = first["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_ne!(
        ids[0], ids[1],
        "two equal predictions in one request are two predictions"
    );

    // On the topic: both tries, with the same ids (the consumers write each id once).
    let other_key = [
        ("content-type", "application/json"),
        ("idempotency-key", "another-key"),
    ];
    let (_, other, _) = app.post_raw(&other_key, batch.clone()).await;
    assert_ne!(other["ids"], first["ids"]);
    let (_, none, _) = app
        .post_raw(&[("content-type", "application/json")], batch.clone())
        .await;
    assert_ne!(none["ids"], first["ids"]);
    let last = none["ids"][2].as_str().unwrap().to_string();
    let on_topic: Vec<String> = app
        .records_until(&last)
        .await
        .into_iter()
        .map(|(_, r)| r.id.to_string())
        .collect();
    assert_eq!(&on_topic[0..3], &ids[..]);
    assert_eq!(&on_topic[3..6], &ids[..]);
    assert_eq!(on_topic.len(), 12, "{on_topic:?}");

    // A malformed key is refused before anything is produced.
    let long = "k".repeat(256);
    for bad in ["", "has space", "tab\there", long.as_str(), "é"] {
        let request = app
            .http
            .post(&app.input)
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .body(prediction("3-0").to_string());
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            (status, &answer["field"]),
            (400, &json!("Idempotency-Key")),
            "{bad:?} -> {answer}"
        );
    }
    let (status, _) = app.post(&prediction("9-9")).await;
    assert_eq!(status, 202);
    let (_, body) = app.post(&prediction("9-8")).await;
    let records = app.records_until(body["ids"][0].as_str().unwrap()).await;
    assert_eq!(
        records.len(),
        14,
        "a refused key reached Kafka: {records:?}"
    );
}

/// Bodies of about `size` bytes that used to cost 16-24 times their size as a generic value.
mod hostile {
    pub fn zeros(size: usize) -> Vec<u8> {
        let mut body = Vec::with_capacity(size);
        body.push(b'[');
        while body.len() + 3 <= size {
            body.extend_from_slice(b"0,");
        }
        body.pop();
        body.push(b']');
        body
    }

    pub fn nested_zeros(size: usize) -> Vec<u8> {
        let mut body = b"[".to_vec();
        body.extend(zeros(size - 2));
        body.push(b']');
        body
    }

    pub fn many_predictions(size: usize) -> Vec<u8> {
        let one = br#"{"team1":"Qatar","team2":"Ecuador","score":"0-2","phase":1}"#;
        let mut body = b"[".to_vec();
        while body.len() + one.len() + 2 <= size {
            body.extend_from_slice(one);
            body.push(b',');
        }
        body.pop();
        body.push(b']');
        body
    }
}

/// Arbitrary bytes under arbitrary content types: always a 4xx with a JSON error naming what is
/// wrong (never a 5xx, never a panic), and nothing reaches Kafka.
#[tokio::test]
async fn arbitrary_bodies_and_content_types_get_a_4xx() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let app = spawn_app().await;
    let mut runner = TestRunner::deterministic();
    let content_types = proptest::sample::select(vec![
        "application/json",
        "application/json; charset=utf-8",
        "application/problem+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "",
    ]);
    let bodies = proptest::prop_oneof![
        proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512),
        // JSON-looking text, to get past the first byte; predictions always invalid (a ':').
        "[\\[\\]{}:,\"0-9a-z ]{0,64}".prop_map(String::into_bytes),
        "\\{\"team1\":\"[A-Za-z]{0,3}:[A-Za-z]{0,3}\",\"team2\":\"[A-Z]{0,3}\",\"score\":\"[0-9:-]{0,4}\",\"phase\":[0-9.-]{1,3}\\}"
            .prop_map(String::into_bytes),
    ];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..400 {
        let content_type = content_types.new_tree(&mut runner).unwrap().current();
        let body = bodies.new_tree(&mut runner).unwrap().current();
        let headers: Vec<(&str, &str)> = if content_type.is_empty() {
            vec![]
        } else {
            vec![("content-type", content_type)]
        };
        let (status, answer, _) = app.post_raw(&headers, body.clone()).await;
        *statuses.entry(status).or_default() += 1;
        if status == 202 {
            panic!("accepted {:?}", String::from_utf8_lossy(&body));
        }
        assert!(
            (400..500).contains(&status),
            "{status} for {content_type:?} {:?}: {answer}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            answer["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{answer}"
        );
    }
    println!("answers by status: {statuses:?}");
    app.assert_nothing_reached_kafka().await;
}

/// Only the matches of the fixture list exist (issue 15 H1): random pairs of teams, the right
/// teams in the other order or in another phase are a 400 naming the field, and none of them
/// reaches Kafka; every prediction of loadgen's data set (the real matches) is accepted.
#[tokio::test]
async fn only_matches_of_the_fixture_list_are_accepted() {
    let app = spawn_app().await;
    let cases = [
        // The fixture is Argentina v France: the other order is a clear error saying which.
        (
            json!({"team1": "France", "team2": "Argentina", "score": "3-3", "phase": 4}),
            "team1",
            "send team1 \"Argentina\" and team2 \"France\"",
        ),
        (
            json!({"team1": "Argentina", "team2": "France", "score": "3-3", "phase": 1}),
            "phase",
            "phase 4",
        ),
        (
            json!({"team1": "Atlantis", "team2": "France", "score": "1-0", "phase": 1}),
            "team1",
            "not a team",
        ),
        (
            json!({"team1": "Qatar", "team2": "Brazil", "score": "1-0", "phase": 1}),
            "team2",
            "play no match",
        ),
    ];
    for (body, field, words) in cases {
        let (status, answer) = app.post(&body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["field"], field, "{body} -> {answer}");
        assert!(
            answer["reason"].as_str().is_some_and(|r| r.contains(words)),
            "{body} -> {answer}"
        );
    }
    // The attack of the issue: a batch of 1,000 random pairs creates no match.
    let random: Vec<Value> = (0..1000)
        .map(|i| json!({"team1": format!("T{i}"), "team2": format!("U{i}"), "score": "1-0", "phase": 1}))
        .collect();
    let (status, answer) = app.post(&Value::Array(random)).await;
    assert_eq!(
        (status, answer["index"].as_u64()),
        (400, Some(0)),
        "{answer}"
    );
    app.assert_nothing_reached_kafka().await;

    // loadgen's data set, 10,000 predictions of the 64 real matches: all accepted.
    let data = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../loadgen/data/predictions.json"
    ))
    .unwrap();
    let predictions: Vec<Value> = serde_json::from_str(&data).unwrap();
    assert_eq!(predictions.len(), 10_000);
    for chunk in predictions.chunks(1000) {
        let (status, answer) = app.post(&Value::Array(chunk.to_vec())).await;
        assert_eq!(status, 202, "{answer}");
    }
}

/// `USACTAR_FIXTURES` names a file of one's own; `any` takes free team names.
#[tokio::test]
async fn a_fixture_file_of_its_own_or_none() {
    let dir = std::env::temp_dir().join(unique("fixtures"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fixtures.json");
    std::fs::write(
        &file,
        r#"{"matches": [{"team1": "Home", "team2": "Away", "phase": 2}]}"#,
    )
    .unwrap();
    let own = spawn_app_with(&[("USACTAR_FIXTURES", file.to_str().unwrap())]).await;
    let home = json!({"team1": "Home", "team2": "Away", "score": "1-0", "phase": 2});
    assert_eq!(own.post(&home).await.0, 202);
    assert_eq!(
        own.post(&prediction("1-0")).await.0,
        400,
        "Qatar v Ecuador is not in it"
    );
    let any = spawn_app_with(&[("USACTAR_FIXTURES", "any")]).await;
    // Where names are free text, look-alikes are refused (issue 15 L2).
    for spoof in ["Home\u{202E}", "Ho\u{200B}me", "Home ", "Ho\u{0301}me"] {
        let body = json!({"team1": spoof, "team2": "Away", "score": "1-0", "phase": 2});
        let (status, answer) = any.post(&body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some("team1")),
            "{spoof:?}: {answer}"
        );
    }
    any.assert_nothing_reached_kafka().await;
    assert_eq!(any.post(&home).await.0, 202);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// ingest against its own OpenAPI document, driven by Schemathesis, a client the project did not
/// write (issue 15): at least 1,000 generated requests with real Kafka behind, no 5xx and no
/// answer the document does not describe. The document served holds the fixture list, so a
/// schema-valid prediction is one ingest accepts (202), and an invalid one is a 4xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_answers_as_its_openapi_document_says() {
    let app = spawn_app().await;
    let schema = format!("{}/openapi.json", app.input.trim_end_matches("/input"));
    testkit::schemathesis::check(&schema, 300, &[]).await;
}
