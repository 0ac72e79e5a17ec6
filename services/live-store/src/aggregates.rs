//! The live aggregates in Redis (hashes and sets, as the seed asks; the layout is
//! [`model::redis_keys`]), changed only by one Lua script per batch. The script runs atomically,
//! so a reader never sees half a batch and two live-store replicas cannot race on a
//! read-modify-write. Every key it touches is built by [`RedisKeys`] and passed in KEYS.

use std::time::Duration;

use model::{MatchKey, Prediction, RedisKeys};
use service_kit::redis::{CallError, Reconnecting};

/// Exactly-once counting on bounded state (issue 15 H2), checked before anything is written
/// (M2). A prediction counts when both hold:
/// - its Kafka offset is above the highest applied for its partition (the `offsets` hash, one
///   field per partition: a replay, however late, is below it);
/// - its id is not among the `window` most recently counted (the `recent-ids` sorted set, by
///   received time): a client's retry with an `Idempotency-Key` is new records with the same ids.
///
/// The script first judges every prediction and checks that every key it will write holds its
/// type and every counter an integer, writing nothing; only then writes. So an error can only
/// come before the first write, never half-way. The `#!lua` line (no `allow-oom` flag) makes
/// Redis refuse the whole script up front when it is over `maxmemory`, instead of failing at the
/// first write that needs memory.
///
/// KEYS: the match totals, the phases set, the grand total, the offsets, the recent ids; then two
/// per prediction: its match hash, its phase's set of matches.
/// ARGV: the changes channel, the window; then seven per prediction: id, match id, phase, score,
/// received-at ms, source (`{topic}:{partition}`, or empty when the sender gave no position),
/// offset (empty without a source). Returns {applied, duplicates}.
const APPLY_BATCH: &str = r#"#!lua
local totals, phases, total, offsets, recent = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local channel, window = ARGV[1], tonumber(ARGV[2])
local n = (#KEYS - 5) / 2

local function holds(key, kind)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= kind then
    error({err = 'WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a ' .. kind})
  end
end
local function integer(value, key)
  if value and not tonumber(value) then
    error({err = 'NOTINTEGER ' .. key .. ' holds ' .. tostring(value)})
  end
end

-- Check: judge every prediction, and make sure every write below will succeed. Each key (and
-- each counter) is checked once per batch, however many predictions it holds.
holds(totals, 'hash'); holds(phases, 'set'); holds(total, 'string')
holds(offsets, 'hash'); holds(recent, 'zset')
integer(redis.call('GET', total), total)
local fresh, high, high_text, ids, checked = {}, {}, {}, {}, {}
for i = 0, n - 1 do
  local a = 3 + 7 * i
  local id, match, score, source, offset = ARGV[a], ARGV[a + 1], ARGV[a + 3], ARGV[a + 5], ARGV[a + 6]
  local counts = true
  if source ~= '' then
    if high[source] == nil then
      local stored = redis.call('HGET', offsets, source)
      integer(stored, offsets)
      high[source] = tonumber(stored or '-1')
    end
    local o = tonumber(offset)
    if o <= high[source] then
      counts = false
    else
      high[source], high_text[source] = o, offset
    end
  end
  if counts and (ids[id] or redis.call('ZSCORE', recent, id)) then
    counts = false
  end
  ids[id] = true
  if counts then
    local match_counts, phase_matches = KEYS[6 + 2 * i], KEYS[7 + 2 * i]
    if not checked[match_counts] then
      checked[match_counts] = true
      holds(match_counts, 'hash')
    end
    if not checked[phase_matches] then
      checked[phase_matches] = true
      holds(phase_matches, 'set')
    end
    local field = match_counts .. '\n' .. score
    if not checked[field] then
      checked[field] = true
      integer(redis.call('HGET', match_counts, score), match_counts)
    end
    if not checked['\n' .. match] then
      checked['\n' .. match] = true
      integer(redis.call('HGET', totals, match), totals)
    end
    fresh[#fresh + 1] = i
  end
end

-- Write: one increment per counter with the batch's sum (at 10,000 predictions/s a batch holds
-- hundreds of predictions for a few dozen matches), the recent ids in few ZADDs.
local changed, by_match, by_field, fields, recent_args = {}, {}, {}, {}, {}
for _, i in ipairs(fresh) do
  local a = 3 + 7 * i
  local id, match, phase, score, received = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local match_counts = KEYS[6 + 2 * i]
  local field = match_counts .. '\n' .. score
  if not by_field[field] then
    by_field[field] = {match_counts, score, 0}
    fields[#fields + 1] = field
  end
  by_field[field][3] = by_field[field][3] + 1
  if not by_match[match] then
    by_match[match] = {KEYS[7 + 2 * i], phase, 0}
    changed[#changed + 1] = match
  end
  by_match[match][3] = by_match[match][3] + 1
  recent_args[#recent_args + 1] = received
  recent_args[#recent_args + 1] = id
end
for _, field in ipairs(fields) do
  local f = by_field[field]
  redis.call('HINCRBY', f[1], f[2], f[3])
end
for _, match in ipairs(changed) do
  local m = by_match[match]
  redis.call('HINCRBY', totals, match, m[3])
  redis.call('SADD', m[1], match)
  redis.call('SADD', phases, m[2])
end
-- unpack() takes a few thousand values at most: 500 ids (1,000 values) per ZADD.
for first = 1, #recent_args, 1000 do
  redis.call('ZADD', recent, unpack(recent_args, first, math.min(first + 999, #recent_args)))
end
for source, offset in pairs(high_text) do
  redis.call('HSET', offsets, source, offset)
end
if #fresh > 0 then
  redis.call('INCRBY', total, #fresh)
  redis.call('ZREMRANGEBYRANK', recent, 0, -(window + 1))
  redis.call('PUBLISH', channel, cjson.encode(changed))
end
return {#fresh, n - #fresh}
"#;

/// Where a prediction was read: its Kafka partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub partition: i32,
    pub offset: i64,
}

/// A prediction that passed validation at the gRPC boundary, with the id it is counted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countable {
    pub id: String,
    pub prediction: Prediction,
    pub received_at_ms: i64,
    /// `None` from senders that predate positions: de-duplicated by id only.
    pub position: Option<Position>,
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
    dedup_window: u64,
}

impl Aggregates {
    /// `dedup_window`: how many of the most recently counted ids are remembered.
    pub fn new(redis: Reconnecting, keys: RedisKeys, dedup_window: u64) -> Self {
        Aggregates {
            redis,
            script: redis::Script::new(APPLY_BATCH),
            keys,
            dedup_window,
        }
    }

    /// Applies a batch read from `topic` in one atomic script call.
    pub async fn apply(&self, topic: &str, batch: &[Countable]) -> Result<Applied, CallError> {
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
            .key(keys.applied_offsets())
            .key(keys.recent_ids())
            .arg(keys.changes_channel())
            .arg(self.dedup_window);
        for Countable {
            id,
            prediction: p,
            received_at_ms,
            position,
        } in batch
        {
            let match_key = MatchKey {
                phase: p.phase,
                team1: p.team1.clone(),
                team2: p.team2.clone(),
            };
            let (source, offset) = match position {
                Some(Position { partition, offset }) => {
                    (format!("{topic}:{partition}"), offset.to_string())
                }
                None => (String::new(), String::new()),
            };
            invocation
                .key(keys.match_counts_of(&match_key))
                .key(keys.phase_matches(p.phase))
                .arg(id)
                .arg(match_key.id())
                .arg(p.phase)
                .arg(&p.score)
                .arg(received_at_ms)
                .arg(source)
                .arg(offset);
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
