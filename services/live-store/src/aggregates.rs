//! The live aggregates in Redis (hashes and sets, as the seed asks), changed only by one Lua
//! script per batch:
//!
//! | key (after the prefix) | type | holds |
//! |---|---|---|
//! | `match:{phase}:{team1}:{team2}` | hash | score → count |
//! | `totals` | hash | match id → total predictions of the match |
//! | `phase:{phase}:matches` | set | match ids of the phase |
//! | `phases` | set | phases that have predictions |
//! | `total` | string | all predictions counted |
//! | `seen:{id}` | string, with a TTL | ids already counted (de-duplication) |
//! | channel `live-changes` | pub/sub | JSON array of the match ids a batch changed |
//!
//! The script runs atomically, so a reader never sees half a batch and two live-store replicas
//! cannot race on a read-modify-write.

use std::sync::Arc;
use std::time::Duration;

use live_proto::v1::Prediction;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

/// ARGV: prefix, seen TTL in seconds, then five values per prediction:
/// id, phase, team1, team2, score. Returns {applied, duplicates}.
const APPLY_BATCH: &str = r#"
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local applied, duplicates = 0, 0
local changed, seen_match = {}, {}
for i = 3, #ARGV, 5 do
  local id, phase, team1, team2, score = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if redis.call('SET', prefix .. 'seen:' .. id, '1', 'NX', 'EX', ttl) then
    local match = phase .. ':' .. team1 .. ':' .. team2
    redis.call('HINCRBY', prefix .. 'match:' .. match, score, 1)
    redis.call('HINCRBY', prefix .. 'totals', match, 1)
    redis.call('SADD', prefix .. 'phase:' .. phase .. ':matches', match)
    redis.call('SADD', prefix .. 'phases', phase)
    applied = applied + 1
    if not seen_match[match] then
      seen_match[match] = true
      changed[#changed + 1] = match
    end
  else
    duplicates = duplicates + 1
  end
end
if applied > 0 then
  redis.call('INCRBY', prefix .. 'total', applied)
  redis.call('PUBLISH', prefix .. 'live-changes', cjson.encode(changed))
end
return {applied, duplicates}
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub applied: u32,
    pub duplicates: u32,
}

/// Every Redis call is bounded by this; a call that takes longer is treated as a lost
/// connection, and the caller (live-forwarder) retries.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Aggregates {
    redis: Redis,
    script: redis::Script,
    prefix: String,
    seen_ttl_secs: u64,
}

/// One multiplexed connection, made again after any error or timeout. (redis's own
/// ConnectionManager was seen to hang every call after Redis restarted; this cannot.)
#[derive(Clone)]
struct Redis {
    client: redis::Client,
    conn: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl Redis {
    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `call` on the connection within [`CALL_TIMEOUT`]; on failure, drops the connection
    /// so the next call makes a fresh one.
    async fn run<T, F, Fut>(&self, call: F) -> redis::RedisResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let result = tokio::time::timeout(CALL_TIMEOUT, async {
            let conn = self.connection().await?;
            call(conn).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "no answer from Redis",
                format!("within {CALL_TIMEOUT:?}"),
            )))
        });
        if result.is_err() {
            *self.conn.lock().await = None;
        }
        result
    }
}

impl Aggregates {
    pub fn new(client: redis::Client, prefix: String, seen_ttl_secs: u64) -> Self {
        Aggregates {
            redis: Redis {
                client,
                conn: Arc::new(Mutex::new(None)),
            },
            script: redis::Script::new(APPLY_BATCH),
            prefix,
            seen_ttl_secs,
        }
    }

    /// Applies a batch in one atomic script call.
    pub async fn apply(&self, predictions: &[Prediction]) -> redis::RedisResult<Applied> {
        if predictions.is_empty() {
            return Ok(Applied {
                applied: 0,
                duplicates: 0,
            });
        }
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(&self.prefix).arg(self.seen_ttl_secs);
        for p in predictions {
            invocation
                .arg(&p.id)
                .arg(p.phase)
                .arg(&p.team1)
                .arg(&p.team2)
                .arg(&p.score);
        }
        let (applied, duplicates): (u32, u32) = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        Ok(Applied {
            applied,
            duplicates,
        })
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        self.redis
            .run(
                |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
            )
            .await
            .map(drop)
    }
}
