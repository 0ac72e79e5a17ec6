//! The logs in MongoDB (`{db}.logs`), as logs-writer writes them. `_id` is a UUIDv7 string, so
//! ordering by `_id` is ordering by time, and it is also the paging cursor.
//!
//! Every query is bounded on the server too (`maxTimeMS` = the backend timeout), so a request
//! that read-api gave up on does not keep MongoDB scanning; each filter has an index that also
//! serves the `_id` order ([`INDEXES`]) and each page names it; totals, filtered too, are
//! logs-writer's counters ([`crate::log_totals`]); a
//! document that does not decode is skipped and counted, not a 503 for every page holding it.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use model::push::LogItem;
use mongodb::bson::{doc, DateTime, Document, RawDocumentBuf};
use mongodb::options::{ClientOptions, Hint};
use mongodb::{Client, Collection, Database, IndexModel};
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::error::{bounded, AppError};
use crate::filter::MatchFilter;
use crate::log_totals::Totals;
pub use crate::log_totals::COUNT_CAP;

/// Purging a large collection takes longer than a read; it still must not hang forever.
const PURGE_TIMEOUT: Duration = Duration::from_secs(60);

/// How much longer than the server's own limit (`maxTimeMS`) read-api waits for an answer, so
/// that normally the server gives up first (and says so) rather than read-api walking away
/// from a query the server still runs. FerretDB checks its deadline between batches: it was
/// measured answering a 300 ms limit after 500 ms on a loaded machine.
const SERVER_FIRST: Duration = Duration::from_millis(500);

/// Whether the server refused a query because the index it names does not exist (MongoDB's and
/// DocumentDB's `BadValue`, "hint provided does not correspond to an existing index").
fn is_missing_hint(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 2 && c.message.contains("hint"))
}

/// The indexes the queries use, each `(field, direction)`s: write time for the live tail
/// ([`LogStore::logged_since`]), then one per filter (a filter on `phase` with a team uses the
/// team's), each ending with the `_id` order the pages sort by, so a page reads `limit` entries
/// instead of sorting all matches. Nothing more: each index costs every insert. Two on
/// `received_at` that no query read (one read-api's, one logs-writer's) took 200,000 inserts
/// from 20.5 to 27.1 s and the store's CPU from 17 to 23 s (2026-11-30).
pub const INDEXES: &[&[(&str, i32)]] = &[
    &[("logged_at", -1)],
    &[("phase", 1), ("_id", -1)],
    &[("team1", 1), ("_id", -1)],
    &[("team2", 1), ("_id", -1)],
    &[("team1", 1), ("team2", 1), ("_id", -1)],
];

#[derive(Debug, Clone, Deserialize)]
struct LogDoc {
    #[serde(rename = "_id")]
    id: String,
    team1: String,
    team2: String,
    score: String,
    phase: i32,
    received_at: DateTime,
    logged_at: DateTime,
    #[serde(default)]
    kafka: KafkaPosition,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct KafkaPosition {
    partition: i32,
    offset: i64,
}

impl From<LogDoc> for LogItem {
    fn from(d: LogDoc) -> Self {
        let rfc3339 = |t: DateTime| t.try_to_rfc3339_string().unwrap_or_default();
        LogItem {
            id: d.id,
            team1: d.team1,
            team2: d.team2,
            score: d.score,
            phase: d.phase,
            received_at: rfc3339(d.received_at),
            logged_at: rfc3339(d.logged_at),
            partition: d.kafka.partition,
            offset: d.kafka.offset,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogPage {
    /// Newest first.
    pub items: Vec<LogItem>,
    /// How many logs match the filters (all pages): from logs-writer's counters, exact; counted
    /// from the collection when they do not cover every stored log, at most [`COUNT_CAP`].
    pub total: u64,
    /// True when a counted `total` stopped at [`COUNT_CAP`]: there are at least that many.
    pub total_capped: bool,
    /// Pass as `before` for the next page; null when this page is the last.
    pub next: Option<String>,
}

#[derive(Clone)]
pub struct LogStore {
    db: Database,
    /// Raw, so that each document decodes on its own (see [`decode`]).
    logs: Collection<RawDocumentBuf>,
    /// The totals, from what logs-writer counted (`model::log_layout`).
    totals: Totals,
    timeout: Duration,
    /// `usactar_logs_undecodable_total`, when the service registered it.
    undecodable: Option<IntCounter>,
    /// The pages being read now: at most [`DEFAULT_MAX_LOG_QUERIES`] (or the setting), others
    /// answered 503 at once. FerretDB 1.24 sorts every matching document in its own memory for a
    /// page, so each one read at the same time costs the store memory: 50 first pages at once
    /// over 100,000 documents took it to 251 MiB of its 256 Mi (bench/hostile, 2026-11-30).
    pages: Arc<Semaphore>,
    max_pages: usize,
    /// Set once [`LogStore::ensure_indexes`] succeeded: filtered pages then name their index
    /// (naming one that does not exist yet is an error).
    indexed: Arc<AtomicBool>,
}

/// The default of `USACTAR_MAX_LOG_QUERIES`: pages of `/api/logs` read at once.
pub const DEFAULT_MAX_LOG_QUERIES: usize = 4;

impl LogStore {
    /// Parses the URI and makes a client; it connects lazily, so this works while MongoDB is down.
    pub async fn connect(uri: &str, db: &str, timeout: Duration) -> mongodb::error::Result<Self> {
        let mut options = ClientOptions::parse(uri).await?;
        options.app_name = Some("read-api".into());
        // Fail fast when the server is away, so callers can answer 503 within their own bound.
        options.server_selection_timeout.get_or_insert(timeout);
        options.connect_timeout.get_or_insert(timeout);
        let client = Client::with_options(options)?;
        let db = client.database(db);
        Ok(LogStore {
            logs: db.collection(model::log_layout::LOGS),
            totals: Totals::new(&db, timeout),
            db,
            timeout,
            undecodable: None,
            pages: Arc::new(Semaphore::new(DEFAULT_MAX_LOG_QUERIES)),
            max_pages: DEFAULT_MAX_LOG_QUERIES,
            indexed: Arc::default(),
        })
    }

    /// Counts the documents skipped because they do not decode.
    pub fn counting_undecodable(mut self, counter: IntCounter) -> Self {
        self.undecodable = Some(counter);
        self
    }

    /// Decodes each document on its own: one malformed record (written by hand, or by an older
    /// writer) is skipped, logged and counted instead of failing every page that holds it.
    fn decode(&self, raw: Vec<RawDocumentBuf>) -> Vec<LogItem> {
        raw.into_iter()
            .filter_map(
                |d| match mongodb::bson::from_slice::<LogDoc>(d.as_bytes()) {
                    Ok(doc) => Some(LogItem::from(doc)),
                    Err(e) => {
                        let id = d.get_str("_id").unwrap_or("?").to_string();
                        tracing::warn!(id, error = %e, "skipping a log that does not decode");
                        if let Some(c) = &self.undecodable {
                            c.inc();
                        }
                        None
                    }
                },
            )
            .collect()
    }

    pub async fn ping(&self) -> Result<(), AppError> {
        bounded(
            "mongodb",
            self.timeout,
            self.db.run_command(doc! {"ping": 1}),
        )
        .await
        .map(|_| ())
    }

    /// [`INDEXES`]; creating existing ones is a no-op. Not bounded by the read timeout: building
    /// an index over a large collection takes longer. One index per call: FerretDB 1.24 panics
    /// and drops the connection on a `createIndexes` naming two or more indexes that already
    /// exist (it deletes from the list it iterates), which made every restart of read-api fail
    /// here.
    pub async fn ensure_indexes(&self) -> Result<(), AppError> {
        for keys in INDEXES {
            let mut d = Document::new();
            for (field, dir) in *keys {
                d.insert(*field, *dir);
            }
            let model = IndexModel::builder().keys(d).build();
            bounded("mongodb", PURGE_TIMEOUT, self.logs.create_index(model)).await?;
        }
        self.indexed.store(true, Relaxed);
        Ok(())
    }

    /// The index whose order is the page's for `filter`: its equality fields, then `_id`
    /// descending (a phase with a team: the team's); unfiltered, `_id_`. PostgreSQL left to
    /// itself read and sorted a small collection whole for the first page (DocumentDB at 10,000
    /// logs: 17.6 ms at the median, 2.5 ms with `_id_`), and for filters picked others
    /// from its statistics: at 1,000,000 logs a phase and a team took 427 ms at the median
    /// (walking `_id` and filtering, or sorting the team's matches), 1.3 ms with this index;
    /// at 10,000, a phase's page sorted the table (p50 24 ms through NGINX).
    fn index_for(filter: &MatchFilter) -> String {
        let fields: &[&str] = match (&filter.team1, &filter.team2, filter.phase) {
            (Some(_), Some(_), _) => &["team1", "team2"],
            (Some(_), None, _) => &["team1"],
            (None, Some(_), _) => &["team2"],
            (None, None, Some(_)) => &["phase"],
            (None, None, None) => return "_id_".into(),
        };
        let keys = INDEXES
            .iter()
            .find(|keys| {
                keys.len() == fields.len() + 1
                    && keys.iter().zip(fields).all(|((k, _), f)| k == f)
                    && keys.last() == Some(&("_id", -1))
            })
            .expect("each filter has its index in INDEXES");
        // The name MongoDB (and FerretDB) give an index created without one.
        keys.iter()
            .map(|(field, dir)| format!("{field}_{dir}"))
            .collect::<Vec<_>>()
            .join("_")
    }

    fn filter_doc(filter: &MatchFilter) -> Document {
        let mut d = Document::new();
        if let Some(p) = filter.phase {
            d.insert("phase", i32::from(p));
        }
        if let Some(t) = &filter.team1 {
            d.insert("team1", t.as_str());
        }
        if let Some(t) = &filter.team2 {
            d.insert("team2", t.as_str());
        }
        d
    }

    /// At most `max` pages read at once; the next ones are refused at once (503, retry).
    pub fn limiting_pages(mut self, max: usize) -> Self {
        self.pages = Arc::new(Semaphore::new(max));
        self.max_pages = max;
        self
    }

    /// Up to `limit` logs older than `before` (newest first), and the count of all that match.
    /// Refused with 503 while the most pages allowed are being read already.
    pub async fn page(
        &self,
        filter: &MatchFilter,
        before: Option<&str>,
        limit: u32,
    ) -> Result<LogPage, AppError> {
        // Refused rather than queued: a queue would hold the requests of a crowd for as long as
        // the store takes, then answer most of them 503 anyway.
        let _reading = self
            .pages
            .try_acquire()
            .map_err(|_| AppError::Unavailable {
                backend: "mongodb",
                detail: format!("{} log pages are being read already", self.max_pages),
            })?;
        let base = Self::filter_doc(filter);
        let mut query = base.clone();
        if let Some(before) = before {
            query.insert("_id", doc! {"$lt": before});
        }
        let wait = self.timeout + SERVER_FIRST;
        // A phase with a team walks the team's index and skips the other phases' entries: for a
        // phase the team never plays in, all of them. So for that filter the counters come
        // first, and when they say it matches nothing, no page is read. (Only for that filter:
        // a log stored past logs-writer, by a database shell say, is in no count but is listed;
        // the other filters read their counts beside the page.)
        let phase_of_a_team =
            filter.phase.is_some() && (filter.team1.is_some() || filter.team2.is_some());
        let counted_first = if phase_of_a_team {
            Some(bounded("mongodb", wait, self.totals.counted(filter)).await?)
        } else {
            None
        };
        if counted_first == Some(Some(0)) {
            return Ok(LogPage {
                items: Vec::new(),
                total: 0,
                total_capped: false,
                next: None,
            });
        }
        let total = async {
            let counted = match counted_first {
                Some(counted) => counted,
                None => self.totals.counted(filter).await?,
            };
            if let Some(total) = counted {
                return Ok((total, false));
            }
            let total = self.totals.count_capped(base).await?;
            Ok::<_, mongodb::error::Error>((total, total >= COUNT_CAP))
        };
        let (raw, total) = tokio::join!(
            bounded("mongodb", wait, self.find_page(filter, query, limit)),
            bounded("mongodb", wait, total)
        );
        let raw = raw?;
        let (total, total_capped) = total?;
        // From the raw page, so a skipped document neither ends the paging nor moves the cursor.
        let next = (raw.len() == limit as usize)
            .then(|| {
                raw.last()
                    .and_then(|d| d.get_str("_id").ok().map(String::from))
            })
            .flatten();
        Ok(LogPage {
            items: self.decode(raw),
            total,
            total_capped,
            next,
        })
    }

    /// The newest `limit` logs matching `query` (`filter`, and the cursor), naming the index
    /// that serves `filter`'s order once read-api created it (the `_id` index always).
    async fn find_page(
        &self,
        filter: &MatchFilter,
        query: Document,
        limit: u32,
    ) -> mongodb::error::Result<Vec<RawDocumentBuf>> {
        let hint =
            (filter.is_empty() || self.indexed.load(Relaxed)).then(|| Self::index_for(filter));
        match self.find(query.clone(), limit, hint.clone()).await {
            // The index is gone: the collection was dropped behind read-api's back (a database
            // shell) and written again. Read without it, and create the indexes again in the
            // background; until then pages name none.
            Err(e) if hint.is_some() && is_missing_hint(&e) => {
                if self.indexed.swap(false, Relaxed) {
                    tracing::warn!(error = %e, "an index of the logs is missing; creating them again");
                    let store = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = store.ensure_indexes().await {
                            tracing::error!(error = %e, "could not create the logs indexes again");
                        }
                    });
                }
                self.find(query, limit, None).await
            }
            found => found,
        }
    }

    /// The newest `limit` logs matching `query`, naming the index `hint` if given.
    async fn find(
        &self,
        query: Document,
        limit: u32,
        hint: Option<String>,
    ) -> mongodb::error::Result<Vec<RawDocumentBuf>> {
        let find = self
            .logs
            .find(query)
            .sort(doc! {"_id": -1})
            .limit(i64::from(limit))
            .max_time(self.timeout);
        let find = match hint {
            Some(name) => find.hint(Hint::Name(name)),
            None => find,
        };
        find.await?.try_collect().await
    }

    /// Every log in the collection, as logs-writer counted them landing: FerretDB 1.24 counts a
    /// collection (even `estimatedDocumentCount`) by reading every document, 4.3 s at 100,000.
    pub async fn count(&self) -> Result<u64, AppError> {
        bounded("mongodb", self.timeout, self.totals.stored()).await
    }

    /// The newest `limit` logs written by logs-writer at or after `since` (their `logged_at`),
    /// newest first, each with that time in ms: what the live tail pushes (see
    /// `hub::logs`). By write time, not id: ids come from several ingest replicas and land
    /// through consumers with different lag, so an older id may be written later.
    pub async fn logged_since(
        &self,
        since: DateTime,
        limit: u32,
    ) -> Result<Vec<(LogItem, i64)>, AppError> {
        let find = async {
            let cursor = self
                .logs
                .find(doc! {"logged_at": {"$gte": since}})
                .sort(doc! {"logged_at": -1, "_id": -1})
                .limit(i64::from(limit))
                .max_time(self.timeout)
                .await?;
            cursor.try_collect::<Vec<RawDocumentBuf>>().await
        };
        let items = self.decode(bounded("mongodb", self.timeout + SERVER_FIRST, find).await?);
        Ok(items
            .into_iter()
            .map(|item| {
                let at = DateTime::parse_rfc3339_str(&item.logged_at)
                    .map(|d| d.timestamp_millis())
                    .unwrap_or(since.timestamp_millis());
                (item, at)
            })
            .collect())
    }

    /// Deletes every log, then their totals; returns how many logs. Not atomic: a batch that
    /// logs-writer stores between the two deletes stays in the log uncounted, so purge while no
    /// load runs (as the kit does between experiments).
    pub async fn purge(&self) -> Result<u64, AppError> {
        let deleted = bounded("mongodb", PURGE_TIMEOUT, self.logs.delete_many(doc! {}))
            .await
            .map(|r| r.deleted_count)?;
        bounded("mongodb", PURGE_TIMEOUT, self.totals.clear()).await?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_names_an_index_that_serves_its_order() {
        let f = |phase: Option<u8>, team1: Option<&str>, team2: Option<&str>| MatchFilter {
            phase,
            team1: team1.map(String::from),
            team2: team2.map(String::from),
        };
        let cases = [
            (f(None, None, None), "_id_"),
            (f(Some(1), None, None), "phase_1__id_-1"),
            (f(None, Some("A"), None), "team1_1__id_-1"),
            (f(Some(2), Some("A"), None), "team1_1__id_-1"),
            (f(None, None, Some("B")), "team2_1__id_-1"),
            (f(Some(2), None, Some("B")), "team2_1__id_-1"),
            (f(None, Some("A"), Some("B")), "team1_1_team2_1__id_-1"),
            (f(Some(3), Some("A"), Some("B")), "team1_1_team2_1__id_-1"),
        ];
        for (filter, name) in cases {
            assert_eq!(LogStore::index_for(&filter), name, "{filter:?}");
        }
    }
}
