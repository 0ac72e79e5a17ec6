//! One Redis connection that heals itself, for every service that talks to Redis (live-store
//! writes through it, read-api reads through it).
//!
//! redis's own `ConnectionManager` was seen to hang every call after Redis restarted; this one
//! cannot: each call is bounded by a timeout, and any error or timeout drops the connection so the
//! next call makes a fresh one. A service therefore starts while Redis is down (not ready) and
//! recovers on its own when Redis returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::RedisResult;
use tokio::sync::Mutex;

/// Why a call through [`Reconnecting`] failed. Either way the connection was dropped.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
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

    /// [`Reconnecting::new`] from a `redis://` URL; fails only if the URL is malformed.
    pub fn open(url: &str, timeout: Duration) -> RedisResult<Self> {
        Ok(Self::new(redis::Client::open(url)?, timeout))
    }

    /// The client, for what needs a connection of its own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The bound on every call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        // Held while connecting, so concurrent callers wait for one connection, not make many.
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `call` on the shared connection within the timeout; on failure, drops the
    /// connection so that the next call reconnects (after a Redis restart the old one is dead).
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let attempt = async { call(self.connection().await?).await };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(answer) => answer.map_err(CallError::from),
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
        let redis = Reconnecting::open("redis://127.0.0.1:1", Duration::from_millis(500)).unwrap();
        let started = std::time::Instant::now();
        assert!(redis.ping().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(redis.connection.lock().await.is_none());
    }
}
