//! The record an accepted prediction becomes: what goes on Kafka, into MongoDB and to live-store.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Prediction;

/// A prediction that ingest accepted: it has an id (UUIDv7, so ids sort by time) and the time it
/// was received. This is the JSON value of each record on the `predictions` topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub id: Uuid,
    pub team1: String,
    pub team2: String,
    pub score: String,
    pub phase: u8,
    /// Milliseconds since the Unix epoch.
    pub received_at_ms: i64,
}

impl Accepted {
    /// Gives `prediction` a fresh UUIDv7 and the current time.
    pub fn new(prediction: Prediction) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970");
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, now.as_secs(), now.subsec_nanos());
        Accepted {
            id: Uuid::new_v7(ts),
            team1: prediction.team1,
            team2: prediction.team2,
            score: prediction.score,
            phase: prediction.phase,
            received_at_ms: now.as_millis() as i64,
        }
    }

    /// The prediction as the fan sent it, to check it against the rules again.
    pub fn prediction(&self) -> Prediction {
        Prediction {
            team1: self.team1.clone(),
            team2: self.team2.clone(),
            score: self.score.clone(),
            phase: self.phase,
        }
    }

    pub fn match_key(&self) -> MatchKey {
        MatchKey {
            phase: self.phase,
            team1: self.team1.clone(),
            team2: self.team2.clone(),
        }
    }
}

/// A match as the live aggregates name it: phase and both teams, in the order fans sent them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MatchKey {
    pub phase: u8,
    pub team1: String,
    pub team2: String,
}

impl MatchKey {
    /// `{phase}:{team1}:{team2}`: the Kafka record key (so a match's predictions stay in order
    /// on one partition) and the suffix of its Redis keys. Team names cannot contain ':'
    /// (validation refuses it), so this parses back unambiguously.
    pub fn id(&self) -> String {
        format!("{}:{}:{}", self.phase, self.team1, self.team2)
    }

    pub fn parse(id: &str) -> Option<MatchKey> {
        let mut parts = id.splitn(3, ':');
        let phase = parts.next()?.parse().ok()?;
        let team1 = parts.next()?.to_string();
        let team2 = parts.next()?.to_string();
        (!team1.is_empty() && !team2.is_empty() && !team2.contains(':')).then_some(MatchKey {
            phase,
            team1,
            team2,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_match_keys_round_trip() {
        let p = Prediction {
            team1: "Argentina".into(),
            team2: "France".into(),
            score: "3-3".into(),
            phase: 4,
        };
        let a = Accepted::new(p.clone());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Accepted::new(p);
        assert!(a.id < b.id);
        assert_eq!(a.id.get_version_num(), 7);
        let key = a.match_key();
        assert_eq!(key.id(), "4:Argentina:France");
        assert_eq!(MatchKey::parse(&key.id()), Some(key));
        assert_eq!(MatchKey::parse("x:a:b"), None);
    }
}
