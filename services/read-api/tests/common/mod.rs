//! What read-api's tests share: one real Redis and FerretDB per test binary (from the stack
//! runner, on ports the kernel picked), a running read-api per test with its own key prefix and
//! database, seeding helpers and "eventually".

#![allow(dead_code)] // each test uses its own part of this module

use std::collections::HashMap;

use model::RedisKeys;
use mongodb::bson::{doc, Bson, DateTime, Document};
use read_api::configuration::Settings;
use read_api::startup::Application;
use tokio_util::sync::CancellationToken;

#[allow(unused_imports)] // not every test binary waits
pub use testkit::{eventually, unique, TestStack as SharedStack};

fn redis_url(stack: &SharedStack) -> String {
    format!("redis://{}", stack.ports.addr("redis"))
}

testkit::shared_stack!(
    /// Redis and FerretDB, started once per test binary (see the `testkit` crate).
    pub fn shared_stack("redis", "ferretdb"));

/// A running read-api with its own prefix and database, and clients to seed them.
pub struct TestApp {
    pub base: String,
    pub ws_base: String,
    pub admin: String,
    /// The Redis keys under this test's own prefix.
    pub keys: RedisKeys,
    pub redis: redis::aio::MultiplexedConnection,
    pub db: mongodb::Database,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub settings: Settings,
    /// The server task; it ends after `shutdown` is cancelled.
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn settings(extra: &[(&str, &str)]) -> (Settings, String, String) {
    let stack = shared_stack();
    let prefix = format!("{}:", unique("readapi"));
    let db = unique("readapi");
    let mut env: HashMap<String, String> = [
        ("USACTAR_LISTEN", "127.0.0.1:0".to_string()),
        ("USACTAR_ADMIN_LISTEN", "127.0.0.1:0".to_string()),
        ("USACTAR_REDIS_URL", redis_url(stack)),
        ("USACTAR_REDIS_PREFIX", prefix.clone()),
        ("USACTAR_MONGO_URI", stack::local::mongo_uri(&stack.ports)),
        ("USACTAR_MONGO_DB", db.clone()),
        // Tests stop their read-api often; the L1 test sets its own delay.
        ("USACTAR_SHUTDOWN_DELAY", "0s".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    (
        Settings::from_env(&env).expect("valid settings"),
        prefix,
        db,
    )
}

pub async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    service_kit::telemetry::init_for_tests("read-api");
    let (settings, prefix, db_name) = settings(extra);
    let shutdown = CancellationToken::new();
    let app = Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("read-api builds");
    let (port, admin_port) = (app.port(), app.admin_port());
    let server = tokio::spawn(app.run_until_stopped());
    let redis = redis::Client::open(settings.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers");
    let db = mongodb::Client::with_uri_str(&settings.mongo_uri)
        .await
        .expect("a mongodb client")
        .database(&db_name);
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        ws_base: format!("ws://127.0.0.1:{port}"),
        admin: format!("http://127.0.0.1:{admin_port}"),
        keys: RedisKeys::new(prefix),
        redis,
        db,
        http: reqwest::Client::new(),
        shutdown,
        settings,
        server,
    }
}

impl TestApp {
    /// Writes what live-store would for `count` predictions of `score` in a match: the hash
    /// field, the match total, both sets and the grand total.
    pub async fn add_live(&self, phase: u8, team1: &str, team2: &str, score: &str, count: u64) {
        let id = format!("{phase}:{team1}:{team2}");
        let keys = &self.keys;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HINCRBY")
            .arg(keys.match_counts(&id))
            .arg(score)
            .arg(count)
            .cmd("HINCRBY")
            .arg(keys.match_totals())
            .arg(&id)
            .arg(count)
            .cmd("SADD")
            .arg(keys.phase_matches(phase))
            .arg(&id)
            .cmd("SADD")
            .arg(keys.phases())
            .arg(phase.to_string())
            .cmd("INCRBY")
            .arg(keys.total())
            .arg(count);
        let mut conn = self.redis.clone();
        let _: () = pipe.query_async(&mut conn).await.expect("seed redis");
    }

    /// Announces changed matches, as live-store does after a batch.
    pub async fn publish(&self, ids: &[&str]) {
        let mut conn = self.redis.clone();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(self.keys.changes_channel())
            .arg(serde_json::to_string(ids).unwrap())
            .query_async(&mut conn)
            .await
            .expect("publish");
    }

    /// Inserts logs as logs-writer would, counting them in `log_totals` as it does; `at_ms`
    /// makes ids (UUIDv7) and received_at.
    pub async fn add_logs(&self, logs: &[(u64, u8, &str, &str, &str)]) -> Vec<String> {
        let mut ids = Vec::new();
        let docs: Vec<_> = logs
            .iter()
            .enumerate()
            .map(|(i, (at_ms, phase, team1, team2, score))| {
                let ts = uuid::Timestamp::from_unix(
                    uuid::NoContext,
                    at_ms / 1000,
                    ((at_ms % 1000) * 1_000_000) as u32,
                );
                let id = uuid::Uuid::new_v7(ts).hyphenated().to_string();
                ids.push(id.clone());
                doc! {
                    "_id": id,
                    "team1": *team1,
                    "team2": *team2,
                    "score": *score,
                    "phase": i32::from(*phase),
                    "received_at": DateTime::from_millis(*at_ms as i64),
                    "logged_at": DateTime::from_millis(*at_ms as i64 + 40),
                    "kafka": {"partition": (i % 3) as i32, "offset": i as i64},
                }
            })
            .collect();
        self.db
            .collection::<mongodb::bson::Document>(model::log_layout::LOGS)
            .insert_many(docs)
            .await
            .expect("seed mongodb");
        for partition in 0..3 {
            let counted: Vec<(u8, &str, &str)> = logs
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 3 == partition)
                .map(|(_, (_, phase, team1, team2, _))| (*phase, *team1, *team2))
                .collect();
            self.count_logs_by_filter(partition as i32, &counted).await;
        }
        ids
    }

    /// Adds seeded logs (phase, team1, team2) to `partition`'s counts in `log_totals`, also per
    /// filter, as logs-writer counts a log of the fixture list.
    pub async fn count_logs_by_filter(&self, partition: i32, logs: &[(u8, &str, &str)]) {
        let mut counts = model::log_layout::Counts::default();
        for (phase, team1, team2) in logs {
            counts.add(i32::from(*phase), team1, team2);
        }
        let inc: Document = counts
            .increments()
            .map(|(field, n)| (field, Bson::Int64(n)))
            .collect();
        self.db
            .collection::<mongodb::bson::Document>(model::log_layout::LOG_TOTALS)
            .update_one(
                doc! {"_id": model::log_layout::log_totals_id(partition)},
                doc! {"$inc": inc},
            )
            .upsert(true)
            .await
            .expect("count the seeded logs");
    }

    /// Adds `n` seeded logs to `partition`'s count in `log_totals` and to no count per filter,
    /// as logs-writer counts a log outside the fixture list (or an older logs-writer counted
    /// every log): filtered totals are then counted from the collection.
    pub async fn count_logs(&self, partition: i32, n: usize) {
        self.db
            .collection::<mongodb::bson::Document>(model::log_layout::LOG_TOTALS)
            .update_one(
                doc! {"_id": model::log_layout::log_totals_id(partition)},
                doc! {"$inc": {"documents": n as i64}},
            )
            .upsert(true)
            .await
            .expect("count the seeded logs");
    }

    /// read-api's `/metrics`, as text.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A counter or gauge without labels from read-api's `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics_text().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("read-api answers");
        let status = r.status().as_u16();
        (status, r.json().await.expect("a JSON body"))
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An exclusive lock on the table DocumentDB keeps `db`'s `logs` in, held for `hold` by a psql
/// session of its own: every query of the collection waits meanwhile, as on a store too slow to
/// answer, so only the server's own limit (maxTimeMS, DocumentDB's statement timeout) ends it.
/// Returns once the lock is taken; the session ends by itself after `hold` (or when killed).
#[allow(dead_code)] // not every test binary holds the store
pub fn lock_logs_table(db: &str, hold: std::time::Duration) -> std::process::Child {
    use std::io::{BufRead, Write};
    let pg = shared_stack().ports.addr("postgresql");
    let (host, port) = pg.rsplit_once(':').expect("host:port");
    // Debian's psql beside the server the stack runs (its /usr/bin/psql wrapper wants a
    // cluster of Debian's own).
    let psql = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Debian's PostgreSQL in /usr/lib/postgresql")
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .filter(|p| p.exists())
        .max()
        .expect("psql in /usr/lib/postgresql/<major>/bin");
    let mut child = std::process::Command::new(psql)
        .args(["-h", host, "-p", port, "-U", "postgres", "-d", "postgres"])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("psql starts");
    let script = format!(
        "BEGIN;\n\
         SELECT format('LOCK TABLE documentdb_data.documents_%s IN ACCESS EXCLUSIVE MODE', \
         collection_id) FROM documentdb_api_catalog.collections \
         WHERE database_name = '{db}' AND collection_name = 'logs' \\gexec\n\
         SELECT 'locked';\n\
         SELECT pg_sleep({});\n\
         COMMIT;\n",
        hold.as_secs_f64()
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if line.expect("psql's output").contains("locked") {
            return child;
        }
    }
    panic!("psql ended before locking {db}.logs: {:?}", child.wait());
}
