//! The local platform's servers, used for real through the clients the services use.
//! Each test starts (or joins) the binary's shared stack; a server that is missing fails it.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, shared_stack, unique};
use mongodb::bson::{doc, Document};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use stack::{local::mongo_uri, ProcessControl, ProcessState};

const SECONDS_30: Duration = Duration::from_secs(30);

#[tokio::test]
async fn kafka_produces_and_consumes_a_record() {
    let stack = shared_stack();
    let kafka = stack.kafka.clone();
    let topic = unique("platform_test");

    let admin: AdminClient<_> = kafka.client().create().expect("admin client");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create_topics answers");
    assert!(created.iter().all(|r| r.is_ok()), "{created:?}");

    let producer: FutureProducer = kafka
        .client()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let delivery = producer
        .send(
            FutureRecord::to(&topic)
                .key("Argentina-France")
                .payload("3-3"),
            Duration::from_secs(10),
        )
        .await
        .expect("the broker acknowledges the record");

    let consumer: StreamConsumer = kafka
        .client()
        .set("group.id", unique("platform_group"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = tokio::time::timeout(SECONDS_30, consumer.recv())
        .await
        .expect("a record within 30 s")
        .expect("a record, not an error");
    assert_eq!(message.partition(), delivery.partition);
    assert_eq!(message.offset(), delivery.offset);
    assert_eq!(message.key(), Some(&b"Argentina-France"[..]));
    assert_eq!(message.payload(), Some(&b"3-3"[..]));
}

#[tokio::test]
async fn mongodb_inserts_and_finds_a_document() {
    let stack = shared_stack();
    let client = mongodb::Client::with_uri_str(mongo_uri(&stack.ports))
        .await
        .expect("client");
    let db = client.database(&unique("platform_test"));
    let logs = db.collection::<Document>("logs");
    let id = unique("prediction");
    logs.insert_one(
        doc! {"_id": &id, "team1": "Argentina", "team2": "France", "score": "3-3", "phase": 4},
    )
    .await
    .expect("insert into FerretDB");
    let found = logs
        .find_one(doc! {"_id": &id})
        .await
        .expect("find answers")
        .expect("the document is there");
    assert_eq!(found.get_str("score").unwrap(), "3-3");
    assert_eq!(found.get_i32("phase").unwrap(), 4);
    db.drop().await.expect("drop the test database");
}

#[tokio::test]
async fn redis_hset_then_hget() {
    let stack = shared_stack();
    let client = redis::Client::open(format!("redis://{}", stack.ports.addr("redis"))).unwrap();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let key = format!("{}:match:4:Argentina:France", unique("test"));
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("3-3")
        .arg(7)
        .query_async(&mut conn)
        .await
        .unwrap();
    let count: i64 = redis::cmd("HGET")
        .arg(&key)
        .arg("3-3")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 7);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn prometheus_answers_about_its_targets() {
    let stack = shared_stack();
    let base = format!("http://{}", stack.ports.addr("prometheus"));
    let http = reqwest::Client::new();
    // Every scrape job of the platform is up: the servers' exporters and Prometheus itself.
    let jobs = [
        "prometheus",
        "kafka",
        "ferretdb",
        "toxiproxy",
        "redis-exporter",
        "nginx-exporter",
        "node-exporter",
        "process-exporter",
    ];
    eventually(
        Duration::from_secs(60),
        "every platform target is up",
        || async {
            let body: serde_json::Value = http
                .get(format!("{base}/api/v1/query"))
                .query(&[("query", "up")])
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let results = body["data"]["result"]
                .as_array()
                .ok_or("no result array")?
                .clone();
            for job in jobs {
                let up = results.iter().find(|r| r["metric"]["job"] == job);
                match up {
                    Some(r) if r["value"][1] == "1" => {}
                    other => return Err(format!("job {job}: {other:?}")),
                }
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn toxiproxy_adds_measurable_latency() {
    let stack = shared_stack();
    let api = format!("http://{}", stack.ports.addr("toxiproxy"));
    let http = reqwest::Client::new();
    let name = unique("redis_link");
    let proxy: serde_json::Value = http
        .post(format!("{api}/proxies"))
        .json(&serde_json::json!({
            "name": name, "listen": "127.0.0.1:0", "upstream": stack.ports.addr("redis"),
        }))
        .send()
        .await
        .expect("toxiproxy answers")
        .error_for_status()
        .expect("the proxy is created")
        .json()
        .await
        .unwrap();
    let listen = proxy["listen"]
        .as_str()
        .expect("listen address")
        .to_string();

    let client = redis::Client::open(format!("redis://{listen}")).unwrap();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect through the proxy");
    async fn median_ping(conn: &mut redis::aio::MultiplexedConnection) -> Duration {
        let mut times = Vec::new();
        for _ in 0..9 {
            let start = Instant::now();
            let _: String = redis::cmd("PING").query_async(conn).await.unwrap();
            times.push(start.elapsed());
        }
        times.sort();
        times[times.len() / 2]
    }
    let before = median_ping(&mut conn).await;

    http.post(format!("{api}/proxies/{name}/toxics"))
        .json(&serde_json::json!({
            "name": "delay", "type": "latency", "stream": "downstream",
            "attributes": {"latency": 100, "jitter": 0},
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the latency toxic is added");
    let after = median_ping(&mut conn).await;
    http.delete(format!("{api}/proxies/{name}"))
        .send()
        .await
        .unwrap();

    assert!(
        before < Duration::from_millis(50),
        "baseline PING took {before:?}"
    );
    assert!(
        after >= Duration::from_millis(100) && after < Duration::from_millis(400),
        "PING with a 100 ms toxic took {after:?} (before: {before:?})"
    );
}

#[tokio::test]
async fn a_killed_process_comes_back_with_one_more_restart() {
    let stack = shared_stack();
    let control = stack.control_client();
    // node-exporter: no other test in this binary talks to it.
    let before = control.status("node-exporter").await.expect("status");
    let killed = control.kill("node-exporter").await.expect("kill");
    assert_eq!(Some(killed), before.pid);

    let after = eventually(SECONDS_30, "node-exporter is running again", || async {
        let s = control
            .status("node-exporter")
            .await
            .map_err(|e| e.to_string())?;
        if s.state == ProcessState::Running && s.pid.is_some() && s.pid != Some(killed) {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    assert_eq!(after.restarts, before.restarts + 1);
    assert_eq!(after.last_exit.as_deref(), Some("killed by SIGKILL"));
    let metrics = reqwest::get(format!(
        "http://{}/metrics",
        stack.ports.addr("node-exporter")
    ))
    .await
    .expect("it answers again");
    assert!(metrics.status().is_success());

    // A fault aimed at a name that does not exist is a clear error that changes nothing.
    let err = control.kill("read-apii").await.unwrap_err().to_string();
    assert!(
        err.contains("read-apii") && err.contains("node-exporter"),
        "{err}"
    );
}

#[tokio::test]
async fn a_held_process_stays_down_for_the_duration() {
    let stack = shared_stack();
    let control = stack.control_client();
    let before = control.status("process-exporter").await.unwrap();
    let start = Instant::now();
    control
        .hold("process-exporter", Duration::from_secs(2))
        .await
        .expect("hold");
    let held = control.status("process-exporter").await.unwrap();
    assert_eq!(held.state, ProcessState::Held);
    assert_eq!(held.pid, None);
    assert!(stack::ports::is_free(stack.ports.get("process-exporter")));
    eventually(SECONDS_30, "process-exporter is running again", || async {
        let s = control
            .status("process-exporter")
            .await
            .map_err(|e| e.to_string())?;
        (s.state == ProcessState::Running)
            .then_some(())
            .ok_or(format!("{s:?}"))
    })
    .await;
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "came back after {:?}",
        start.elapsed()
    );
    let after = control.status("process-exporter").await.unwrap();
    assert_eq!(after.restarts, before.restarts + 1);
}

/// Issue 15 M10: a web page (cross-site request, or DNS rebinding to 127.0.0.1) must not drive
/// the stack. Without the token, with a foreign Host or with an Origin the control channel
/// refuses and nothing happens; with the token it answers.
#[tokio::test]
async fn the_control_channel_refuses_requests_without_its_token_host_or_with_an_origin() {
    let stack = shared_stack();
    let control = stack.control_client();
    let before = control.status("node-exporter").await.expect("status");
    let http = reqwest::Client::new();
    let kill = format!("http://{}/processes/node-exporter/kill", stack.control);
    let port = stack.ports.get("control");
    let cases: [(&str, reqwest::RequestBuilder, u16); 5] = [
        ("no token", http.post(&kill), 401),
        (
            "a wrong token",
            http.post(&kill).bearer_auth("0".repeat(64)),
            401,
        ),
        (
            "the token from a web page",
            http.post(&kill)
                .bearer_auth(&stack.control_token)
                .header("origin", "http://evil.example"),
            403,
        ),
        (
            "the token under a rebinding host name",
            http.post(&kill)
                .bearer_auth(&stack.control_token)
                .header("host", format!("evil.example:{port}")),
            403,
        ),
        (
            "shutdown without the token",
            http.post(format!("http://{}/shutdown", stack.control)),
            401,
        ),
    ];
    for (what, request, status) in cases {
        let response = request.send().await.expect("the control channel answers");
        assert_eq!(response.status().as_u16(), status, "{what}");
    }
    let after = control.status("node-exporter").await.expect("status");
    assert_eq!(after.pid, before.pid, "a refused request changed nothing");
    assert_eq!(after.state, ProcessState::Running);
    let listed = http
        .get(format!("http://{}/processes", stack.control))
        .bearer_auth(&stack.control_token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status().as_u16(), 200);
}
