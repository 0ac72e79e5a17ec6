//! What read-api pushes over its WebSockets (`/api/live/ws`, `/api/logs/ws`): one
//! [`PushMessage`] per text frame, tagged by `"type"`. Defined here, not in read-api, so that
//! any Rust client can decode the stream with the same types the server encodes it with.
//!
//! The front end mirrors these types in `frontend/src/push.ts`; read-api's test
//! `tests/push_fixtures.rs` writes one message of each kind to `frontend/src/push-fixtures.json`,
//! which the front end's tests check against its own types, so the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// One message on a read-api WebSocket.
///
/// The live socket sends `snapshot` first, then `live` deltas; `error` while Redis is down. The
/// logs socket sends `logs` batches, and `lagged` when it fell behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushMessage {
    /// Everything the socket's filters accept; replaces whatever the client had.
    Snapshot(LiveView),
    /// Only the matches that changed since the last push, with the grand total.
    Live { total: u64, matches: Vec<MatchView> },
    /// The live store does not answer; a `snapshot` follows when it does again.
    Error { error: String },
    /// Logs written since the last push, newest first. `gap`: the tail skipped records to keep
    /// up (re-read `/api/logs` for all of them).
    Logs { items: Vec<LogItem>, gap: bool },
    /// This socket fell behind and missed `missed_batches` pushes.
    Lagged { missed_batches: u64 },
}

impl PushMessage {
    /// The text frame. Every field is a plain number, string or list, so this cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a push message serializes")
    }
}

/// The live aggregates the filters accept: `GET /api/live`, and the body of a `snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveView {
    /// Every prediction counted, whatever the filters.
    pub total: u64,
    /// Ascending; only phases with matches.
    pub phases: Vec<PhaseView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseView {
    pub phase: u8,
    /// Sum of the totals of the matches shown.
    pub total: u64,
    /// By team1, then team2.
    pub matches: Vec<MatchView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchView {
    /// `{phase}:{team1}:{team2}`, the id pushes refer to.
    pub id: String,
    pub phase: u8,
    pub team1: String,
    pub team2: String,
    pub total: u64,
    /// Most predicted first; ties by score (goals of team1, then of team2).
    pub scores: Vec<ScoreView>,
    /// The most predicted score; null while the match has none.
    pub top: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreView {
    pub score: String,
    pub count: u64,
    /// count / the match's total, 0..1, rounded to 4 decimals (read-api's `live::share`).
    pub share: f64,
}

/// One log as the API shows it (`GET /api/logs` and `logs` pushes): times in RFC 3339, the
/// Kafka position flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogItem {
    /// A UUIDv7: ordering by id is ordering by time.
    pub id: String,
    pub team1: String,
    pub team2: String,
    pub score: String,
    pub phase: i32,
    pub received_at: String,
    pub logged_at: String,
    pub partition: i32,
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tagged_by_type_with_the_fields_beside_the_tag() {
        let snapshot = PushMessage::Snapshot(LiveView {
            total: 3,
            phases: vec![],
        });
        assert_eq!(
            serde_json::to_value(&snapshot).unwrap(),
            json!({"type": "snapshot", "total": 3, "phases": []})
        );
        let lagged = PushMessage::Lagged { missed_batches: 2 };
        assert_eq!(
            serde_json::to_value(&lagged).unwrap(),
            json!({"type": "lagged", "missed_batches": 2})
        );
        let back: PushMessage = serde_json::from_str(&snapshot.to_json()).unwrap();
        assert_eq!(back, snapshot);
    }
}
