//! Readiness probes that ask each server the question a client would: "really ready" means Kafka
//! answers metadata, MongoDB answers ping, Redis answers PING, HTTP servers answer 2xx.

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
