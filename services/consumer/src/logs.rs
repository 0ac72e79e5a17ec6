//! logs-writer's sink: batched, unordered inserts into MongoDB, idempotent by `_id`.

use std::time::Duration;

use mongodb::bson::{doc, DateTime, Document};
use mongodb::error::ErrorKind;
use mongodb::Collection;

use crate::log_totals::LogTotals;
use crate::pipeline::{Record, Sink, WriteError};

/// MongoDB's duplicate-key error: the document is already there (a replay), which is success.
const DUPLICATE_KEY: i32 = 11000;

#[derive(Clone)]
pub struct MongoSink {
    logs: Collection<Document>,
    /// The stored documents counted as they land, for read-api's totals.
    totals: LogTotals,
    /// Longest one `insert_many` may take: the driver has no deadline of its own on a server
    /// that accepted the connection and stopped answering, and a stalled store would otherwise
    /// wedge the loop (issue 15 M9).
    deadline: Duration,
}

impl MongoSink {
    pub fn new(client: &mongodb::Client, database: &str, deadline: Duration) -> Self {
        let db = client.database(database);
        MongoSink {
            logs: db.collection(model::log_layout::LOGS),
            totals: LogTotals::new(&db),
            deadline,
        }
    }

    /// Counts per filter only the logs of `fixtures` (see `log_totals`); by default those of
    /// Qatar 2022, none with `None`.
    pub fn with_fixtures(mut self, fixtures: Option<std::sync::Arc<model::Fixtures>>) -> Self {
        self.totals = self.totals.with_fixtures(fixtures);
        self
    }

    /// `call` within the write deadline; past it, the store is unavailable for this batch.
    async fn within<T>(
        &self,
        what: &str,
        call: impl std::future::IntoFuture<Output = T>,
    ) -> Result<T, WriteError> {
        tokio::time::timeout(self.deadline, call)
            .await
            .map_err(|_| {
                WriteError::Unavailable(format!("{what} did not answer within {:?}", self.deadline))
            })
    }
}

/// The log document of a record (database `usactar`, collection `logs`).
pub fn document(record: &Record, logged_at: DateTime) -> Document {
    let p = &record.prediction;
    doc! {
        "_id": p.id.to_string(),
        "team1": &p.team1,
        "team2": &p.team2,
        "score": &p.score,
        "phase": p.phase as i32,
        "received_at": DateTime::from_millis(p.received_at_ms),
        "logged_at": logged_at,
        "kafka": {"partition": record.partition(), "offset": record.offset()},
    }
}

impl Sink for MongoSink {
    fn route(&self) -> &'static str {
        "mongodb:insert_many"
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), WriteError> {
        let now = DateTime::now();
        let docs: Vec<Document> = batch.iter().map(|r| document(r, now)).collect();
        let insert = self.logs.insert_many(docs).ordered(false);
        // On a timeout some documents may have landed: the retry inserts them again, as
        // duplicates.
        let (duplicates, refused) = match self.within("MongoDB", insert).await? {
            Ok(_) => (Vec::new(), Vec::new()),
            Err(e) => match e.kind.as_ref() {
                // Unordered: every other document was inserted. Those that failed only because
                // they were already there count as written; any other error of one document is
                // about that document (too large, refused by a validator) and will not change on
                // a retry.
                ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
                    let (duplicates, refused): (Vec<_>, Vec<_>) = failure
                        .write_errors
                        .iter()
                        .flatten()
                        .partition(|w| w.code == DUPLICATE_KEY);
                    (
                        duplicates.iter().map(|w| w.index).collect(),
                        refused
                            .iter()
                            .map(|w| (w.index, format!("MongoDB error {}: {}", w.code, w.message)))
                            .collect::<Vec<_>>(),
                    )
                }
                // Network, timeouts, the server stepping down, a write concern not met: the same
                // batch may pass later.
                _ => return Err(WriteError::Unavailable(e.to_string())),
            },
        };
        // Counted before the batch is acknowledged: if counting fails, the retry finds the
        // documents as duplicates of their own Kafka positions and counts them then.
        let refused_at: Vec<usize> = refused.iter().map(|(i, _)| *i).collect();
        let counting = self.totals.count(batch, &duplicates, &refused_at);
        self.within(model::log_layout::LOG_TOTALS, counting)
            .await?
            .map_err(|e| {
                WriteError::Unavailable(format!(
                    "counting the stored documents in {}: {e}",
                    model::log_layout::LOG_TOTALS
                ))
            })?;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(WriteError::RefusedRecords(refused))
        }
    }
}
