//! Which matches a reader wants: the `phase`, `team1` and `team2` query parameters, applied alike
//! to the live aggregates, the logs and both sockets.

use model::push::{LogItem, MatchView};

/// Every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MatchFilter {
    pub phase: Option<u8>,
    pub team1: Option<String>,
    pub team2: Option<String>,
}

impl MatchFilter {
    pub fn is_empty(&self) -> bool {
        self.phase.is_none() && self.team1.is_none() && self.team2.is_none()
    }

    pub fn accepts(&self, phase: u8, team1: &str, team2: &str) -> bool {
        self.phase.is_none_or(|p| p == phase)
            && self.team1.as_deref().is_none_or(|t| t == team1)
            && self.team2.as_deref().is_none_or(|t| t == team2)
    }

    pub fn accepts_match(&self, m: &MatchView) -> bool {
        self.accepts(m.phase, &m.team1, &m.team2)
    }

    pub fn accepts_log(&self, item: &LogItem) -> bool {
        u8::try_from(item.phase).is_ok_and(|p| self.accepts(p, &item.team1, &item.team2))
    }
}
