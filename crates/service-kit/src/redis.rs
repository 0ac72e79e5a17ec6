//! One Redis connection that heals itself, for every service that talks to Redis (live-store
//! writes through it, read-api reads through it).
//!
//! redis's own `ConnectionManager` was seen to hang every call after Redis restarted; this one
//! cannot: each call is bounded by a timeout, and any error or timeout drops the connection so the
//! next call makes a fresh one. A service therefore starts while Redis is down (not ready) and
//! recovers on its own when Redis returns.
//!
//! `rediss://` URLs speak TLS (Azure Cache for Redis listens on 6380 with TLS only), trusting
//! Mozilla's roots, or only a private CA when one is given (`USACTAR_REDIS_CA_FILE`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{ErrorKind, RedisError, RedisResult, TlsCertificates};
use tokio::sync::Mutex;

/// `USACTAR_REDIS_CA_FILE`, read the same way by every service that talks to Redis: the PEM CA
/// for [`Reconnecting::open`]; unset or blank means the built-in public roots.
pub fn ca_file_setting(env: &impl crate::config::Env) -> Option<PathBuf> {
    env.get("USACTAR_REDIS_CA_FILE")
        .filter(|path| !path.trim().is_empty())
        .map(PathBuf::from)
}

/// Why a call through [`Reconnecting`] failed. Either way the connection was dropped.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    /// A plain `redis://` connection that the server closed or answered in gibberish while it
    /// was being set up: what a TLS-only port does to plain text.
    #[error(
        "{0} (the server broke off a plain redis:// connection: if it speaks TLS only, as \
         Azure Cache for Redis does on 6380, use a rediss:// URL)"
    )]
    PlainRefusedByTls(redis::RedisError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// A multiplexed connection made on first use and made again after any failure. Cheap to clone;
/// clones share the connection.
#[derive(Clone)]
pub struct Reconnecting {
    client: redis::Client,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
    timeout: Duration,
}

impl Reconnecting {
    /// Opens nothing yet (Redis may be down at start): the first call connects. `timeout`
    /// bounds every call, connecting included.
    pub fn new(client: redis::Client, timeout: Duration) -> Self {
        Reconnecting {
            client,
            connection: Arc::new(Mutex::new(None)),
            timeout,
        }
    }

    /// [`Reconnecting::new`] from a `redis://` or `rediss://` (TLS) URL. `ca_file`, a PEM file,
    /// replaces the built-in roots for TLS (a server with a private CA). Fails, without
    /// connecting, if the URL is malformed, the CA file unreadable or not PEM, or a CA file comes
    /// with a plain `redis://` URL.
    pub fn open(url: &str, ca_file: Option<&Path>, timeout: Duration) -> RedisResult<Self> {
        let client = match ca_file {
            None => redis::Client::open(url)?,
            Some(path) => {
                let root_cert = std::fs::read(path).map_err(|err| {
                    RedisError::from((
                        ErrorKind::InvalidClientConfig,
                        "cannot read the Redis CA file",
                        format!("{}: {err}", path.display()),
                    ))
                })?;
                // Without this a file of anything else makes an empty trust store, and every
                // connect fails later with an unknown issuer instead of naming the file now.
                if !String::from_utf8_lossy(&root_cert).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(RedisError::from((
                        ErrorKind::InvalidClientConfig,
                        "the Redis CA file holds no PEM certificate",
                        path.display().to_string(),
                    )));
                }
                let certificates = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                redis::Client::build_with_tls(url, certificates)?
            }
        };
        if matches!(
            client.get_connection_info().addr,
            redis::ConnectionAddr::TcpTls { .. }
        ) {
            // redis asks rustls for the process's default crypto provider. A build of the whole
            // workspace compiles in both ring and aws-lc-rs (goose's reqwest brings the latter),
            // and then rustls cannot choose and panics at the first TLS connect. Installing ring
            // (what kube and mongodb use here) settles it; an error only means one is set.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(Self::new(client, timeout))
    }

    /// The client, for what needs a connection of its own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The bound on every call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn connection(&self) -> Result<MultiplexedConnection, CallError> {
        // Held while connecting, so concurrent callers wait for one connection, not make many.
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|error| self.connect_error(error))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// A refused connect means nothing listens; but a plain connection accepted and then cut
    /// or answered with garbage during setup is most likely a TLS port: say so.
    fn connect_error(&self, error: redis::RedisError) -> CallError {
        let plain = matches!(
            self.client.get_connection_info().addr,
            redis::ConnectionAddr::Tcp(..)
        );
        let broken_off = !error.is_connection_refusal()
            && (error.is_io_error()
                || error.is_connection_dropped()
                || error.kind() == ErrorKind::ParseError);
        if plain && broken_off {
            CallError::PlainRefusedByTls(error)
        } else {
            CallError::Redis(error)
        }
    }

    /// Runs `call` on the shared connection within the timeout; on failure, drops the
    /// connection so that the next call reconnects (after a Redis restart the old one is dead).
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let attempt = async { Ok(call(self.connection().await?).await?) };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(answer) => answer,
            Err(_) => Err(CallError::Timeout(self.timeout)),
        };
        if result.is_err() {
            *self.connection.lock().await = None;
        }
        result
    }

    /// `PING`: whether Redis answers now.
    pub async fn ping(&self) -> Result<(), CallError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_fails_within_the_timeout() {
        // Port 1 is reserved and closed here: the connect is refused (or times out), never hangs.
        let redis =
            Reconnecting::open("redis://127.0.0.1:1", None, Duration::from_millis(500)).unwrap();
        let started = std::time::Instant::now();
        assert!(redis.ping().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(redis.connection.lock().await.is_none());
    }
}
