//! The live socket survives a Redis crash: the subscriber reconnects with backoff, sockets get a
//! fresh snapshot (changes may have been missed), and pushes resume. A binary of its own, since
//! killing the shared Redis would disturb the other tests.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, shared_stack, spawn_app};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn live_pushes_resume_after_redis_is_killed() {
    let app = spawn_app(&[]).await;
    app.add_live(4, "Argentina", "France", "3-3", 1).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/api/live/ws", app.ws_base))
        .await
        .expect("the live socket opens");
    let first = next_json(&mut ws, Duration::from_secs(2)).await.unwrap();
    assert_eq!(first["type"], "snapshot");

    let stack = shared_stack();
    stack.supervisor.kill("redis").await.expect("kill redis");
    let url = format!("redis://{}", stack.ports.addr("redis"));
    let mut conn = eventually(Duration::from_secs(20), "redis is back", || {
        let url = url.clone();
        async move {
            let client = redis::Client::open(url).map_err(|e| e.to_string())?;
            let mut c = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())?;
            let _: String = redis::cmd("PING")
                .query_async(&mut c)
                .await
                .map_err(|e| e.to_string())?;
            Ok(c)
        }
    })
    .await;

    // Whatever Redis kept, one more prediction must show up in a push or a snapshot.
    let started = Instant::now();
    let mut seen_snapshot = false;
    loop {
        let _: i64 = redis::cmd("HINCRBY")
            .arg(app.keys.match_counts("4:Argentina:France"))
            .arg("1-0")
            .arg(1)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::pipe()
            .cmd("SADD")
            .arg(app.keys.phase_matches(4))
            .arg("4:Argentina:France")
            .ignore()
            .cmd("SADD")
            .arg(app.keys.phases())
            .arg("4")
            .ignore()
            .cmd("PUBLISH")
            .arg(app.keys.changes_channel())
            .arg(r#"["4:Argentina:France"]"#)
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
        if let Some(m) = next_json(&mut ws, Duration::from_millis(500)).await {
            seen_snapshot |= m["type"] == "snapshot";
            if m["type"] == "live" {
                assert!(seen_snapshot, "a resubscribed socket first gets a snapshot");
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no push after Redis came back (snapshot seen: {seen_snapshot})"
        );
    }
}

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}
