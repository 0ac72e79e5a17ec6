//! Redis over `maxmemory` (issue 15 M2): live-store's script is refused up front, so nothing of
//! the batch is written, live-forwarder is told UNAVAILABLE (it retries; nothing is lost), and
//! once memory is back the same batch counts. A test binary of its own: it fills this binary's
//! Redis for everyone.

mod common;

use common::{at, spawn_app};

#[tokio::test]
async fn a_full_redis_refuses_the_whole_batch_up_front() {
    let app = spawn_app().await;
    let mut conn = app.redis.clone();
    let config = |key: &'static str, value: &'static str| {
        let mut conn = conn.clone();
        async move {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg(key)
                .arg(value)
                .query_async(&mut conn)
                .await
                .expect("CONFIG SET");
        }
    };
    config("maxmemory-policy", "noeviction").await;
    // Any Redis holds more than 1 byte: from now on it is out of memory.
    config("maxmemory", "1").await;
    let status = app.apply(vec![at(0, "a"), at(1, "b")]).await.unwrap_err();
    config("maxmemory", "0").await;
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("OOM"), "{status:?}");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.keys.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "written while out of memory: {keys:?}");

    let answer = app.apply(vec![at(0, "a"), at(1, "b")]).await.unwrap();
    assert_eq!((answer.applied, answer.duplicates), (2, 0));
}
