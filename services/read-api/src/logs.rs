//! The logs in MongoDB (`{db}.logs`), as logs-writer writes them. `_id` is a UUIDv7 string, so
//! ordering by `_id` is ordering by time, and it is also the paging cursor.

use std::time::Duration;

use futures::TryStreamExt;
use model::push::LogItem;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

use crate::error::{bounded, AppError};
use crate::filter::MatchFilter;

/// Purging a large collection takes longer than a read; it still must not hang forever.
const PURGE_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// How many logs match the filters (all pages).
    pub total: u64,
    /// Pass as `before` for the next page; null when this page is the last.
    pub next: Option<String>,
}

#[derive(Clone)]
pub struct LogStore {
    db: Database,
    logs: Collection<LogDoc>,
    timeout: Duration,
}

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
            logs: db.collection("logs"),
            db,
            timeout,
        })
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

    /// The index the pages' time queries use; creating an existing one is a no-op.
    pub async fn ensure_index(&self) -> Result<(), AppError> {
        let index = IndexModel::builder().keys(doc! {"received_at": 1}).build();
        bounded("mongodb", self.timeout, self.logs.create_index(index))
            .await
            .map(|_| ())
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

    /// Up to `limit` logs older than `before` (newest first), and the count of all that match.
    pub async fn page(
        &self,
        filter: &MatchFilter,
        before: Option<&str>,
        limit: u32,
    ) -> Result<LogPage, AppError> {
        let base = Self::filter_doc(filter);
        let mut query = base.clone();
        if let Some(before) = before {
            query.insert("_id", doc! {"$lt": before});
        }
        let items = async {
            let cursor = self
                .logs
                .find(query)
                .sort(doc! {"_id": -1})
                .limit(i64::from(limit))
                .await?;
            cursor.try_collect::<Vec<LogDoc>>().await
        };
        let total = async {
            if base.is_empty() {
                // The collection's count, without scanning it.
                self.logs.estimated_document_count().await
            } else {
                self.logs.count_documents(base).await
            }
        };
        let (items, total) = tokio::join!(
            bounded("mongodb", self.timeout, items),
            bounded("mongodb", self.timeout, total)
        );
        let items: Vec<LogItem> = items?.into_iter().map(LogItem::from).collect();
        let next = (items.len() == limit as usize)
            .then(|| items.last().map(|i| i.id.clone()))
            .flatten();
        Ok(LogPage {
            items,
            total: total?,
            next,
        })
    }

    /// Every log in the collection.
    pub async fn count(&self) -> Result<u64, AppError> {
        bounded(
            "mongodb",
            self.timeout,
            self.logs.estimated_document_count(),
        )
        .await
    }

    /// The newest `limit` logs with an id after `after`, newest first: what the live tail
    /// pushes. Newest rather than oldest, so that under a load heavier than one push can carry
    /// the tail skips ahead (and says so) instead of falling ever further behind.
    pub async fn newest_after(&self, after: &str, limit: u32) -> Result<Vec<LogItem>, AppError> {
        let find = async {
            let cursor = self
                .logs
                .find(doc! {"_id": {"$gt": after}})
                .sort(doc! {"_id": -1})
                .limit(i64::from(limit))
                .await?;
            cursor.try_collect::<Vec<LogDoc>>().await
        };
        Ok(bounded("mongodb", self.timeout, find)
            .await?
            .into_iter()
            .map(LogItem::from)
            .collect())
    }

    /// Deletes every log; returns how many.
    pub async fn purge(&self) -> Result<u64, AppError> {
        bounded("mongodb", PURGE_TIMEOUT, self.logs.delete_many(doc! {}))
            .await
            .map(|r| r.deleted_count)
    }
}

/// The smallest UUIDv7 string of millisecond `ms`: every id made at or after `ms` sorts after it.
pub fn uuid_v7_floor(ms: u64) -> String {
    format!(
        "{:08x}-{:04x}-7000-8000-000000000000",
        (ms >> 16) & 0xffff_ffff,
        ms & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_sorts_before_ids_of_the_same_millisecond_and_after_older_ones() {
        let now = uuid::Uuid::now_v7();
        let (secs, nanos) = now.get_timestamp().unwrap().to_unix();
        let ms = secs * 1000 + u64::from(nanos) / 1_000_000;
        let id = now.hyphenated().to_string();
        assert!(uuid_v7_floor(ms) < id, "{} < {id}", uuid_v7_floor(ms));
        assert!(uuid_v7_floor(ms + 1) > id);
    }
}
