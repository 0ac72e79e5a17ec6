//! Readiness probes that ask each server the question a client would: "really ready" means Kafka
//! answers metadata, MongoDB answers ping, Redis answers PING, PostgreSQL accepts a session, HTTP
//! servers answer 2xx.

use std::time::Duration;

use kafka_access::acl::Grant;
use kafka_access::KafkaAccess;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// How to tell that a process is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Ready as soon as it is started.
    None,
    /// A TCP connect succeeds.
    Tcp(String),
    /// GET `url` answers 2xx.
    Http(String),
    /// PING answers PONG at `redis://...`.
    Redis(String),
    /// `ping` succeeds at a `mongodb://...` URI.
    Mongo(String),
    /// A metadata request gets at least one broker, as `access`'s user; then `grants` are made
    /// (one that exists is left as it is). A fresh broker has no ACLs, and the services start
    /// only once it is ready, so none of them meets a broker that refuses it for want of one.
    Kafka {
        access: KafkaAccess,
        grants: Vec<Grant>,
    },
    /// PostgreSQL at `addr` (`host:port`) accepts a session for the user `postgres` (it
    /// listens, but refuses sessions, while it recovers at start); then `then` runs in it and
    /// must succeed (DocumentDB's extension is created this way, once the server is up).
    Postgres { addr: String, then: Option<String> },
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

impl Probe {
    /// One attempt; `Err` says what the server answered, for the runner's log.
    pub async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, self.check_inner()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
        }
    }

    async fn check_inner(&self) -> Result<(), String> {
        match self {
            Probe::None => Ok(()),
            Probe::Tcp(addr) => tokio::net::TcpStream::connect(addr)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Probe::Http(url) => {
                let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("{url} answered {}", response.status()))
                }
            }
            Probe::Redis(url) => {
                let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
                let mut conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())?;
                let pong: String = redis::cmd("PING")
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                (pong == "PONG")
                    .then_some(())
                    .ok_or_else(|| format!("PING answered {pong:?}"))
            }
            Probe::Mongo(uri) => {
                let client = mongodb::Client::with_uri_str(uri)
                    .await
                    .map_err(|e| e.to_string())?;
                let result = client
                    .database("admin")
                    .run_command(mongodb::bson::doc! {"ping": 1})
                    .await
                    .map_err(|e| e.to_string());
                // Dropping a client spawns its cleanup; shut it down here so probes leak nothing.
                client.shutdown().await;
                result.map(drop)
            }
            Probe::Postgres { addr, then } => postgres_session(addr, then.as_deref()).await,
            Probe::Kafka { access, grants } => {
                let (access, grants) = (access.clone(), grants.clone());
                tokio::task::spawn_blocking(move || {
                    kafka_metadata(&access)?;
                    kafka_access::acl::grant(&access, &grants, Duration::from_secs(2))
                })
                .await
                .map_err(|e| e.to_string())?
            }
        }
    }
}

fn kafka_metadata(access: &KafkaAccess) -> Result<(), String> {
    let consumer: BaseConsumer = access
        .client()
        .set("socket.timeout.ms", "2000")
        .set("log_level", "0")
        .create()
        .map_err(|e| e.to_string())?;
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    if metadata.brokers().is_empty() {
        Err("metadata lists no broker".into())
    } else {
        Ok(())
    }
}

/// PostgreSQL's startup handshake by hand (protocol 3.0), so the probe needs no client library:
/// the server answers `R` (authentication: it takes sessions) or `E` (an error, such as "the
/// database system is starting up").
async fn postgres_session(addr: &str, sql: Option<&str>) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let params = b"user\0postgres\0database\0postgres\0\0";
    let mut startup = Vec::with_capacity(8 + params.len());
    startup.extend_from_slice(&((8 + params.len()) as i32).to_be_bytes());
    startup.extend_from_slice(&196_608_i32.to_be_bytes()); // protocol 3.0
    startup.extend_from_slice(params);
    let io = |e: std::io::Error| e.to_string();
    stream.write_all(&startup).await.map_err(io)?;
    // Trust authentication: AuthenticationOk, parameters, then ReadyForQuery ('Z'), or an
    // error while the server starts or recovers.
    pg_until_ready(&mut stream)
        .await
        .map_err(|e| format!("PostgreSQL refused a session: {e}"))?;
    if let Some(sql) = sql {
        let mut query = vec![b'Q'];
        query.extend_from_slice(&((4 + sql.len() + 1) as i32).to_be_bytes());
        query.extend_from_slice(sql.as_bytes());
        query.push(0);
        stream.write_all(&query).await.map_err(io)?;
        pg_until_ready(&mut stream)
            .await
            .map_err(|e| format!("PostgreSQL refused `{sql}`: {e}"))?;
    }
    // Terminate, so the server logs no "unexpected EOF" for every probe.
    let _ = stream.write_all(&[b'X', 0, 0, 0, 4]).await;
    Ok(())
}

/// Reads PostgreSQL's messages up to ReadyForQuery; the first ErrorResponse's message is the
/// error (the server still sends ReadyForQuery after a failed query, or closes at startup).
async fn pg_until_ready(stream: &mut tokio::net::TcpStream) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut error = None;
    loop {
        let mut head = [0u8; 5];
        if let Err(e) = stream.read_exact(&mut head).await {
            return Err(error.unwrap_or_else(|| e.to_string()));
        }
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if !(4..=1 << 24).contains(&len) {
            return Err(format!(
                "not PostgreSQL's answer (message {:#04x})",
                head[0]
            ));
        }
        let mut body = vec![0u8; len as usize - 4];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        match head[0] {
            // NUL-terminated fields, each behind a one-letter code; `M` is the message.
            b'E' if error.is_none() => {
                error = Some(
                    body.split(|b| *b == 0)
                        .find_map(|f| f.strip_prefix(b"M"))
                        .map(|m| String::from_utf8_lossy(m).into_owned())
                        .unwrap_or_else(|| "an error".into()),
                )
            }
            b'Z' => return error.map_or(Ok(()), Err),
            _ => {}
        }
    }
}
