//! How many logs there are, and how many match a filter of `/api/logs`: read from the counts
//! logs-writer keeps per Kafka partition as the logs land (`{db}.log_totals`,
//! `model::log_layout`; written by `consumer::log_totals`), never by counting the collection
//! while those counts cover it. A filtered total they do not cover is counted along the page's
//! index, up to [`COUNT_CAP`].

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};

use crate::filter::MatchFilter;

/// A filtered total that logs-writer's counters do not cover (see [`Totals::counted`]) is
/// counted from the collection, and stops here and says so (`total_capped`): counting every
/// match of a broad filter on each page read would cost as much as the scan the indexes avoid.
pub const COUNT_CAP: u64 = 10_000;

/// A count as stored: logs-writer writes 64-bit integers; a store may answer in any width.
fn count_of(value: Option<&Bson>) -> u64 {
    value
        .and_then(|n| n.as_i64().or_else(|| n.as_i32().map(i64::from)))
        .unwrap_or(0)
        .max(0) as u64
}

#[derive(Clone)]
pub struct Totals {
    /// The stored documents counted per partition by logs-writer.
    totals: Collection<Document>,
    /// The logs themselves, counted only when the counts do not cover them.
    logs: Collection<Document>,
    /// `maxTimeMS` of every query.
    timeout: Duration,
}

impl Totals {
    pub fn new(db: &Database, timeout: Duration) -> Self {
        Totals {
            totals: db.collection(model::log_layout::LOG_TOTALS),
            logs: db.collection(model::log_layout::LOGS),
            timeout,
        }
    }

    /// The sum of the partitions' counts: a few small documents.
    pub async fn stored(&self) -> mongodb::error::Result<u64> {
        let partitions = self.partitions(doc! {"documents": 1}).await?;
        Ok(partitions
            .iter()
            .map(|d| count_of(d.get("documents")))
            .sum())
    }

    /// The logs matching `filter` as logs-writer counted them landing: exact, from a few
    /// documents. `None` when its counts per filter do not cover every stored log (some
    /// partition's `by_phase` adds up to less than its `documents`: a store written before those
    /// counts, or logs outside the fixture list); the caller counts then ([`Totals::count_capped`]).
    pub async fn counted(&self, filter: &MatchFilter) -> mongodb::error::Result<Option<u64>> {
        let Some(field) = model::log_layout::filter_field(
            filter.phase.map(i32::from),
            filter.team1.as_deref(),
            filter.team2.as_deref(),
        ) else {
            return self.stored().await.map(Some);
        };
        let (parent, key) = field.split_once('.').expect("a nested field");
        let mut projection = doc! {"documents": 1, model::log_layout::BY_PHASE: 1};
        // Naming a field inside `by_phase` as well would be a path collision.
        if parent != model::log_layout::BY_PHASE {
            projection.insert(&field, 1);
        }
        let mut total = 0;
        for d in self.partitions(projection).await? {
            let by_phase = d.get_document(model::log_layout::BY_PHASE).ok();
            let phases: u64 = by_phase
                .map(|p| p.values().map(|n| count_of(Some(n))).sum())
                .unwrap_or(0);
            if phases != count_of(d.get("documents")) {
                return Ok(None);
            }
            total += count_of(d.get_document(parent).ok().and_then(|p| p.get(key)));
        }
        Ok(Some(total))
    }

    /// How many logs match `filter` (a query document), counting at most [`COUNT_CAP`]. Walked
    /// newest first, in the order of the page's own index (filter fields, then `_id`):
    /// `count_documents` leaves the order to the store, and DocumentDB then reads the index
    /// unordered, 285-408 ms for a phase at 1,000,000 logs, against 17-21 ms this way
    /// (bench/store/2026-11-30-documentdb).
    pub async fn count_capped(&self, filter: Document) -> mongodb::error::Result<u64> {
        let pipeline = [
            doc! {"$match": filter},
            doc! {"$sort": {"_id": -1}},
            doc! {"$limit": COUNT_CAP as i64},
            doc! {"$count": "n"},
        ];
        let counted: Option<Document> = self
            .logs
            .aggregate(pipeline)
            .max_time(self.timeout)
            .await?
            .try_next()
            .await?;
        // No document at all when nothing matches.
        Ok(count_of(counted.as_ref().and_then(|d| d.get("n"))))
    }

    /// Forgets every count (after the logs were purged).
    pub async fn clear(&self) -> mongodb::error::Result<()> {
        self.totals.delete_many(doc! {}).await.map(drop)
    }

    /// Every partition's document in `log_totals`, with the fields of `projection`.
    async fn partitions(&self, projection: Document) -> mongodb::error::Result<Vec<Document>> {
        self.totals
            .find(doc! {})
            .projection(projection)
            .max_time(self.timeout)
            .await?
            .try_collect()
            .await
    }
}
