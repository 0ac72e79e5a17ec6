//! The live aggregates in Redis, as live-store writes them, under the key layout of
//! [`model::redis_keys`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use model::push::{LiveView, MatchView, PhaseView, ScoreView};
use model::{Fixtures, MatchKey, RedisKeys};
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use serde::Serialize;
use service_kit::redis::{CallError, Reconnecting};

use crate::error::AppError;
use crate::filter::MatchFilter;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveStats {
    pub total: u64,
    /// Predictions per phase, keyed by phase number.
    pub phases: BTreeMap<String, u64>,
    pub matches: usize,
}

/// Matches read in one Redis call at most: a snapshot of many matches is several calls, each
/// bounded, never one reply as large as the store (issue 15 H1).
pub const MATCHES_PER_CALL: usize = 100;
/// Without a fixture list (`USACTAR_FIXTURES=any`), the most matches a snapshot or the stats
/// read; what lies beyond is left out (a page shows at most this many anyway).
pub const MAX_MATCHES_READ: usize = 1_000;

/// Reads the aggregates through one self-healing connection, so read-api starts (not ready)
/// while Redis is down and recovers when it returns.
///
/// Which matches it reads: those of the fixture list, whatever else Redis holds (a producer
/// other than ingest, or data from before the list); with no list, at most
/// [`MAX_MATCHES_READ`] found by SSCAN/HSCAN. Either way in calls of [`MATCHES_PER_CALL`].
#[derive(Clone)]
pub struct LiveReader {
    redis: Reconnecting,
    keys: RedisKeys,
    fixtures: Option<Arc<Fixtures>>,
}

impl LiveReader {
    /// Connects on first use; fails only if the URL or the CA file is bad (see
    /// [`Reconnecting::open`]). `timeout` bounds every call.
    pub fn new(
        url: &str,
        ca_file: Option<&Path>,
        keys: RedisKeys,
        fixtures: Option<Arc<Fixtures>>,
        timeout: Duration,
    ) -> redis::RedisResult<Self> {
        Ok(LiveReader {
            redis: Reconnecting::open(url, ca_file, timeout)?,
            keys,
            fixtures,
        })
    }

    /// The client, for the pub/sub connection of the live hub.
    pub fn client(&self) -> &redis::Client {
        self.redis.client()
    }

    /// The bound on every call.
    pub fn timeout(&self) -> Duration {
        self.redis.timeout()
    }

    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    async fn run<T, F, Fut>(&self, call: F) -> Result<T, AppError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        self.redis.run(call).await.map_err(unavailable)
    }

    pub async fn ping(&self) -> Result<(), AppError> {
        self.redis.ping().await.map_err(unavailable)
    }

    /// The aggregates of every match the filter accepts that has predictions, grouped by phase.
    pub async fn snapshot(&self, filter: &MatchFilter) -> Result<LiveView, AppError> {
        let ids = self.match_ids(filter).await?;
        let (total, matches) = self.matches(&ids).await?;

        let mut by_phase: BTreeMap<u8, PhaseView> = BTreeMap::new();
        for m in matches.into_iter().filter(|m| m.total > 0) {
            let view = by_phase.entry(m.phase).or_insert_with(|| PhaseView {
                phase: m.phase,
                total: 0,
                matches: Vec::new(),
            });
            view.total += m.total;
            view.matches.push(m);
        }
        let mut phases: Vec<PhaseView> = by_phase.into_values().collect();
        for p in &mut phases {
            // Stable order, so a page's match selector does not jump around as counts change.
            p.matches
                .sort_by(|a, b| (&a.team1, &a.team2).cmp(&(&b.team1, &b.team2)));
        }
        Ok(LiveView { total, phases })
    }

    /// The ids of the matches a snapshot reads: the fixture list's that the filter accepts, or
    /// (no list) those the phase sets hold, found by SSCAN, at most [`MAX_MATCHES_READ`].
    async fn match_ids(&self, filter: &MatchFilter) -> Result<Vec<String>, AppError> {
        if let Some(fixtures) = &self.fixtures {
            return Ok(fixtures
                .matches()
                .filter(|k| filter.accepts(k.phase, &k.team1, &k.team2))
                .map(MatchKey::id)
                .collect());
        }
        let phases: Vec<u8> = match filter.phase {
            Some(p) => vec![p],
            None => model::PHASES.collect(),
        };
        let mut ids = Vec::new();
        for phase in phases {
            let key = self.keys.phase_matches(phase);
            let mut cursor = 0u64;
            loop {
                let key = key.clone();
                let (next, found): (u64, Vec<String>) = self
                    .run(|mut c| async move {
                        redis::cmd("SSCAN")
                            .arg(key)
                            .arg(cursor)
                            .arg("COUNT")
                            .arg(MATCHES_PER_CALL)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                ids.extend(found.into_iter().filter(|id| {
                    MatchKey::parse(id).is_some_and(|k| filter.accepts(k.phase, &k.team1, &k.team2))
                }));
                if ids.len() >= MAX_MATCHES_READ {
                    ids.truncate(MAX_MATCHES_READ);
                    ids.sort_unstable();
                    ids.dedup();
                    return Ok(ids);
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        // SSCAN may return a member twice.
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The grand total and the given matches, [`MATCHES_PER_CALL`] per MULTI, so that each
    /// match's total agrees with its counts. Ids that do not parse are skipped; a match with no
    /// data comes back empty, which tells a page to drop it.
    pub async fn matches(&self, ids: &[String]) -> Result<(u64, Vec<MatchView>), AppError> {
        let keys: Vec<(String, MatchKey)> = ids
            .iter()
            .filter_map(|id| MatchKey::parse(id).map(|k| (id.clone(), k)))
            .collect();
        let decode = |e: redis::RedisError| AppError::Unavailable {
            backend: "redis",
            detail: format!("unexpected data: {e}"),
        };
        let total_key = self.keys.total();
        let total: Option<u64> = self
            .run(|mut c| async move { redis::cmd("GET").arg(total_key).query_async(&mut c).await })
            .await?;
        let mut views = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MATCHES_PER_CALL) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (id, _) in chunk {
                pipe.cmd("HGET").arg(self.keys.match_totals()).arg(id);
                pipe.cmd("HGETALL").arg(self.keys.match_counts(id));
            }
            let values: Vec<Value> = self
                .run(|mut c| async move { pipe.query_async(&mut c).await })
                .await?;
            let mut values = values.into_iter();
            for (id, key) in chunk {
                let match_total: Option<u64> =
                    redis::from_owned_redis_value(values.next().unwrap_or(Value::Nil))
                        .map_err(decode)?;
                let counts: HashMap<String, u64> =
                    redis::from_owned_redis_value(values.next().unwrap_or(Value::Nil))
                        .map_err(decode)?;
                views.push(match_view(id.clone(), key.clone(), match_total, counts));
            }
        }
        Ok((total.unwrap_or(0), views))
    }

    /// The grand total and the predictions per phase, from the per-match totals of the fixture
    /// list (HMGET, [`MATCHES_PER_CALL`] at a time), or with no list from at most
    /// [`MAX_MATCHES_READ`] of them (HSCAN); `matches` counts the matches with predictions.
    pub async fn stats(&self) -> Result<LiveStats, AppError> {
        let total_key = self.keys.total();
        let total: Option<u64> = self
            .run(|mut c| async move { redis::cmd("GET").arg(total_key).query_async(&mut c).await })
            .await?;
        let totals = match &self.fixtures {
            Some(fixtures) => self.fixture_totals(fixtures).await?,
            None => self.scanned_totals().await?,
        };
        let mut phases = BTreeMap::new();
        let mut matches = 0;
        for (id, n) in &totals {
            if let Some(k) = MatchKey::parse(id).filter(|_| *n > 0) {
                *phases.entry(k.phase.to_string()).or_insert(0) += n;
                matches += 1;
            }
        }
        Ok(LiveStats {
            total: total.unwrap_or(0),
            phases,
            matches,
        })
    }

    async fn fixture_totals(&self, fixtures: &Fixtures) -> Result<Vec<(String, u64)>, AppError> {
        let ids: Vec<String> = fixtures.matches().map(MatchKey::id).collect();
        let mut totals = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MATCHES_PER_CALL) {
            let key = self.keys.match_totals();
            let values: Vec<Option<u64>> = self
                .run(|mut c| async move {
                    redis::cmd("HMGET")
                        .arg(key)
                        .arg(chunk)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            totals.extend(
                chunk
                    .iter()
                    .zip(values)
                    .filter_map(|(id, n)| Some((id.clone(), n?))),
            );
        }
        Ok(totals)
    }

    async fn scanned_totals(&self) -> Result<Vec<(String, u64)>, AppError> {
        let mut totals: HashMap<String, u64> = HashMap::new();
        let mut cursor = 0u64;
        loop {
            let key = self.keys.match_totals();
            let (next, found): (u64, Vec<(String, u64)>) = self
                .run(|mut c| async move {
                    redis::cmd("HSCAN")
                        .arg(key)
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(MATCHES_PER_CALL)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            totals.extend(found);
            cursor = next;
            if cursor == 0 || totals.len() >= MAX_MATCHES_READ {
                return Ok(totals.into_iter().take(MAX_MATCHES_READ).collect());
            }
        }
    }
}

fn unavailable(e: CallError) -> AppError {
    AppError::Unavailable {
        backend: "redis",
        detail: e.to_string(),
    }
}

fn match_view(
    id: String,
    key: MatchKey,
    total: Option<u64>,
    counts: HashMap<String, u64>,
) -> MatchView {
    // The per-match total is the contract; the sum of counts stands in if it is missing.
    let total = total.unwrap_or_else(|| counts.values().sum());
    let mut scores: Vec<ScoreView> = counts
        .into_iter()
        .map(|(score, count)| ScoreView {
            share: share(count, total),
            score,
            count,
        })
        .collect();
    scores.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| score_order(&a.score).cmp(&score_order(&b.score)))
    });
    MatchView {
        id,
        phase: key.phase,
        team1: key.team1,
        team2: key.team2,
        total,
        top: scores.first().map(|s| s.score.clone()),
        scores,
    }
}

/// `count / total` to 4 decimals (0.01 %, finer than any page shows): a full-precision share
/// is 19 characters, and at 5,000 predictions/s every push carries every score of every match to
/// every viewer, so these digits were a fifth of what 1,000 sockets received (bench/viewers).
fn share(count: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (count as f64 / total as f64 * 10_000.0).round() / 10_000.0
}

/// "2-1" before "10-0": goals compare as numbers; anything unparsable goes last, by text.
fn score_order(score: &str) -> (bool, (u32, u32), &str) {
    match model::parse_score(score) {
        Ok(goals) => (false, goals, ""),
        Err(_) => (true, (0, 0), score),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_sort_by_count_then_goals_and_shares_add_up() {
        let counts: HashMap<String, u64> = [("10-0", 2), ("2-1", 2), ("3-3", 5), ("0-0", 1)]
            .into_iter()
            .map(|(s, n)| (s.to_string(), n))
            .collect();
        let key = MatchKey::parse("4:Argentina:France").unwrap();
        let view = match_view("4:Argentina:France".into(), key, Some(10), counts);
        let order: Vec<&str> = view.scores.iter().map(|s| s.score.as_str()).collect();
        assert_eq!(order, ["3-3", "2-1", "10-0", "0-0"]);
        assert_eq!(view.top.as_deref(), Some("3-3"));
        let sum: f64 = view.scores.iter().map(|s| s.share).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert_eq!(view.scores[0].share, 0.5);
    }

    #[test]
    fn shares_are_rounded_to_four_decimals() {
        assert_eq!(share(1, 3), 0.3333);
        assert_eq!(share(2, 3), 0.6667);
        assert_eq!(share(1, 7), 0.1429);
        assert_eq!(share(1, 1_000_000), 0.0);
        assert_eq!(share(0, 0), 0.0);
        assert_eq!(share(5, 5), 1.0);
        // What goes on the wire: no float noise past the fourth decimal.
        assert_eq!(serde_json::to_string(&share(1, 7)).unwrap(), "0.1429");
    }

    #[test]
    fn an_empty_match_has_no_top() {
        let key = MatchKey::parse("1:Qatar:Ecuador").unwrap();
        let view = match_view("1:Qatar:Ecuador".into(), key, None, HashMap::new());
        assert_eq!((view.total, view.top), (0, None));
    }
}
