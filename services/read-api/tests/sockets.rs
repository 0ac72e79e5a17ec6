//! The sockets' limits against real Redis and FerretDB (issue 15): inbound size, how many may
//! be open, which origins, and how often a socket makes read-api read a snapshot.

mod common;

use std::time::Duration;

use common::{spawn_app, TestApp};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket with an optional Origin; Err is the HTTP status of a refusal.
async fn open(app: &TestApp, path: &str, origin: Option<&str>) -> Result<Ws, u16> {
    let mut req = format!("{}{path}", app.ws_base)
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("read-api did not answer the upgrade: {e}"),
    }
}

/// Whether the server ends the socket within `within` (close frame, error or EOF).
async fn closes_within(ws: &mut Ws, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// `calls` of `cmdstat_hgetall` in Redis's INFO commandstats.
async fn hgetall_calls(app: &TestApp) -> u64 {
    let mut c = app.redis.clone();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| {
            l.strip_prefix("cmdstat_hgetall:calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_message_over_the_inbound_limit_closes_the_socket_and_the_server_stays_up() {
    let app = spawn_app(&[]).await;
    let mut ws = open(&app, "/api/live/ws", None).await.expect("opens");
    // A small frame is fine: the socket stays open.
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert!(!closes_within(&mut ws, Duration::from_millis(300)).await);
    // 1 MiB, far under the library's default of 64 MiB and far over read-api's limit.
    let _ = ws.send(Message::Binary(vec![7u8; 1 << 20].into())).await;
    assert!(
        closes_within(&mut ws, Duration::from_secs(5)).await,
        "an oversized message must close the socket"
    );
    let (status, _) = app.get("/api/live").await;
    assert_eq!(status, 200, "the server stays up");
    let mut logs = open(&app, "/api/logs/ws", None).await.expect("opens");
    let _ = logs
        .send(Message::Binary(vec![7u8; 64 * 1024].into()))
        .await;
    assert!(closes_within(&mut logs, Duration::from_secs(5)).await);
    assert!(open(&app, "/api/logs/ws", None).await.is_ok());
}

#[tokio::test]
async fn sockets_past_the_cap_get_503_until_one_closes() {
    let app = spawn_app(&[("USACTAR_MAX_SOCKETS", "2")]).await;
    let first = open(&app, "/api/live/ws", None).await.expect("1st opens");
    let _second = open(&app, "/api/logs/ws", None).await.expect("2nd opens");
    assert_eq!(open(&app, "/api/live/ws", None).await.err(), Some(503));
    assert_eq!(open(&app, "/api/logs/ws", None).await.err(), Some(503));
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = open(&app, "/api/live/ws", None).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed socket frees its slot");
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_allowed_ones_are_not() {
    let app = spawn_app(&[(
        "USACTAR_CORS_ORIGINS",
        "https://front.example, https://other.example",
    )])
    .await;
    for path in ["/api/live/ws", "/api/logs/ws"] {
        assert_eq!(
            open(&app, path, Some("https://evil.example")).await.err(),
            Some(403),
            "{path}"
        );
        assert!(open(&app, path, Some("https://front.example"))
            .await
            .is_ok());
        assert!(open(&app, path, Some("https://other.example"))
            .await
            .is_ok());
        // Same origin as the request (direct access), and no Origin at all (not a browser).
        let same = app.ws_base.replacen("ws://", "http://", 1);
        assert!(open(&app, path, Some(&same)).await.is_ok());
        assert!(open(&app, path, None).await.is_ok());
    }
}

#[tokio::test]
async fn inbound_frames_do_not_restart_snapshot_reads_and_sockets_share_them() {
    // 400 matches of made-up teams: no fixture list, so the snapshot reads what Redis holds.
    let app = spawn_app(&[("USACTAR_FIXTURES", "any")]).await;
    // Enough matches that one snapshot takes a while to read, as in a real tournament's day.
    for i in 0..400 {
        app.add_live(1 + (i % 4) as u8, &format!("Team{i}"), "Rival", "1-0", 1)
            .await;
    }
    let before = app.metric("usactar_live_snapshot_reads_total").await;
    let hgetall_before = hgetall_calls(&app).await;
    let mut ws = open(&app, "/api/live/ws", None).await.expect("opens");
    for _ in 0..200 {
        ws.send(Message::Binary(vec![1u8].into())).await.unwrap();
    }
    let mut others = Vec::new();
    for _ in 0..5 {
        others.push(open(&app, "/api/live/ws", None).await.expect("opens"));
    }
    for w in std::iter::once(&mut ws).chain(others.iter_mut()) {
        let first = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match w.next().await {
                    Some(Ok(Message::Text(t))) => break t,
                    Some(Ok(_)) => continue,
                    other => panic!("socket ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a snapshot within 5 s");
        let m: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!(m["type"], "snapshot", "{m}");
        assert_eq!(m["total"], 400);
    }
    let reads = app.metric("usactar_live_snapshot_reads_total").await - before;
    // Redis's own count: a snapshot of 400 matches is 400 HGETALLs, and no other test of this
    // binary reads a match with data.
    let hgetalls = hgetall_calls(&app).await - hgetall_before;
    println!("snapshot reads for 6 sockets and 200 inbound frames: {reads}; HGETALLs: {hgetalls}");
    assert!(hgetalls <= 2 * 400, "{hgetalls} HGETALLs");
    assert!(
        (1..=2).contains(&reads),
        "{reads} snapshot reads for 6 sockets and 200 inbound frames"
    );
}

#[tokio::test]
async fn cors_origins_star_starts_and_lets_any_origin() {
    let app = spawn_app(&[("USACTAR_CORS_ORIGINS", "*")]).await;
    let r = app
        .http
        .get(format!("{}/api/live", app.base))
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(open(&app, "/api/live/ws", Some("https://anywhere.example"))
        .await
        .is_ok());
}
