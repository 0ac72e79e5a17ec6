//! The Redis key layout of the live aggregates, written once: live-store writes these keys,
//! read-api reads them, the experiment kit and the tests check them. Every key and the channel
//! start with a prefix (empty in production; tests use their own so they run side by side).
//!
//! | key (after the prefix) | type | holds |
//! |---|---|---|
//! | `match:{phase}:{team1}:{team2}` | hash | score → count |
//! | `totals` | hash | match id → total predictions of the match |
//! | `phase:{phase}:matches` | set | match ids of the phase |
//! | `phases` | set | phases that have predictions |
//! | `total` | string | all predictions counted |
//! | `offsets` | hash | `{topic}:{partition}` → highest Kafka offset applied (exactly once across replays) |
//! | `recent-ids` | sorted set | the most recently counted prediction ids, by received time, at most a window (a retry's same ids count once) |
//! | channel `live-changes` | pub/sub | JSON array of the match ids a batch changed |
//!
//! A match id is [`MatchKey::id`]: `{phase}:{team1}:{team2}`.

use crate::MatchKey;

const MATCH: &str = "match:";
const TOTALS: &str = "totals";
const PHASES: &str = "phases";
const TOTAL: &str = "total";
const OFFSETS: &str = "offsets";
const RECENT_IDS: &str = "recent-ids";
const CHANGES: &str = "live-changes";

/// The keys of one deployment (or one test), all under `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        RedisKeys {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Hash, score → count, of the match whose id is `match_id` (`{phase}:{team1}:{team2}`).
    pub fn match_counts(&self, match_id: &str) -> String {
        format!("{}{MATCH}{match_id}", self.prefix)
    }

    /// [`RedisKeys::match_counts`] of a [`MatchKey`].
    pub fn match_counts_of(&self, key: &MatchKey) -> String {
        self.match_counts(&key.id())
    }

    /// The match id in a key made by [`RedisKeys::match_counts`]; `None` for any other key.
    pub fn match_id_in<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(self.prefix.as_str())?.strip_prefix(MATCH)
    }

    /// Hash, match id → the match's total.
    pub fn match_totals(&self) -> String {
        format!("{}{TOTALS}", self.prefix)
    }

    /// Set of the match ids of `phase`.
    pub fn phase_matches(&self, phase: u8) -> String {
        format!("{}phase:{phase}:matches", self.prefix)
    }

    /// Set of the phases that have predictions.
    pub fn phases(&self) -> String {
        format!("{}{PHASES}", self.prefix)
    }

    /// String: every prediction counted.
    pub fn total(&self) -> String {
        format!("{}{TOTAL}", self.prefix)
    }

    /// Hash, `{topic}:{partition}` → the highest Kafka offset applied: one field per partition.
    pub fn applied_offsets(&self) -> String {
        format!("{}{OFFSETS}", self.prefix)
    }

    /// Sorted set of the most recently counted prediction ids (score: received-at ms), trimmed
    /// to live-store's window.
    pub fn recent_ids(&self) -> String {
        format!("{}{RECENT_IDS}", self.prefix)
    }

    /// The pub/sub channel where each applied batch announces the match ids it changed.
    pub fn changes_channel(&self) -> String {
        format!("{}{CHANGES}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_with_and_without_a_prefix() {
        let key = MatchKey::parse("4:Argentina:France").unwrap();
        let plain = RedisKeys::default();
        assert_eq!(plain.match_counts_of(&key), "match:4:Argentina:France");
        assert_eq!(plain.match_totals(), "totals");
        assert_eq!(plain.phase_matches(4), "phase:4:matches");
        assert_eq!(plain.phases(), "phases");
        assert_eq!(plain.total(), "total");
        assert_eq!(plain.applied_offsets(), "offsets");
        assert_eq!(plain.recent_ids(), "recent-ids");
        assert_eq!(plain.changes_channel(), "live-changes");

        let test = RedisKeys::new("t1:");
        assert_eq!(
            test.match_counts("1:Qatar:Ecuador"),
            "t1:match:1:Qatar:Ecuador"
        );
        assert_eq!(test.phase_matches(2), "t1:phase:2:matches");
        assert_eq!(test.changes_channel(), "t1:live-changes");
        assert_eq!(
            test.match_id_in("t1:match:1:Qatar:Ecuador"),
            Some("1:Qatar:Ecuador")
        );
        assert_eq!(test.match_id_in("match:1:Qatar:Ecuador"), None);
        assert_eq!(test.match_id_in("t1:totals"), None);
    }
}
