//! The MongoDB layout of the prediction log, written once: logs-writer writes it, read-api reads
//! it, the kit and the tests check it (database `usactar` unless configured otherwise).
//!
//! | collection | one document per | holds |
//! |---|---|---|
//! | `logs` | prediction | `_id` (the prediction's id), teams, score, phase, `received_at`, `logged_at`, `kafka: {partition, offset}` |
//! | `log_totals` | Kafka partition | `_id: "partition:{p}"`, `through` (highest offset counted), `documents` (log documents that partition's records stored), `by_phase` and `by_filter` (the same documents per filter of `/api/logs`, see [`Counts`]) |
//!
//! `log_totals` exists so that no request counts `logs`: FerretDB 1.24 counts by reading every
//! document (4.3 s at 100,000 on either backend, bench/store), and the totals of `/api/stats`
//! and `/api/logs` are then one read of a few documents. logs-writer keeps them exact across
//! replays (see `consumer::log_totals`). A filtered total is read from them too when every
//! partition's `by_phase` adds up to its `documents` (each counted document was counted per
//! filter as well); otherwise (a store written before these counts, a record outside the fixture
//! list) read-api counts the collection, up to a cap.

/// The log documents.
pub const LOGS: &str = "logs";
/// The stored documents, counted per Kafka partition as they land.
pub const LOG_TOTALS: &str = "log_totals";
/// A partition's document in [`LOG_TOTALS`]: its `_id`.
pub fn log_totals_id(partition: i32) -> String {
    format!("partition:{partition}")
}

/// The partition whose document in [`LOG_TOTALS`] has this `_id`.
pub fn partition_of(id: &str) -> Option<i32> {
    id.strip_prefix("partition:")?.parse().ok()
}

/// In a partition's document: its stored documents per phase, `by_phase.{phase}`.
pub const BY_PHASE: &str = "by_phase";
/// In a partition's document: its stored documents per filter naming a team, `by_filter.{key}`
/// (see [`filter_field`]).
pub const BY_FILTER: &str = "by_filter";

/// The field of a partition's document that counts the logs a filter of `/api/logs` matches:
/// `by_phase.{phase}` for a phase alone, else `by_filter.{phase}:{team1}:{team2}` with the
/// absent parts empty. A team name may hold `.` or `$`, which a field path may not (MongoDB
/// reads `.` as nesting), so those and `%` are percent-encoded. A filter may name a team no
/// prediction can have (`validate` refuses control characters and `:`): NUL is encoded too,
/// which no BSON key may hold (the driver refused the read, and read-api answered 503), and `:`,
/// so that such a filter reads a field that never exists rather than another filter's. `None`
/// for no filter at all (that total is `documents`).
pub fn filter_field(
    phase: Option<i32>,
    team1: Option<&str>,
    team2: Option<&str>,
) -> Option<String> {
    match (phase, team1, team2) {
        (None, None, None) => None,
        (Some(p), None, None) => Some(format!("{BY_PHASE}.{p}")),
        _ => Some(format!(
            "{BY_FILTER}.{}:{}:{}",
            phase.map(|p| p.to_string()).unwrap_or_default(),
            team1.map(escape).unwrap_or_default(),
            team2.map(escape).unwrap_or_default()
        )),
    }
}

fn escape(team: &str) -> String {
    let mut out = String::with_capacity(team.len());
    for c in team.chars() {
        match c {
            '%' => out.push_str("%25"),
            '.' => out.push_str("%2E"),
            '$' => out.push_str("%24"),
            ':' => out.push_str("%3A"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// What one write adds to a partition's document: `documents`, and for each document counted by
/// filter, one more in every field a filter matching it reads ([`filter_field`] of each non-empty
/// subset of its phase, team1 and team2: seven fields).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub documents: i64,
    /// Field path → increment.
    pub fields: std::collections::BTreeMap<String, i64>,
}

impl Counts {
    /// One stored document that no filter's count includes: the partition's filtered totals are
    /// then incomplete, and read-api counts filtered totals from the collection.
    pub fn add_unfiltered(&mut self) {
        self.documents += 1;
    }

    /// Every field to increment, `documents` first: one `$inc` on the partition's document.
    pub fn increments(self) -> impl Iterator<Item = (String, i64)> {
        std::iter::once(("documents".to_string(), self.documents)).chain(self.fields)
    }

    /// One stored document, counted under every filter that matches it.
    pub fn add(&mut self, phase: i32, team1: &str, team2: &str) {
        self.documents += 1;
        for (p, t1, t2) in [
            (Some(phase), None, None),
            (Some(phase), Some(team1), None),
            (Some(phase), None, Some(team2)),
            (Some(phase), Some(team1), Some(team2)),
            (None, Some(team1), None),
            (None, None, Some(team2)),
            (None, Some(team1), Some(team2)),
        ] {
            let field = filter_field(p, t1, t2).expect("a filter");
            *self.fields.entry(field).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_fields_are_one_per_filter_and_safe_paths() {
        assert_eq!(filter_field(None, None, None), None);
        assert_eq!(filter_field(Some(2), None, None).unwrap(), "by_phase.2");
        assert_eq!(
            filter_field(None, Some("Korea Republic"), None).unwrap(),
            "by_filter.:Korea Republic:"
        );
        assert_eq!(
            filter_field(Some(1), None, Some("St. Kitts $1 100%")).unwrap(),
            "by_filter.1::St%2E Kitts %241 100%25"
        );
        // Filters naming teams no prediction has: still one field each, and a valid BSON key.
        assert_eq!(
            filter_field(Some(4), Some("A\0B"), Some("C:D")).unwrap(),
            "by_filter.4:A%00B:C%3AD"
        );
        assert_ne!(
            filter_field(None, Some("A:B"), None),
            filter_field(None, Some("A"), Some("B"))
        );
        let mut counts = Counts::default();
        counts.add(1, "Qatar", "Ecuador");
        counts.add(1, "Qatar", "Senegal");
        counts.add_unfiltered();
        assert_eq!(counts.documents, 3);
        assert_eq!(counts.fields["by_phase.1"], 2);
        assert_eq!(counts.fields["by_filter.:Qatar:"], 2);
        assert_eq!(counts.fields["by_filter.1:Qatar:Ecuador"], 1);
        assert_eq!(counts.fields.len(), 1 + 2 * 6 - 2);
    }

    #[test]
    fn a_partition_id_reads_back() {
        assert_eq!(partition_of(&log_totals_id(7)), Some(7));
        assert_eq!(partition_of("partition:x"), None);
        assert_eq!(partition_of("7"), None);
    }
}
