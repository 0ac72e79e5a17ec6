//! The MongoDB layout of the prediction log, written once: logs-writer writes it, read-api reads
//! it, the kit and the tests check it (database `usactar` unless configured otherwise).
//!
//! | collection | one document per | holds |
//! |---|---|---|
//! | `logs` | prediction | `_id` (the prediction's id), teams, score, phase, `received_at`, `logged_at`, `kafka: {partition, offset}` |
//! | `log_totals` | Kafka partition | `_id: "partition:{p}"`, `through` (highest offset counted), `documents` (log documents that partition's records stored) |
//!
//! `log_totals` exists so that no request counts `logs`: FerretDB 1.24 counts by reading every
//! document (4.3 s at 100,000 on either backend, bench/store), and the totals of `/api/stats`
//! and `/api/logs` are then one read of a few documents. logs-writer keeps them exact across
//! replays (see `consumer::log_totals`).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_id_reads_back() {
        assert_eq!(partition_of(&log_totals_id(7)), Some(7));
        assert_eq!(partition_of("partition:x"), None);
        assert_eq!(partition_of("7"), None);
    }
}
