//! The live aggregates in Redis (hashes and sets, as the seed asks; the layout is
//! [`model::redis_keys`]), changed only by one Lua script per batch. The script runs atomically,
//! so a reader never sees half a batch and two live-store replicas cannot race on a
//! read-modify-write. Every key it touches is built by [`RedisKeys`] and passed in KEYS.

use std::time::Duration;

use model::{MatchKey, Prediction, RedisKeys};
use service_kit::redis::{CallError, Reconnecting};

/// KEYS: the match totals, the phases set, the grand total; then three per prediction: its seen
/// key, its match hash, its phase's set of matches.
/// ARGV: seen TTL in seconds, the changes channel; then three per prediction: match id, phase,
/// score. Returns {applied, duplicates}.
const APPLY_BATCH: &str = r#"
local totals, phases, total = KEYS[1], KEYS[2], KEYS[3]
local ttl, channel = tonumber(ARGV[1]), ARGV[2]
local applied, duplicates = 0, 0
local changed, seen_match = {}, {}
for i = 0, (#KEYS - 3) / 3 - 1 do
  local seen, counts, phase_matches = KEYS[4 + 3 * i], KEYS[5 + 3 * i], KEYS[6 + 3 * i]
  local match, phase, score = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  if redis.call('SET', seen, '1', 'NX', 'EX', ttl) then
    redis.call('HINCRBY', counts, score, 1)
    redis.call('HINCRBY', totals, match, 1)
    redis.call('SADD', phase_matches, match)
    redis.call('SADD', phases, phase)
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
  redis.call('INCRBY', total, applied)
  redis.call('PUBLISH', channel, cjson.encode(changed))
end
return {applied, duplicates}
"#;

/// A prediction that passed validation at the gRPC boundary, with the id it is counted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countable {
    pub id: String,
    pub prediction: Prediction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub applied: u32,
    pub duplicates: u32,
}

/// Every Redis call is bounded by this; a call that takes longer is treated as a lost
/// connection, and the caller (live-forwarder) retries.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Aggregates {
    redis: Reconnecting,
    script: redis::Script,
    keys: RedisKeys,
    seen_ttl_secs: u64,
}

impl Aggregates {
    pub fn new(redis: Reconnecting, keys: RedisKeys, seen_ttl_secs: u64) -> Self {
        Aggregates {
            redis,
            script: redis::Script::new(APPLY_BATCH),
            keys,
            seen_ttl_secs,
        }
    }

    /// Applies a batch in one atomic script call.
    pub async fn apply(&self, batch: &[Countable]) -> Result<Applied, CallError> {
        if batch.is_empty() {
            return Ok(Applied {
                applied: 0,
                duplicates: 0,
            });
        }
        let keys = &self.keys;
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(keys.match_totals())
            .key(keys.phases())
            .key(keys.total())
            .arg(self.seen_ttl_secs)
            .arg(keys.changes_channel());
        for Countable { id, prediction: p } in batch {
            let match_key = MatchKey {
                phase: p.phase,
                team1: p.team1.clone(),
                team2: p.team2.clone(),
            };
            invocation
                .key(keys.seen(id))
                .key(keys.match_counts_of(&match_key))
                .key(keys.phase_matches(p.phase))
                .arg(match_key.id())
                .arg(p.phase)
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

    pub async fn ping(&self) -> Result<(), CallError> {
        self.redis.ping().await
    }
}
